/**
 * The `sepi cm` subcommands for Multiplatform phones (docs/protocols/edos.md):
 *
 *   edos set (--mac MAC | --model 8841) (--profile-rule URL | --none | --fault 503|500|404|timeout|tls)
 *   edos clear (--mac MAC | --model 8841)
 *   edos list [--json]
 *   profile set --mac MAC [--file FILE] [--key SECRET]
 *   profile show --mac MAC [--json]
 *   profile clear --mac MAC
 *
 * Over the admin API when the companion serving --data runs; when none does, on the data
 * folder's database directly (the folder locked meanwhile, so no companion starts half-way):
 * both servers read the rules and profiles from the database on every request, so the change
 * holds from the companion's next start.
 */
import { onCompanionOrFolder } from './companion-or-folder.ts';
import { readFile } from 'node:fs/promises';
import type { Outcome } from '../cm/admin/contract.ts';
import { AdminClient, AdminClientError } from '../cm/admin-client.ts';
import type { ClearedView, EdosListView, EdosRuleRequest, EdosRuleView, ProfileRequest, ProfileView } from '../cm/edos/contract.ts';
import type { MppOperations } from '../cm/edos/operations.ts';
import { edosMac, edosModel, keyProblem, ruleProblem } from '../cm/edos/operations.ts';
import { EDOS_FAULTS, isEdosFault } from '../cm/edos/store.ts';
import { UsageError, required } from './args.ts';

/** The flags these subcommands add to `sepi cm`'s table. */
export const MPP_OPTIONS = {
  'profile-rule': { type: 'string' }, none: { type: 'boolean' }, fault: { type: 'string' }, file: { type: 'string' }, key: { type: 'string' },
} as const;

type Values = Record<string, string | boolean | undefined>;
type Out = (x: unknown, text: () => string) => void;

const str = (v: Values, k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);

/** What the subcommands ask, served by the running companion or by the database. */
interface MppApi {
  listRules(): Promise<EdosListView>;
  setRule(body: EdosRuleRequest): Promise<EdosRuleView>;
  clearRule(scope: 'mac' | 'model', target: string): Promise<ClearedView>;
  showProfile(mac: string): Promise<ProfileView>;
  setProfile(mac: string, body: ProfileRequest): Promise<ProfileView>;
  clearProfile(mac: string): Promise<ClearedView>;
}

const restApi = (c: AdminClient): MppApi => ({
  listRules: () => c.call('GET', '/v1/edos/rules'),
  setRule: (body) => c.call('POST', '/v1/edos/rules', body),
  clearRule: (scope, target) => c.call('DELETE', `/v1/edos/rules/${scope}/${encodeURIComponent(target)}`),
  showProfile: (mac) => c.call('GET', `/v1/mpp/profiles/${encodeURIComponent(mac)}`),
  setProfile: (mac, body) => c.call('POST', `/v1/mpp/profiles/${encodeURIComponent(mac)}`, body),
  clearProfile: (mac) => c.call('DELETE', `/v1/mpp/profiles/${encodeURIComponent(mac)}`),
});

async function directApi(ops: MppOperations): Promise<MppApi> {
  const { FAILURE_STATUS } = await import('../cm/admin/errors.ts');
  const value = <T>(o: Outcome<T>): T => {
    if (o.kind === 'ok') return o.value;
    throw new AdminClientError(FAILURE_STATUS[o.kind], o.message);
  };
  return {
    listRules: async () => value(ops.listRules()),
    setRule: async (body) => value(ops.setRule(body)),
    clearRule: async (scope, target) => value(ops.clearRule(scope, target)),
    showProfile: async (mac) => value(ops.showProfile(mac)),
    setProfile: async (mac, body) => value(ops.setProfile(mac, body)),
    clearProfile: async (mac) => value(ops.clearProfile(mac)),
  };
}

/** Runs `fn` against the running companion, or, when none serves the folder, against its database. */
async function withApi<T>(data: string, client: AdminClient, fn: (api: MppApi) => Promise<T>): Promise<T> {
  return onCompanionOrFolder(data, () => fn(restApi(client)), async (db) => {
    const [{ MppStore }, { MppOperations: Ops }, { SystemClock }] = await Promise.all([import('../cm/edos/store.ts'), import('../cm/edos/operations.ts'), import('../common/clock.ts')]);
    return fn(await directApi(new Ops({ store: new MppStore(db), clock: new SystemClock(), log: () => {} })));
  }, 'working on its database directly');
}

function macFlag(v: Values): string {
  const text = required(str(v, 'mac'), '--mac');
  if (!edosMac(text)) throw new UsageError(`--mac ${text} is not a MAC address (12 hex digits, e.g. 0022905c1a2b)`);
  return text;
}

/** `--mac MAC` or `--model M`, one of the two. */
function target(v: Values, usage: string): { mac: string } | { model: string } {
  const mac = str(v, 'mac');
  const model = str(v, 'model');
  if ((mac === undefined) === (model === undefined)) throw new UsageError(`give --mac MAC or --model MODEL, one of the two (${usage})`);
  if (mac !== undefined) return { mac: macFlag(v) };
  if (!edosModel(model!)) throw new UsageError(`--model ${model} is not a model (e.g. 8841 or CP-8841-3PCC)`);
  return { model: model! };
}

const ruleText = (r: EdosRuleView) => (r.answer === 'redirect' ? `redirect ${r.profileRule}` : r.answer === 'none' ? 'no provider' : `fault ${r.fault}`);

export async function mppCommand(what: string, verb: string | undefined, v: Values, data: string, client: AdminClient, out: Out): Promise<number | undefined> {
  if (what === 'edos') {
    const usage = 'sepi cm edos set (--mac MAC | --model 8841) (--profile-rule URL | --none | --fault 503|500|404|timeout|tls) | clear (--mac MAC | --model 8841) | list';
    if (verb === 'set') {
      const t = target(v, usage);
      const rule = str(v, 'profile-rule');
      const fault = str(v, 'fault');
      const kinds = [rule !== undefined && '--profile-rule', v['none'] === true && '--none', fault !== undefined && '--fault'].filter(Boolean);
      if (kinds.length !== 1) throw new UsageError(kinds.length ? `one answer at a time, not ${kinds.join(' and ')}` : 'an answer is needed: --profile-rule URL, --none or --fault 503|500|404|timeout|tls');
      if (fault !== undefined && !isEdosFault(fault)) throw new UsageError(`--fault must be ${EDOS_FAULTS.join(', ')}, not "${fault}"`);
      const problem = rule !== undefined ? ruleProblem(rule) : undefined;
      if (problem) throw new UsageError(`--profile-rule: ${problem.replace(/^profileRule /, '')}`);
      const body: EdosRuleRequest = { ...t, ...(rule !== undefined ? { profileRule: rule } : fault !== undefined ? { fault } : { none: true }) };
      const r = await withApi(data, client, (api) => api.setRule(body));
      out(r, () => `EDOS answers ${r.scope} ${r.target}: ${ruleText(r)}`);
      return 0;
    }
    if (verb === 'clear') {
      const t = target(v, usage);
      const [scope, id] = 'mac' in t ? (['mac', t.mac] as const) : (['model', t.model] as const);
      const r = await withApi(data, client, (api) => api.clearRule(scope, id));
      out(r, () => (r.cleared ? `cleared the EDOS rule for ${scope} ${id}` : `${scope} ${id} had no EDOS rule`));
      return 0;
    }
    if (verb === 'list' || verb === undefined) {
      const r = await withApi(data, client, (api) => api.listRules());
      out(r, () => {
        const head = r.running ? `EDOS at ${r.edosUrl}` : 'EDOS not running';
        const rows = r.rules.map((x) => `${x.scope.padEnd(6)} ${x.target.padEnd(13)} ${String(x.scope === 'mac' ? (r.requests[x.target] ?? 0) : '').padEnd(9)} ${ruleText(x)}`);
        const asked = Object.entries(r.requests).filter(([mac]) => !r.rules.some((x) => x.scope === 'mac' && x.target === mac)).map(([mac, n]) => `-      ${mac.padEnd(13)} ${String(n).padEnd(9)} (no rule of its own)`);
        return [head, ...(rows.length || asked.length ? ['FOR    WHICH         REQUESTS  ANSWER', ...rows, ...asked] : ['no rules: every phone gets "no provider"'])].join('\n');
      });
      return 0;
    }
    throw new UsageError(usage);
  }
  if (what === 'profile') {
    const usage = 'sepi cm profile set --mac MAC [--file FILE] [--key SECRET] | show --mac MAC | clear --mac MAC';
    if (verb === 'set') {
      const mac = macFlag(v);
      const file = str(v, 'file');
      const key = str(v, 'key');
      if (file === undefined && key === undefined) throw new UsageError(`give --file FILE, --key SECRET, or both (${usage})`);
      if (key !== undefined) {
        const problem = keyProblem(key);
        if (problem) throw new UsageError(`--${problem}`);
      }
      let profile: string | undefined;
      if (file !== undefined) {
        try {
          profile = (await readFile(file)).toString('base64');
        } catch (e) {
          throw new UsageError(`--file ${file}: ${(e as Error).message}`);
        }
      }
      const body: ProfileRequest = { ...(profile !== undefined ? { profile } : {}), ...(key !== undefined ? { key } : {}) };
      const r = await withApi(data, client, (api) => api.setProfile(mac, body));
      out(r, () => `profile of ${r.mac}: ${r.uploaded ? 'uploaded parameters merged over the generated ones' : 'generated'}, served ${r.encrypted ? 'encrypted with its key' : 'in the clear'}`);
      return 0;
    }
    if (verb === 'show') {
      const mac = macFlag(v);
      const r = await withApi(data, client, (api) => api.showProfile(mac));
      out(r, () => [
        `# ${r.mac}${r.deviceName ? ` (${r.deviceName})` : ' (not in the database)'}: ${r.served ? `served${r.encrypted ? ' encrypted' : ''}${r.uploaded ? ', with the uploaded parameters' : ''}` : 'not served (404: unknown MAC and autoregistration off)'}; secrets masked`,
        ...(r.note ? [`# ${r.note}`] : []),
        r.served ? r.xml.trimEnd() : '',
      ].filter(Boolean).join('\n'));
      return 0;
    }
    if (verb === 'clear') {
      const mac = macFlag(v);
      const r = await withApi(data, client, (api) => api.clearProfile(mac));
      out(r, () => (r.cleared ? `cleared the uploaded profile and key of ${mac}` : `${mac} had no uploaded profile or key`));
      return 0;
    }
    throw new UsageError(usage);
  }
  return undefined;
}
