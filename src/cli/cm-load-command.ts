/**
 * The `sepi cm` subcommands for firmware loads (docs/firmware.md):
 *
 *   load add PATH…                       a load folder (make firmware's), a .loads with its files beside it,
 *                                        Cisco's .loads/.sbn files: copied into the TFTP root
 *   load list [--json]                   the loads there, complete or not; each model's load; phones' own
 *   device-defaults set --model 8841 --load ID      the model's loadInformationNNN in the default file ('' removes it)
 *   phone set MAC --load ID              the phone's own loadInformation ('' removes it)
 *   phone add … --load ID                (cm-command.ts) the same, for the phone just added
 *
 * Over the admin API when the companion serving --data runs; when none does, on the data
 * folder directly (locked meanwhile, as cm-mpp-command.ts does): the files are generated from
 * the database at every request, so a change holds from the companion's next start.
 */
import { onCompanionOrFolder } from './companion-or-folder.ts';
import { resolve } from 'node:path';
import type { Outcome } from '../cm/admin/contract.ts';
import type { DefaultLoadRequest, DefaultLoadView, LoadAddView, LoadListView, LoadOperations, PhoneLoadRequest, PhoneLoadView } from '../cm/admin/loads.ts';
import { AdminClient, AdminClientError } from '../cm/admin-client.ts';
import { loadIdProblem } from '../cm/loads.ts';
import { printable } from '../common/printable.ts';
import { UsageError, required } from './args.ts';

/** The flags these subcommands add to `sepi cm`'s table. */
export const LOAD_OPTIONS = { load: { type: 'string' } } as const;

type Values = Record<string, string | boolean | undefined>;
type Out = (x: unknown, text: () => string) => void;

interface LoadApi {
  list(): Promise<LoadListView>;
  add(paths: string[]): Promise<LoadAddView>;
  setDefault(body: DefaultLoadRequest): Promise<DefaultLoadView>;
  setPhone(device: string, body: PhoneLoadRequest): Promise<PhoneLoadView>;
}

const restApi = (c: AdminClient): LoadApi => ({
  list: () => c.call('GET', '/v1/loads'),
  add: (paths) => c.call('POST', '/v1/loads', { paths }),
  setDefault: (body) => c.call('POST', '/v1/device-defaults/load', body),
  setPhone: (device, body) => c.call('POST', `/v1/phones/${encodeURIComponent(device)}/load`, body),
});

async function directApi(ops: LoadOperations): Promise<LoadApi> {
  const { FAILURE_STATUS } = await import('../cm/admin/errors.ts');
  const value = <T>(o: Outcome<T>): T => {
    if (o.kind === 'ok') return o.value;
    throw new AdminClientError(FAILURE_STATUS[o.kind], o.message);
  };
  return {
    list: async () => value(await ops.list()),
    add: async (paths) => value(await ops.add({ paths })),
    setDefault: async (body) => value(ops.setDefault(body)),
    setPhone: async (device, body) => value(ops.setPhone(device, body)),
  };
}

/** Runs `fn` against the running companion, or, when none serves the folder, on the folder itself. */
async function withApi<T>(data: string, client: AdminClient, fn: (api: LoadApi) => Promise<T>): Promise<T> {
  return onCompanionOrFolder(data, () => fn(restApi(client)), async (db) => {
    const [{ LoadOperations: Ops }, { SystemClock }] = await Promise.all([import('../cm/admin/loads.ts'), import('../common/clock.ts')]);
    return fn(await directApi(new Ops({ db, dataDir: data, configured: {}, clock: new SystemClock(), log: () => {} })));
  }, "working on its folder directly (the configuration file's loadInformation is not known here)");
}

/** `--load ID` checked here, so a phone is not added with a load the companion would refuse. */
export function loadFlag(v: Values): string | undefined {
  const load = typeof v['load'] === 'string' ? v['load'] : undefined;
  const problem = load ? loadIdProblem(load) : undefined;
  if (problem) throw new UsageError(`--load ${problem}`);
  return load;
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
const rootNote = (inRoot: boolean, load: string) => (load && !inRoot ? ` (no ${load}.loads in the TFTP root yet: sepi cm load add PATH)` : '');

/** Sets a phone's own load (after `phone add … --load`). */
export async function setPhoneLoad(data: string, client: AdminClient, device: string, load: string, out: Out): Promise<void> {
  const r = await withApi(data, client, (api) => api.setPhone(device, { load }));
  out(r, () => `${r.deviceName}: load ${r.load || `its model's (${r.effective || 'none'})`}${rootNote(r.inTftpRoot, r.effective)}`);
}

export async function loadCommand(what: string, verb: string | undefined, positionals: string[], v: Values, data: string, client: AdminClient, out: Out): Promise<number | undefined> {
  if (what === 'load') {
    if (verb === 'add') {
      const paths = positionals.slice(2);
      if (paths.length === 0) throw new UsageError('sepi cm load add PATH… (a load folder, a .loads file, Cisco .loads/.sbn files)');
      const r = await withApi(data, client, (api) => api.add(paths.map((p) => resolve(p))));
      out(r, () => r.added.map((a) => printable(a.kind === 'sepi'
        ? `added load ${a.load}: ${a.files} files, ${mib(a.bytes)}, signed by ${a.signer} (tftp-root/${a.name}, components in tftp-root/${a.load}/)`
        : a.kind === 'cisco' ? `added ${a.name}: load ${a.load} as it is, signed by ${a.signer}` : `added ${a.name}: ${a.bytes} bytes, as it is`)).join('\n'));
      return 0;
    }
    if (verb === 'list' || verb === undefined) {
      const r = await withApi(data, client, (api) => api.list());
      out(r, () => {
        const loads = r.loads.length
          ? ['LOAD                            KIND   FILES  SIZE       STATE', ...r.loads.map((l) => printable(`${l.id.padEnd(31)} ${l.kind.padEnd(6)} ${String(l.files).padStart(5)}  ${mib(l.bytes).padEnd(10)} ${l.complete ? `complete, signed by ${l.signer}` : `incomplete: ${l.missing.join(', ')}`}`))]
          : ['no loads in the TFTP root (sepi cm load add PATH)'];
        const defaults = r.defaults.map((d) => `model ${(d.model || String(d.code)).padEnd(8)} loadInformation${d.code} ${d.load} (${d.from === 'config' ? 'configuration file' : 'Device Defaults'})`);
        const phones = r.phones.map((p) => `phone ${p.deviceName} ${p.load}`);
        return [...loads, ...(defaults.length || phones.length ? [''] : []), ...defaults, ...phones].join('\n');
      });
      return 0;
    }
    throw new UsageError('sepi cm load add PATH… | list [--json]');
  }
  if (what === 'device-defaults' && verb === 'set' && typeof v['load'] === 'string') {
    const model = required(typeof v['model'] === 'string' ? v['model'] : undefined, '--model');
    const load = v['load'] === '' ? '' : loadFlag(v)!;
    const r = await withApi(data, client, (api) => api.setDefault({ model, load }));
    out(r, () => `${r.model}: loadInformation${r.code} ${r.load || 'none'}${r.from === 'config' ? ' (the configuration file\'s)' : ''}${rootNote(r.inTftpRoot, r.load)}`);
    // `--onboarding` too: that part is the onboarding command's.
    return v['onboarding'] === undefined ? 0 : undefined;
  }
  if (what === 'phone' && verb === 'set') {
    const device = required(positionals[2], 'MAC');
    if (typeof v['load'] !== 'string') throw new UsageError('sepi cm phone set MAC --load ID (\'\' for its model\'s load)');
    await setPhoneLoad(data, client, device, v['load'] === '' ? '' : loadFlag(v)!, out);
    return 0;
  }
  return undefined;
}
