/**
 * Calls between registered devices, routed by directory number: a back-to-back user agent
 * (docs/architecture.md says why not a proxy). An INVITE to `sip:<DN>@companion` from a
 * registered device is answered by the companion's UA (leg A) and a new INVITE goes to the
 * device registered on that DN over its own connection (leg B); provisional and final answers,
 * BYE from either side, CANCEL, re-INVITE and INFO/NOTIFY in the dialog are carried from one
 * leg to the other. Bodies (SDP) pass unchanged, so media flows phone to phone.
 *
 *   404 the DN belongs to no device;  480 its device is not registered;  403 the caller is not
 *   registered (on the connection the INVITE came over);  486 a device past maxCallsPerDevice.
 *
 * Each leg has its own Call-ID and tags; the calling device's DN is presented in leg B's From.
 */
import type { Clock } from '../../common/clock.ts';
import { type BodyOptions, type Dialog, type IncomingInvite, type IncomingRequest, type OutgoingInvite, type SipSource, type UserAgent, isLocalResponse } from '../../sip/index.ts';
import { type SipHeaders, type SipRequest, type SipResponse, header, parseNameAddr, parseSipUri } from '../../wire/sip.ts';
import type { CompanionDb } from '../db.ts';
import { Tally } from '../limits.ts';
import { flowKey } from './flows.ts';

/** A leg that rings this long unanswered is cancelled and the caller told 480. */
const NO_ANSWER_MS = 180_000;
/** Headers a request in the dialog keeps when it crosses to the other leg. */
const CARRIED = ['event', 'subscription-state', 'info-package', 'content-disposition'];
/** Requests in a dialog that cross to the other leg; others get 501. */
const FORWARDED = new Set(['INFO', 'NOTIFY', 'OPTIONS', 'MESSAGE', 'UPDATE']);

export interface CallLogEntry {
  method: string;
  device: string;
  from: string;
  status: number;
  detail: string;
}

export interface CallRouterDeps {
  ua: UserAgent;
  db: CompanionDb;
  clock: Clock;
  /** The companion's address, for the URIs of leg B's From and To. */
  host: string;
  port: number;
  maxCallsPerDevice: number;
  /** Devices currently registered over the connection a request came in on. */
  callers(source: SipSource): string[];
  /** Where a device is reachable: its registered Contact and its connection; undefined when not registered. */
  reach(device: string): { contact: string; host: string; port: number } | undefined;
  log(e: CallLogEntry): void;
  /** The self-provisioning IVR (src/cm/ivr/): calls to its extension are its own, not routed. */
  ivr?: { extension(): string | undefined; take(inv: IncomingInvite, caller: { device: string; dn: string }): Promise<void> };
}

interface Party {
  device: string;
  dn: string;
  /** The connection's `host:port`. */
  peer: string;
}

class Call {
  readonly caller: Party;
  readonly callee: Party;
  readonly a: IncomingInvite;
  b: OutgoingInvite | undefined;
  aDialog: Dialog | undefined;
  bDialog: Dialog | undefined;
  over = false;
  timedOut = false;

  constructor(caller: Party, callee: Party, a: IncomingInvite) {
    this.caller = caller;
    this.callee = callee;
    this.a = a;
  }

  get name(): string {
    return `${this.caller.dn} → ${this.callee.dn}`;
  }

  /** Leg A's dialog: made when the 200 went out, tied once the ACK came. */
  get aSide(): Dialog | undefined {
    return this.aDialog ?? this.a.dialog;
  }

  /** The dialog across from `d`. */
  other(d: Dialog): Dialog | undefined {
    return d === this.bDialog ? this.aSide : d === this.aSide ? this.bDialog : undefined;
  }
}

const bodyOf = (m: SipResponse | SipRequest): BodyOptions => {
  const contentType = header(m, 'content-type');
  return m.body.length && contentType ? { body: m.body, contentType } : {};
};

export class CallRouter {
  private readonly d: CallRouterDeps;
  private readonly calls = new Set<Call>();
  private readonly byDialog = new Map<Dialog, Call>();
  /** Calls by the connection of either party: a closed connection ends its own calls without a walk of all of them. */
  private readonly byPeer = new Map<string, Set<Call>>();
  private readonly perDevice = new Tally();

  constructor(d: CallRouterDeps) {
    this.d = d;
    d.ua.onInvite = (inv) => this.onInvite(inv);
    d.ua.onReinvite = (inv) => this.onReinvite(inv);
    d.ua.onDialogRequest = (req) => this.onDialogRequest(req);
  }

  /** Calls in progress (ringing or connected). */
  get active(): number {
    return this.calls.size;
  }

  private refuse(inv: IncomingInvite, status: number, device: string, detail: string, warning?: string): void {
    inv.reject(status, warning ? { headers: [['Warning', `399 ${this.d.host} "${warning}"`]] } : {});
    this.d.log({ method: 'INVITE', device, from: flowKey(inv.source), status, detail });
  }

  private async onInvite(inv: IncomingInvite): Promise<void> {
    const req = inv.request;
    const from = parseNameAddr(header(req, 'from') ?? '');
    const fromUser = parseSipUri(from?.uri ?? '')?.user;
    const devices = this.d.callers(inv.source);
    const callerDevice = devices.find((dev) => this.d.db.phone(dev)?.dn === fromUser) ?? devices[0];
    const callerPhone = callerDevice === undefined ? undefined : this.d.db.phone(callerDevice);
    if (!callerDevice || !callerPhone) return this.refuse(inv, 403, '', `call to ${req.uri} from a connection with no registered device`, 'Register before calling');
    const dn = parseSipUri(req.uri)?.user ?? '';
    if (dn && this.d.ivr && dn === this.d.ivr.extension()) return this.d.ivr.take(inv, { device: callerDevice, dn: callerPhone.dn });
    const calleePhone = dn ? this.d.db.phoneByDn(dn) : undefined;
    if (!calleePhone) return this.refuse(inv, 404, callerDevice, `call ${callerPhone.dn} → ${dn || req.uri}: no such directory number`);
    const target = this.d.reach(calleePhone.deviceName);
    if (!target) return this.refuse(inv, 480, callerDevice, `call ${callerPhone.dn} → ${dn}: ${calleePhone.deviceName} is not registered`);
    const max = this.d.maxCallsPerDevice;
    const busy = [callerDevice, calleePhone.deviceName].find((dev) => this.perDevice.of(dev) >= max);
    if (busy) return this.refuse(inv, 486, callerDevice, `call ${callerPhone.dn} → ${dn}: ${busy} is in ${max} calls already`);

    const call = new Call(
      { device: callerDevice, dn: callerPhone.dn, peer: flowKey(inv.source) },
      { device: calleePhone.deviceName, dn, peer: flowKey(target) },
      inv,
    );
    this.calls.add(call);
    for (const peer of [call.caller.peer, call.callee.peer]) {
      const on = this.byPeer.get(peer);
      if (on) on.add(call);
      else this.byPeer.set(peer, new Set([call]));
    }
    this.perDevice.add(call.caller.device);
    this.perDevice.add(call.callee.device);
    const display = from?.display ? `"${from.display.replace(/["\\]/g, '\\$&')}" ` : '';
    const out = this.d.ua.invite({
      uri: target.contact,
      from: `${display}<sip:${callerPhone.dn}@${this.d.host}>`,
      to: `<sip:${dn}@${this.d.host}>`,
      destination: { transport: 'TCP', host: target.host, port: target.port },
      ...bodyOf(req),
      onProvisional: (r) => {
        if (r.status > 100 && !call.over) void inv.progress(r.status, bodyOf(r)).catch(() => {});
      },
    });
    call.b = out;
    inv.oncancel = () => {
      this.d.log({ method: 'CANCEL', device: callerDevice, from: call.caller.peer, status: 487, detail: `call ${call.name}: cancelled by the caller` });
      out.cancel();
    };
    const cancelNoAnswer = this.d.clock.timer(NO_ANSWER_MS, () => {
      call.timedOut = true;
      out.cancel();
    });
    const { response, dialog } = await out.result;
    cancelNoAnswer();
    if (dialog) {
      call.bDialog = dialog;
      this.byDialog.set(dialog, call);
      dialog.onEnd((why) => this.end(call, why === 'bye-received' ? `${dn} hung up` : `leg to ${dn} ${why}`));
      if (call.over || (inv.state !== 'pending' && inv.state !== 'early')) return this.end(call, 'the caller went first');
      await this.answer(call, response);
      return;
    }
    this.failed(call, response);
  }

  /** Leg B answered: answer leg A with its body, and tie the two dialogs once A's ACK (or BYE) came. */
  private async answer(call: Call, response: SipResponse): Promise<void> {
    const inv = call.a;
    this.d.log({ method: 'INVITE', device: call.caller.device, from: call.caller.peer, status: response.status, detail: `call ${call.name}: answered` });
    let failure: string | undefined;
    try {
      await inv.accept(bodyOf(response));
    } catch (e) {
      failure = (e as Error).message;
    }
    // Until here a BYE from B is carried by end(), which BYEs A's dialog as it stands; a BYE
    // from A before its ACK has ended A's dialog already, and onEnd then runs at once.
    const a = inv.dialog;
    if (a && inv.state !== 'rejected' && inv.state !== 'cancelled') {
      call.aDialog = a;
      this.byDialog.set(a, call);
      a.onEnd((why) => this.end(call, why === 'bye-received' ? `${call.caller.dn} hung up` : `leg to ${call.caller.dn} ${why}`));
    }
    if (failure) this.end(call, failure);
  }

  /** Leg B failed: tell leg A why, in the status it understands. */
  private failed(call: Call, response: SipResponse): void {
    const inv = call.a;
    let status = response.status;
    let why = `${response.status} ${response.reason}`;
    if (call.timedOut) [status, why] = [480, `no answer within ${NO_ANSWER_MS / 1000} s`];
    else if (isLocalResponse(response)) status = status === 408 ? 408 : 480;
    else if (status === 401 || status === 407) status = 403; // the callee wants credentials the companion does not have
    if (inv.state === 'pending' || inv.state === 'early') {
      const keep: SipHeaders = [];
      for (const n of ['retry-after', 'warning']) {
        const v = header(response, n);
        if (v !== undefined && !isLocalResponse(response)) keep.push([n === 'warning' ? 'Warning' : 'Retry-After', v]);
      }
      inv.reject(status, { headers: keep });
    }
    const told = inv.tx.lastResponse?.status ?? status;
    this.d.log({ method: 'INVITE', device: call.caller.device, from: call.caller.peer, status: told, detail: `call ${call.name}: ${why}` });
    this.end(call, why, false);
  }

  /** Ends a call once: both dialogs BYEd where still up, an unanswered leg cancelled or refused. */
  private end(call: Call, why: string, log = true): void {
    if (call.over) return;
    call.over = true;
    this.calls.delete(call);
    for (const peer of [call.caller.peer, call.callee.peer]) {
      const on = this.byPeer.get(peer);
      on?.delete(call);
      if (on?.size === 0) this.byPeer.delete(peer);
    }
    this.perDevice.remove(call.caller.device);
    this.perDevice.remove(call.callee.device);
    const answered = call.bDialog !== undefined;
    // The caller waits on an answer that will not come now; the callee on a CANCEL.
    if (call.a.state === 'pending' || call.a.state === 'early') call.a.reject(480);
    if (!answered) call.b?.cancel();
    for (const d of [call.aSide, call.bDialog]) {
      if (!d) continue;
      this.byDialog.delete(d);
      // Early dialogs ended with the INVITE's answer; an answered one (ACKed or not yet) gets a BYE.
      if (d.state === 'confirmed') void this.d.ua.bye(d).catch(() => {});
    }
    if (log) this.d.log({ method: 'BYE', device: call.caller.device, from: call.caller.peer, status: 0, detail: `call ${call.name} ended: ${why}` });
  }

  /** A device's connection closed: its calls end (the other side gets a BYE, or a CANCEL while ringing). */
  flowClosed(peer: { host: string; port: number }): void {
    const key = flowKey(peer);
    for (const call of [...(this.byPeer.get(key) ?? [])]) this.end(call, `connection ${key} closed`);
  }

  /** A re-INVITE on one leg becomes a re-INVITE on the other; its answer comes back. */
  /**
   * The call a dialog belongs to. Leg A's dialog is in the map once its ACK came; a request
   * that follows the ACK in the same read of the connection may come before that.
   */
  private callOf(d: Dialog | undefined): Call | undefined {
    if (!d) return undefined;
    return this.byDialog.get(d) ?? [...this.calls].find((c) => c.a.dialog === d);
  }

  private async onReinvite(inv: IncomingInvite): Promise<void> {
    const call = this.callOf(inv.dialog);
    const other = call && inv.dialog ? call.other(inv.dialog) : undefined;
    if (!other || other.state === 'terminated') return inv.reject(488);
    const res = await this.d.ua.reinvite(other, bodyOf(inv.request));
    if (res.status >= 200 && res.status < 300) {
      await inv.accept(bodyOf(res)).catch(() => {});
      return;
    }
    inv.reject(isLocalResponse(res) ? 500 : res.status >= 300 ? res.status : 500);
  }

  /** INFO, NOTIFY, OPTIONS, MESSAGE, UPDATE in a call cross to the other leg; the answer comes back. */
  private async onDialogRequest(req: IncomingRequest): Promise<void> {
    const m = req.request;
    const call = this.callOf(req.dialog);
    const other = call && req.dialog ? call.other(req.dialog) : undefined;
    if (!other || other.state === 'terminated') return req.respond(m.method === 'OPTIONS' ? 200 : 481);
    if (!FORWARDED.has(m.method)) return req.respond(501);
    const hs: SipHeaders = [];
    for (const [n, v] of m.headers) if (CARRIED.includes(n.toLowerCase())) hs.push([n, v]);
    const res = await this.d.ua.requestInDialog(other, m.method, { ...bodyOf(m), headers: hs });
    req.respond(isLocalResponse(res) ? 408 : res.status, bodyOf(res));
  }
}
