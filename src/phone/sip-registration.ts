/**
 * Keeps the phone registered with its call manager group (reference §9.1): REGISTER over TCP to
 * the highest-priority member that answers, digest authentication when challenged, refresh
 * before the server's expiry, fail-over to the next member when a connection or a transaction
 * fails, cisco-keep-alive REGISTERs to the backup member, and `service-control` NOTIFYs obeyed
 * only when their RegisterCallId is ours.
 *
 *   connecting ──► registering ──200──► registered ──refresh/keep-alive──► registered
 *        ▲              │ 401 → answer once      │ connection lost / refresh fails
 *        └──next member─┴── 4xx final: rejected  └──────────► connecting (from the top)
 *
 * On the shared SIP core (src/sip, docs/sip-core.md): one `StreamTransport` on the phone's own
 * sockets (NetworkPort.tcp, no listener, so Via and Contact carry the connection's ephemeral
 * port as a Cisco phone's do) and one `UserAgent` over it for the whole run. Each member is a
 * connection (a flow) of that transport; the backup's keep-alive rides its own. The UA answers
 * digest challenges, matches transactions and runs Timer F; this module keeps the series
 * (Call-ID, From tag, CSeq), the fail-over and the events. While registered, the UA and the
 * member's flow are handed out (`onLine`) so calls go over the same connection to the call
 * manager, as on a Cisco phone.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { buildAlarmReason, buildCiscoContact, parseCiscoContacts, parseServiceControl, type ServiceAction } from '../wire/cisco-sip.ts';
import type { SipLine, SipStack } from '../wire/cnf-xml.ts';
import type { MacAddress } from '../wire/mac.ts';
import type { PhoneModel } from '../wire/models.ts';
import { parseDigestChallenge } from '../wire/sip-digest.ts';
import { type SipHeaders, type SipResponse, header, headers } from '../wire/sip.ts';
import { WAIT_ENDED } from '../common/abort.ts';
import { Backoff } from '../common/backoff.ts';
import type { Clock } from '../common/clock.ts';
import { type HostPort, type IncomingRequest, type SipDestination, StreamTransport, UserAgent, cseqOf, isLocalResponse } from '../sip/index.ts';
import { CM_UNANSWERED_RETRY } from './retries.ts';
import type { NetworkPort } from './ports.ts';

export interface RegistrarMember {
  /** As written in the configuration (processNodeName). */
  name: string;
  address: string;
  port: number;
  priority: number;
}

export type RegistrationEvent =
  | { kind: 'connecting'; member: RegistrarMember }
  | { kind: 'connect-failed'; member: RegistrarMember; reason: string }
  | { kind: 'challenged'; member: RegistrarMember; realm: string }
  | { kind: 'registered'; member: RegistrarMember; expires: number; user: string }
  | { kind: 'refreshed'; member: RegistrarMember; expires: number }
  | { kind: 'rejected'; member: RegistrarMember; status: number; reason: string }
  | { kind: 'lost'; member: RegistrarMember; reason: string }
  | { kind: 'backup'; member: RegistrarMember; ok: boolean; detail: string }
  | { kind: 'service-control'; action: ServiceAction; accepted: boolean }
  | { kind: 'retry'; inSecs: number; reason: string };

/**
 * The registered line as calls need it: the user agent, the call manager it is registered
 * with and the destination that names the open connection to it (requests sent there ride
 * that connection), our user and the domain our URIs carry (the member's configured name).
 */
export interface SipLineFlow {
  ua: UserAgent;
  member: RegistrarMember;
  destination: SipDestination;
  /** Our line's user part (the DN, or the device name on the default configuration). */
  user: string;
  /** The line's display name, when the configuration has one. */
  displayName: string | undefined;
  /** The domain of our URIs: the member's name as configured. */
  domain: string;
  /** Our address on that connection (what SDP offers, what Contact says). */
  local: HostPort;
}

export interface SipRegistrationOptions {
  mac: MacAddress;
  model: PhoneModel;
  network: NetworkPort;
  clock: Clock;
  members: RegistrarMember[];
  /** The first line registers; with no line (default configuration) the device name does. */
  line: SipLine | undefined;
  sipStack: SipStack;
  /** Why the phone last restarted, for the first REGISTER's Reason header. */
  lastReason: string;
  localAddress: string | undefined;
  onEvent: (e: RegistrationEvent) => void;
  /** A verified service-control NOTIFY: the firmware resets or restarts. */
  onServiceControl: (action: ServiceAction) => void;
  /** The registered line (its UA and flow) each time the phone registers, undefined when that ends. */
  onLine?: (line: SipLineFlow | undefined) => void;
  /** Scales the retry waits (a lab option); 1 unless said. */
  waitScale?: number;
}

export type RegistrationOutcome = { kind: 'rejected'; status: number; reason: string; member: RegistrarMember };

const SUPPORTED = 'replaces,join,sdp-anat,norefersub,resource-priority,extended-refer,X-cisco-callinfo,X-cisco-serviceuri,X-cisco-escapecodes,X-cisco-service-control,X-cisco-srtp-fallback,X-cisco-monrec,X-cisco-config,X-cisco-sis-7.0.0,X-cisco-xsi-8.5.1';
const CONNECT_TIMEOUT_MS = 5000;

type RegisterResult = { kind: 'ok'; expires: number } | { kind: 'rejected'; status: number; reason: string } | { kind: 'lost'; reason: string };

const keyOf = (host: string, port: number): string => `${host}:${port}`;
const destinationOf = (m: RegistrarMember): SipDestination => ({ transport: 'TCP', host: m.address, port: m.port });

/** Rejects with the signal's reason as soon as it aborts. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

export class SipRegistration {
  private readonly o: SipRegistrationOptions;
  /** One Call-ID for every REGISTER of this boot: the CM quotes it in service-control NOTIFYs. */
  readonly callId: string;
  private readonly contactUser = randomUUID();
  private readonly fromTag: string;
  private cseq = randomInt(100, 1000);
  private firstRegister = true;
  private tcp: StreamTransport | undefined;
  private uaValue: UserAgent | undefined;
  /** Connections open now (host:port), and who waits for one of them to close. */
  private readonly open = new Set<string>();
  private readonly lastClose = new Map<string, string>();
  private readonly closeWaiters = new Map<string, Array<(why: string) => void>>();
  /** REGISTERs in flight whose challenge the UA answered, by the CSeq of the challenged request: the realm. */
  private readonly answered = new Map<number, string>();
  /** The CSeq of the registration REGISTER in flight (not a keep-alive): its challenge is an event. */
  private mainSeq: { seq: number; member: RegistrarMember } | undefined;

  constructor(o: SipRegistrationOptions) {
    this.o = o;
    const mac = o.mac.lower;
    this.callId = `${mac.slice(0, 8)}-${mac.slice(8)}${randomBytes(2).toString('hex')}-${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;
    this.fromTag = `${mac}${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;
  }

  get user(): string {
    return this.o.line?.dn || this.o.mac.deviceName;
  }

  /** The user agent of this run (undefined before run() and after it ends). */
  get ua(): UserAgent | undefined {
    return this.uaValue;
  }

  /**
   * Registers and stays registered until the signal aborts (resolving never) or every member
   * refuses the phone (resolving with the rejection, for the firmware to back off and re-read
   * its configuration).
   */
  async run(signal: AbortSignal): Promise<RegistrationOutcome> {
    const { network, localAddress } = this.o;
    const tcp = await StreamTransport.open({
      sockets: { connect: (h, p, o) => network.tcp(h, p, { timeoutMs: o.timeoutMs, signal, ...(o.localAddress ? { localAddress: o.localAddress } : {}) }) },
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      ...(localAddress ? { localAddress } : {}),
    });
    tcp.onFlowClosed((peer, why) => this.flowClosed(keyOf(peer.host, peer.port), why));
    const t1 = this.o.sipStack.timerT1 > 0 ? this.o.sipStack.timerT1 : 500;
    const ua = new UserAgent({
      transports: [tcp],
      clock: this.o.clock,
      timers: { t1, t2: Math.max(t1, this.o.sipStack.timerT2 > 0 ? this.o.sipStack.timerT2 : 4000) },
      aor: `sip:${this.user}@${this.o.members[0]?.name ?? 'invalid'}`,
      ...(this.o.line?.displayName ? { displayName: this.o.line.displayName } : {}),
      userAgent: `Cisco-CP${this.o.model.name}/${this.o.model.uaVersion}`,
      defaultTransport: 'TCP',
      // The phone speaks to its call manager only: a call's ACK, BYE and re-INVITE go over the
      // connection the call was made on (the call manager's), whatever the far end's Contact says.
      dialogFlows: true,
      // A call's Contact: the registered one without the keep-alive parameters.
      contact: (local) => buildCiscoContact({ user: this.contactUser, host: local.host, port: local.port, mac: this.o.mac, modelCode: this.o.model.code }),
      credentials: (realm, res) => this.credentials(realm, res),
    });
    ua.onRequest = (req) => this.onRequest(req);
    this.tcp = tcp;
    this.uaValue = ua;
    try {
      return await this.members(signal);
    } finally {
      this.o.onLine?.(undefined);
      this.uaValue = undefined;
      await ua.close();
    }
  }

  private async members(signal: AbortSignal): Promise<RegistrationOutcome> {
    const backoff = new Backoff(CM_UNANSWERED_RETRY, this.o.clock, { scale: this.o.waitScale ?? 1 });
    for (;;) {
      let rejection: RegistrationOutcome | undefined;
      let answered = 0;
      for (let i = 0; i < this.o.members.length; i++) {
        const member = this.o.members[i]!;
        // The backup kept alive is the next member in priority order after the active one.
        const backups = [...this.o.members.slice(i + 1), ...this.o.members.slice(0, i)];
        const r = await this.tryMember(member, backups, signal);
        if (r.kind === 'served') {
          answered++;
          backoff.reset();
          i = -1; // the registration was lost: start again from the highest priority
          await this.o.clock.sleep(1000 + randomInt(0, 1000), signal);
          continue;
        }
        if (r.kind === 'rejected') {
          answered++;
          rejection ??= { kind: 'rejected', status: r.status, reason: r.reason, member };
        }
      }
      if (rejection && answered > 0) return rejection;
      this.o.onEvent({ kind: 'retry', inSecs: backoff.delaySecs, reason: 'no call manager answered' });
      await backoff.wait(signal);
    }
  }

  // ---- connections -----------------------------------------------------------------------------

  /** Opens (or finds) the connection to a member: our address on it, or why not. */
  private async connect(member: RegistrarMember, signal: AbortSignal): Promise<{ local: HostPort } | { failed: string }> {
    try {
      const local = await abortable(this.uaValue!.localFor(destinationOf(member)), signal);
      const key = keyOf(member.address, member.port);
      this.open.add(key);
      this.lastClose.delete(key);
      return { local };
    } catch (e) {
      signal.throwIfAborted();
      // The transport's message starts with "TCP host:port: "; the event already names the member.
      return { failed: (e as Error).message.replace(/^TCP \S+: /, '') };
    }
  }

  private flowClosed(key: string, why: string): void {
    this.open.delete(key);
    this.lastClose.set(key, why);
    for (const w of this.closeWaiters.get(key)?.splice(0) ?? []) w(why);
  }

  /** Resolves with why the connection to the member closed (at once if it is not open). */
  private untilClosed(member: RegistrarMember): { closed: Promise<string>; stop: () => void } {
    const key = keyOf(member.address, member.port);
    if (!this.open.has(key)) return { closed: Promise.resolve(this.lastClose.get(key) ?? 'not connected'), stop: () => {} };
    let fn: (why: string) => void = () => {};
    const closed = new Promise<string>((resolve) => (fn = resolve));
    const list = this.closeWaiters.get(key) ?? [];
    list.push(fn);
    this.closeWaiters.set(key, list);
    return { closed, stop: () => list.splice(list.indexOf(fn) >>> 0, 1) };
  }

  private disconnect(member: RegistrarMember): void {
    this.tcp?.disconnect({ host: member.address, port: member.port });
  }

  // ---- one member ------------------------------------------------------------------------------

  private async tryMember(member: RegistrarMember, backups: RegistrarMember[], signal: AbortSignal): Promise<{ kind: 'served' } | { kind: 'rejected'; status: number; reason: string } | { kind: 'unreachable' }> {
    this.o.onEvent({ kind: 'connecting', member });
    const c = await this.connect(member, signal);
    if ('failed' in c) {
      this.o.onEvent({ kind: 'connect-failed', member, reason: c.failed });
      return { kind: 'unreachable' };
    }
    try {
      const first = await this.register(member, c.local, signal);
      if (first.kind === 'lost') {
        this.o.onEvent({ kind: 'connect-failed', member, reason: first.reason });
        return { kind: 'unreachable' };
      }
      if (first.kind === 'rejected') {
        this.o.onEvent({ kind: 'rejected', member, status: first.status, reason: first.reason });
        return first;
      }
      this.firstRegister = false;
      this.o.onEvent({ kind: 'registered', member, expires: first.expires, user: this.user });
      this.o.onLine?.({ ua: this.uaValue!, member, destination: destinationOf(member), user: this.user, displayName: this.o.line?.displayName || undefined, domain: member.name, local: c.local });
      let lost: string;
      try {
        lost = await this.stayRegistered(member, c.local, first.expires, backups[0], signal);
      } finally {
        this.o.onLine?.(undefined);
      }
      this.o.onEvent({ kind: 'lost', member, reason: lost });
      return { kind: 'served' };
    } finally {
      this.disconnect(member);
    }
  }

  /** Refreshes before expiry and keeps the backup alive until the connection fails; returns why. */
  private async stayRegistered(member: RegistrarMember, local: HostPort, expires: number, backup: RegistrarMember | undefined, signal: AbortSignal): Promise<string> {
    signal.throwIfAborted();
    const stopKeepAlive = new AbortController();
    const both = AbortSignal.any([signal, stopKeepAlive.signal]);
    // The backup is kept alive only when it is another connection (one member listed twice is one).
    const other = backup && keyOf(backup.address, backup.port) !== keyOf(member.address, member.port) ? backup : undefined;
    const keepAlive = other ? this.keepBackupAlive(other, both).catch(() => {}) : Promise.resolve();
    const watch = this.untilClosed(member);
    try {
      let current = expires;
      for (;;) {
        const delta = this.o.sipStack.timerRegisterDelta;
        const wait = current > delta * 2 ? current - delta : Math.max(1, Math.floor(current / 2));
        const tickDone = new AbortController();
        const tick = this.o.clock.sleep(wait * 1000, AbortSignal.any([signal, tickDone.signal])).then(() => undefined);
        const why = await Promise.race([watch.closed, tick]).finally(() => tickDone.abort(WAIT_ENDED));
        tick.catch(() => {});
        if (why !== undefined) return `connection to ${member.address} lost: ${why}`;
        const r = await this.register(member, local, signal);
        if (r.kind !== 'ok') return r.kind === 'lost' ? r.reason : `refresh refused: ${r.status} ${r.reason}`;
        current = r.expires;
        this.o.onEvent({ kind: 'refreshed', member, expires: current });
      }
    } finally {
      watch.stop();
      stopKeepAlive.abort(WAIT_ENDED);
      await keepAlive;
    }
  }

  /** `Expires: 0` + `;expires=0;cisco-keep-alive` to the backup: not a de-registration (reference §9.1). */
  private async keepBackupAlive(backup: RegistrarMember, signal: AbortSignal): Promise<void> {
    try {
      for (;;) {
        const c = await this.connect(backup, signal);
        if ('failed' in c) this.o.onEvent({ kind: 'backup', member: backup, ok: false, detail: c.failed });
        else {
          const r = await this.send(backup, c.local, { keepAlive: true }, signal);
          this.o.onEvent('lost' in r ? { kind: 'backup', member: backup, ok: false, detail: r.lost } : { kind: 'backup', member: backup, ok: r.res.status === 200, detail: `${r.res.status} ${r.res.reason}` });
        }
        await this.o.clock.sleep(this.o.sipStack.timerKeepAliveExpires * 1000, signal);
      }
    } finally {
      this.disconnect(backup);
    }
  }

  // ---- REGISTER --------------------------------------------------------------------------------

  /** The registration REGISTER, with its digest answer (the UA's) and a stale nonce answered again. */
  private async register(member: RegistrarMember, local: HostPort, signal: AbortSignal): Promise<RegisterResult> {
    for (let round = 0; round < 3; round++) {
      const r = await this.send(member, local, { main: true }, signal);
      if ('lost' in r) return { kind: 'lost', reason: r.lost };
      const { res, answered } = r;
      if (res.status === 200) return { kind: 'ok', expires: this.grantedExpires(res) };
      if (res.status === 401 || res.status === 407) {
        const challenge = headers(res, res.status === 401 ? 'www-authenticate' : 'proxy-authenticate').map(parseDigestChallenge).find((c) => c !== undefined);
        if (!challenge) return { kind: 'rejected', status: res.status, reason: 'challenge the phone cannot answer' };
        if (!this.o.line?.authPassword) return { kind: 'rejected', status: res.status, reason: 'the call manager asks for a password and the configuration has none' };
        // Did the UA answer a challenge for this request? Then this one refuses the answer.
        if (!answered) return { kind: 'rejected', status: res.status, reason: 'challenge the phone cannot answer' };
        if (challenge.stale) continue;
        return { kind: 'rejected', status: res.status, reason: `authentication failed for ${this.authName()} (wrong password?)` };
      }
      const warning = header(res, 'warning');
      const text = warning ? /"([^"]*)"/.exec(warning)?.[1] : undefined;
      return { kind: 'rejected', status: res.status, reason: text || res.reason };
    }
    return { kind: 'rejected', status: 401, reason: 'authentication loop' };
  }

  /**
   * One REGISTER (and the UA's digest answer, if challenged) to a member over its connection:
   * the final response, or why none came (the connection closed, Timer F, a transport error).
   */
  private async send(member: RegistrarMember, local: HostPort, p: { keepAlive?: boolean; main?: boolean }, signal: AbortSignal): Promise<{ res: SipResponse; answered: boolean } | { lost: string }> {
    const ua = this.uaValue!;
    const seq = ++this.cseq;
    // The UA may use seq + 1 for a digest answer: the next request of the series starts after it.
    this.cseq++;
    if (p.main) this.mainSeq = { seq, member };
    const aor = `<sip:${this.user}@${member.name}>`;
    const hdrs: SipHeaders = [['Date', new Date(this.o.clock.now()).toUTCString()], ['Supported', SUPPORTED]];
    if (this.firstRegister && !p.keepAlive) {
      hdrs.push(['Reason', buildAlarmReason({ deviceName: this.o.mac.deviceName, activeLoad: `${this.o.model.activeLoad}.loads`, inactiveLoad: this.o.model.inactiveLoad ? `${this.o.model.inactiveLoad}.loads` : '', last: this.o.lastReason })]);
    }
    hdrs.push(['Expires', p.keepAlive ? '0' : String(this.o.sipStack.timerRegisterExpires)]);
    const watch = this.untilClosed(member);
    try {
      const sent = ua.request({
        method: 'REGISTER', uri: this.requestUri(member), destination: destinationOf(member),
        from: aor, to: aor, fromTag: this.fromTag, callId: `${this.callId}@${local.host}`, cseq: seq,
        contact: buildCiscoContact({ user: this.contactUser, host: local.host, port: local.port, mac: this.o.mac, modelCode: this.o.model.code, keepAlive: p.keepAlive ?? false }),
        headers: hdrs,
      });
      const r = await abortable(Promise.race([sent, watch.closed.then((why) => ({ lost: why }))]), signal);
      if ('lost' in r) return r;
      const got = cseqOf(r)?.seq;
      if (got !== undefined && got > this.cseq) this.cseq = got;
      if (isLocalResponse(r)) {
        if (r.status === 408) return { lost: `no answer from ${member.address} within ${Math.round(ua.timers.F / 1000)} s` };
        return { lost: r.reason.replace(/^[^(]*\((.*)\)$/, '$1') };
      }
      return { res: r, answered: this.answered.has(seq) };
    } finally {
      watch.stop();
      this.answered.delete(seq);
      if (p.main) this.mainSeq = undefined;
    }
  }

  /** The UA asks before answering a 401/407: the line's password, and the challenge noted (an event for the registration's own). */
  private credentials(realm: string, res: SipResponse): { username: string; password: string } | undefined {
    const line = this.o.line;
    if (!line?.authPassword) return undefined;
    const seq = cseqOf(res)?.seq;
    if (seq === undefined) return undefined;
    if (cseqOf(res)?.method === 'REGISTER') this.answered.set(seq, realm);
    if (this.mainSeq && this.mainSeq.seq === seq) this.o.onEvent({ kind: 'challenged', member: this.mainSeq.member, realm });
    return { username: this.authName(), password: line.authPassword };
  }

  private authName(): string {
    return this.o.line?.authName || this.user;
  }

  private requestUri(m: RegistrarMember): string {
    return `sip:${m.name}${m.port === 5060 ? '' : `:${m.port}`}`;
  }

  /** The server's grant: our Contact's expires parameter, else the Expires header, else what we asked. */
  private grantedExpires(res: SipResponse): number {
    for (const c of res.headers.filter(([n]) => /^(contact|m)$/i.test(n))) {
      for (const parsed of parseCiscoContacts(c[1])) {
        if (parsed.uri.includes(this.contactUser) && parsed.expires !== undefined) return parsed.expires;
      }
    }
    const e = header(res, 'expires');
    if (e && /^\d{1,10}$/.test(e)) return Number(e);
    return this.o.sipStack.timerRegisterExpires;
  }

  /** Requests outside a dialog: the service-control NOTIFY, OPTIONS and other NOTIFYs; the rest 501 as before. */
  private onRequest(ir: IncomingRequest): void {
    const req = ir.request;
    if (req.method === 'NOTIFY' && /^service-control/i.test(header(req, 'event') ?? '')) {
      const sc = parseServiceControl(Buffer.from(req.body).toString('utf8'));
      // The RegisterCallId names the REGISTER dialog; compare without any @host part.
      const ours = sc && sc.registerCallId.split('@')[0] === this.callId;
      ir.respond(ours ? 200 : sc ? 481 : 400);
      if (sc) this.o.onEvent({ kind: 'service-control', action: sc.action, accepted: !!ours });
      // After the current data chunk: a 200 OK that came with this NOTIFY is handled first.
      if (sc && ours) this.o.clock.timer(0, () => this.o.onServiceControl(sc.action));
      return;
    }
    if (req.method === 'OPTIONS' || req.method === 'NOTIFY') return ir.respond(200);
    ir.respond(501);
  }
}
