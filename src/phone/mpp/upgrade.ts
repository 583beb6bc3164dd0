/**
 * A Multiplatform phone's firmware upgrade: `Upgrade_Rule` (reference onboarding-protocol.md
 * §3.1, "same syntax as Profile_Rule") names a load's signed list, e.g.
 * `http://prov.lab/fw/sepi88xx.1-0-1-0002.loads`; with `Upgrade_Enable` Yes and a load other
 * than the running one, the phone installs it the way an enterprise phone installs the load its
 * cnf.xml names (load-step.ts: the list checked against the firmware signer, every component
 * against the list, the inactive bank, a trial) — the components fetched from the same folder
 * as the list (`…/fw/sepi88xx.1-0-1-0002/lib/sepi/sepi.mjs`), over the rule's scheme (http,
 * https with the phone's roots, or tftp), with its `--uid`/`--pwd` and `--srv`, its query kept.
 * Checked after the boot's resync, before the line registers; a resync that changes the rule to
 * another load restarts the phone, which then upgrades. The load's own format is ours (docs/firmware.md), not Cisco's `.zip`/`.loads`.
 */
import { isIpv4 } from '../../wire/ipv4.ts';
import type { FlowContext } from '../flows/flow.ts';
import { type LoadOutcome, type LoadSource, loadStep } from '../load-step.ts';
import type { FetchResult } from '../provisioning-fetcher.ts';
import type { MppParameters } from './parameters.ts';
import { type ProfileFetchDeps, type ProfileTarget, fetchProfile, provisioningSrvName } from './profile-fetch.ts';
import { orderSrv } from '../../common/srv-order.ts';
import type { RuleOptions } from '../../wire/profile-rule.ts';
import type { Resync } from './resync.ts';

export type UpgradeOutcome = LoadOutcome | 'none';

/** The rule's choice now: the load it names and where its folder is, a reason it names none, or nothing (no rule, no alternative). */
type Wanted = { ok: true; wanted: string; target: ProfileTarget; folder: string; query: string; options: RuleOptions } | { ok: false; reason: string; wanted: string };

function ruleWants(params: MppParameters, resync: Resync): Wanted | undefined {
  const rule = params.get('Upgrade_Rule').trim();
  if (!rule || !params.yes('Upgrade_Enable')) return undefined;
  const chosen = resync.target(rule, 'power-up');
  if (!chosen) return undefined;
  if (!chosen.ok) return { ok: false, reason: chosen.reason, wanted: '' };
  const { target, options } = chosen;
  // The folder and the file from the path without its query (which may hold a `/`); the query
  // goes with every file asked for, as with the list.
  const at = target.path.search(/[?#]/);
  const path = at < 0 ? target.path : target.path.slice(0, at);
  const query = at < 0 ? '' : target.path.slice(at);
  const slash = path.lastIndexOf('/');
  const file = path.slice(slash + 1);
  const wanted = /^(.+)\.loads$/.exec(file)?.[1];
  if (!wanted) return { ok: false, reason: `${file || path} is not a load's .loads list`, wanted: '' };
  return { ok: true, wanted, target, folder: path.slice(0, slash + 1), query, options };
}

/**
 * A resync changed Upgrade_Rule or Upgrade_Enable: restart (and upgrade at the boot) only when
 * the rule now names a load other than the running one — a provider starting to send the rule
 * for the load its phones run restarts none of them.
 */
export function upgradeWanted(names: string[], params: MppParameters, resync: Resync, active: string): boolean {
  if (!names.some((n) => n === 'Upgrade_Rule' || n === 'Upgrade_Enable')) return false;
  const w = ruleWants(params, resync);
  return w?.ok === true && w.wanted !== active;
}

export async function upgradeStep(ctx: FlowContext, params: MppParameters, resync: Resync, fetch: ProfileFetchDeps, signal: AbortSignal): Promise<UpgradeOutcome> {
  const active = ctx.model.activeLoad;
  const refuse = (wantedLoad: string, reason: string): UpgradeOutcome => {
    ctx.report({ step: 'load', state: 'fail', ms: 0, message: `Upgrade_Rule: ${reason}; keeping ${active}`, wantedLoad, activeLoad: active, reason });
    return 'kept';
  };
  const w = ruleWants(params, resync);
  if (!w) return 'none';
  if (!w.ok) return refuse(w.wanted, w.reason);
  const { wanted, target, folder, query, options } = w;
  if (wanted === active) return 'none';
  // The address the events name: the host's, or with --srv the first target's.
  let server = target.host;
  if (!isIpv4(server)) {
    try {
      const host = options.srv && target.scheme !== 'tftp' ? orderSrv(await ctx.network.resolveSrv(provisioningSrvName(target.scheme, target.host), fetch.dns), () => 0)[0]?.name : target.host;
      server = host ? ((await ctx.network.resolve4(host, fetch.dns))[0] ?? '') : '';
    } catch {
      server = '';
    }
    if (!server) return refuse(wanted, `${target.host} not resolved${options.srv ? ' (SRV)' : ''}`);
  }
  const auth = { ...(options.uid !== undefined ? { uid: options.uid } : {}), ...(options.pwd !== undefined ? { pwd: options.pwd } : {}), srv: options.srv };
  const source: LoadSource = {
    server,
    fetch: async (name, s): Promise<FetchResult> => {
      const got = await fetchProfile(fetch, { ...target, path: `${folder}${name}${query}` }, auth, s);
      if (got.kind === 'ok') return { kind: 'found', data: got.bytes, via: got.via === 'tftp' ? 'tftp' : 'http', detail: got.via };
      return got.notFound ? { kind: 'absent', detail: got.reason } : { kind: 'failed', detail: got.reason };
    },
  };
  return loadStep(ctx, wanted, source, signal);
}
