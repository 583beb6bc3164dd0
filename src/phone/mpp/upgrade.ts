/**
 * A Multiplatform phone's firmware upgrade: `Upgrade_Rule` (reference onboarding-protocol.md
 * §3.1, "same syntax as Profile_Rule") names a load's signed list, e.g.
 * `http://prov.lab/fw/sepi88xx.1-0-1-0002.loads`; with `Upgrade_Enable` Yes and a load other
 * than the running one, the phone installs it the way an enterprise phone installs the load its
 * cnf.xml names (load-step.ts: the list checked against the firmware signer, every component
 * against the list, the inactive bank, a trial) — the components fetched from the same folder
 * as the list (`…/fw/sepi88xx.1-0-1-0002/lib/sepi/sepi.mjs`), over the rule's scheme (http,
 * https with the phone's roots, or tftp), with its `--uid`/`--pwd`. Checked after the boot's
 * resync, before the line registers; a resync that changes the rule restarts the phone, which
 * then upgrades. The load's own format is ours (docs/firmware.md), not Cisco's `.zip`/`.loads`.
 */
import { isIpv4 } from '../../wire/ipv4.ts';
import type { FlowContext } from '../flows/flow.ts';
import { type LoadOutcome, type LoadSource, loadStep } from '../load-step.ts';
import type { FetchResult } from '../provisioning-fetcher.ts';
import type { MppParameters } from './parameters.ts';
import { type ProfileFetchDeps, fetchProfile } from './profile-fetch.ts';
import type { Resync } from './resync.ts';

export type UpgradeOutcome = LoadOutcome | 'none';

/** Names an Upgrade_Rule change brings: the phone restarts to upgrade at its next boot. */
export const upgradeChanged = (names: string[]): boolean => names.some((n) => n === 'Upgrade_Rule' || n === 'Upgrade_Enable');

export async function upgradeStep(ctx: FlowContext, params: MppParameters, resync: Resync, fetch: ProfileFetchDeps, signal: AbortSignal): Promise<UpgradeOutcome> {
  const rule = params.get('Upgrade_Rule').trim();
  if (!rule || !params.yes('Upgrade_Enable')) return 'none';
  const active = ctx.model.activeLoad;
  const refuse = (wantedLoad: string, reason: string): UpgradeOutcome => {
    ctx.report({ step: 'load', state: 'fail', ms: 0, message: `Upgrade_Rule: ${reason}; keeping ${active}`, wantedLoad, activeLoad: active, reason });
    return 'kept';
  };
  const chosen = resync.target(rule, 'power-up');
  if (!chosen) return 'none';
  if (!chosen.ok) return refuse('', chosen.reason);
  const { target, options } = chosen;
  const slash = target.path.lastIndexOf('/');
  const file = target.path.slice(slash + 1).replace(/\?.*$/, '');
  const wanted = /^(.+)\.loads$/.exec(file)?.[1];
  if (!wanted) return refuse('', `${file || target.path} is not a load's .loads list`);
  if (wanted === active) return 'none';
  let server = target.host;
  if (!isIpv4(server)) {
    try {
      server = (await ctx.network.resolve4(target.host, fetch.dns))[0] ?? '';
    } catch {
      server = '';
    }
    if (!server) return refuse(wanted, `${target.host} not resolved`);
  }
  const folder = target.path.slice(0, slash + 1);
  const auth = { ...(options.uid !== undefined ? { uid: options.uid } : {}), ...(options.pwd !== undefined ? { pwd: options.pwd } : {}), srv: options.srv };
  const source: LoadSource = {
    server,
    fetch: async (name, s): Promise<FetchResult> => {
      const got = await fetchProfile(fetch, { ...target, path: `${folder}${name}` }, auth, s);
      if (got.kind === 'ok') return { kind: 'found', data: got.bytes, via: got.via === 'tftp' ? 'tftp' : 'http', detail: got.via };
      return got.notFound ? { kind: 'absent', detail: got.reason } : { kind: 'failed', detail: got.reason };
    },
  };
  return loadStep(ctx, wanted, source, signal);
}
