/**
 * The registration step of a boot: the configuration's call manager group resolved to
 * addresses, one SipRegistration kept running, and what it says turned into step events.
 * Returns only when every member refused the phone (the flow then backs off and reads the
 * configuration again); a registered phone stays here until the cycle's signal aborts.
 */
import type { ServiceAction } from '../wire/cisco-sip.ts';
import type { MacAddress } from '../wire/mac.ts';
import type { PhoneModel } from '../wire/models.ts';
import type { Clock } from '../common/clock.ts';
import type { NetworkPort } from './ports.ts';
import type { FlowContext } from './flows/flow.ts';
import { type NetContext, type Provisioned, type Report, stepTimer } from './provisioning.ts';
import { type RegistrarMember, type RegistrationEvent, type RegistrationOutcome, SipRegistration, type SipLineFlow } from './sip-registration.ts';

export interface RegistrationStepOptions {
  mac: MacAddress;
  model: PhoneModel;
  network: NetworkPort;
  clock: Clock;
  localAddress: string | undefined;
  waitScale: number;
  report: Report;
  /** Registered, or lost again: the flow follows its registered state from these. */
  onRegistered: (registered: boolean) => void;
  onServiceControl: (action: ServiceAction) => void;
  /** The registered line's user agent and connection (for calls), and undefined when it goes. */
  onLine?: ((line: SipLineFlow | undefined) => void) | undefined;
}

/**
 * What every registration of a boot flow takes from its cycle: who the phone is, its sockets and
 * clock, and a service-control NOTIFY turned into the reset or restart it asks for.
 */
export function fromCycle(ctx: FlowContext): Pick<RegistrationStepOptions, 'mac' | 'model' | 'network' | 'clock' | 'localAddress' | 'waitScale' | 'onServiceControl'> {
  return {
    mac: ctx.mac, model: ctx.model, network: ctx.network, clock: ctx.clock, localAddress: ctx.localAddress, waitScale: ctx.waitScale,
    onServiceControl: (action) => {
      if (action === 'reset') ctx.reboot('reset', 'reset-reset');
      else if (action === 'restart') ctx.reboot('restart', 'reset-restart');
    },
  };
}

const FALLBACK_SIP_STACK = { timerRegisterExpires: 3600, timerRegisterDelta: 5, timerKeepAliveExpires: 120, timerT1: 500, timerT2: 4000 };

const cmName = (m: RegistrarMember) => (m.name === m.address ? m.address : `${m.name} (${m.address})`);
const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export async function register(o: RegistrationStepOptions, p: Provisioned, net: NetContext, lastReason: string, signal: AbortSignal): Promise<RegistrationOutcome> {
  const elapsed = stepTimer(o.clock);
  const members: RegistrarMember[] = [];
  for (const m of p.config.callManagers) {
    try {
      const [address] = await o.network.resolve4(m.host, net.dns);
      if (address) members.push({ name: m.host, address, port: m.sipPort, priority: m.priority });
    } catch (e) {
      const reason = (e as Error).message;
      o.report({ step: 'register', state: 'progress', ms: elapsed(), message: `CM ${m.host} not resolved: ${reason}`, registration: 'unresolved', host: m.host, reason });
    }
  }
  const device = p.config.kind === 'device' ? p.config : undefined;
  const reg = new SipRegistration({
    mac: o.mac,
    model: o.model,
    network: o.network,
    clock: o.clock,
    members,
    line: device?.lines[0],
    sipStack: device?.sipStack ?? FALLBACK_SIP_STACK,
    lastReason,
    localAddress: o.localAddress,
    waitScale: o.waitScale,
    // A registration of an aborted cycle may still report on its way out; nobody needs to hear it.
    onEvent: (e) => (signal.aborted ? undefined : reportRegistration(o, e, elapsed, p)),
    onServiceControl: o.onServiceControl,
    ...(o.onLine ? { onLine: o.onLine } : {}),
  });
  o.report({ step: 'register', state: 'start', ms: 0, message: `Registering ${reg.user}`, user: reg.user, callId: reg.callId });
  if (members.length === 0) {
    return { kind: 'rejected', status: 0, reason: 'no call manager address could be resolved', member: { name: p.config.callManagers[0]?.host ?? '?', address: '', port: 0, priority: 0 } };
  }
  return reg.run(signal);
}

function reportRegistration(o: RegistrationStepOptions, e: RegistrationEvent, elapsed: () => number, p: Provisioned): void {
  const r = o.report;
  switch (e.kind) {
    case 'connecting':
      return r({ step: 'register', state: 'progress', ms: elapsed(), message: `Connecting to CM ${cmName(e.member)}:${e.member.port}`, registration: 'connecting', cm: e.member.address, port: e.member.port });
    case 'connect-failed':
      return r({ step: 'register', state: 'progress', ms: elapsed(), message: `CM ${cmName(e.member)} not reachable: ${e.reason}`, registration: 'connect-failed', cm: e.member.address, failed: true, reason: e.reason });
    case 'challenged':
      return r({ step: 'register', state: 'progress', ms: elapsed(), message: `CM asks for a password (realm ${e.realm})`, registration: 'challenged', cm: e.member.address, realm: e.realm });
    case 'registered':
      r({
        step: 'register', state: 'done', ms: elapsed(), message: `Registered ${e.user} with ${cmName(e.member)}`,
        cm: e.member.address, line: e.user, expires: e.expires, configKind: p.configKind ?? p.config.kind, file: p.file, priority: e.member.priority,
        ...lineLook(p, e.user),
      });
      return o.onRegistered(true);
    case 'refreshed':
      return r({ step: 'register', state: 'progress', ms: 0, message: `Registration refreshed (${e.expires} s)`, registration: 'refreshed', cm: e.member.address, expires: e.expires, refreshed: true });
    case 'rejected':
      return r({ step: 'register', state: 'progress', ms: elapsed(), message: `CM ${cmName(e.member)} refused: ${e.status} ${e.reason}`, registration: 'rejected', cm: e.member.address, status: e.status, reason: e.reason });
    case 'lost':
      r({ step: 'register', state: 'fail', ms: 0, message: `Lost CM ${cmName(e.member)}: ${e.reason}`, cm: e.member.address, reason: e.reason });
      return o.onRegistered(false);
    case 'backup':
      if (e.ok) return;
      return r({ step: 'register', state: 'progress', ms: 0, message: `Backup CM ${cmName(e.member)} keep-alive failed: ${e.detail}`, registration: 'backup', backup: e.member.address, reason: e.detail });
    case 'service-control':
      return r({
        step: 'register', state: 'progress', ms: 0, message: e.accepted ? `CM requests ${e.action}` : `Ignored ${e.action} request for another registration`,
        registration: 'service-control', serviceControl: e.action, accepted: e.accepted,
      });
    case 'retry':
      return r({ step: 'register', state: 'retry', ms: 0, message: `${capitalize(e.reason)}; retry in ${e.inSecs} s`, registration: 'unanswered', inSecs: e.inSecs });
  }
}

/** The label and speed dials the configuration gives the registered line (a universal template's, say), when it gives any. */
function lineLook(p: Provisioned, user: string): { label?: string; speedDials?: Array<{ button: number; number: string; label: string }> } {
  if (p.config.kind !== 'device') return {}; // the default file has no lines of the phone's own
  const line = p.config.lines.find((l) => l.dn === user);
  const speedDials = p.config.speedDials ?? [];
  return {
    ...(line?.label ? { label: line.label } : {}),
    ...(line && speedDials.length ? { speedDials: speedDials.map((d) => ({ button: d.button, number: d.number, label: d.label })) } : {}),
  };
}
