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
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { buildAlarmReason, buildCiscoContact, parseCiscoContacts, parseServiceControl, type ServiceAction } from '../wire/cisco-sip.ts';
import type { SipLine, SipStack } from '../wire/cnf-xml.ts';
import type { MacAddress } from '../wire/mac.ts';
import type { PhoneModel } from '../wire/models.ts';
import { answerChallenge, parseDigestChallenge } from '../wire/sip-digest.ts';
import { type SipHeaders, type SipMessage, type SipRequest, type SipResponse, SipStreamDecoder, encodeSip, header, responseTo } from '../wire/sip.ts';
import { Backoff } from '../common/backoff.ts';
import type { Clock } from '../common/clock.ts';
import { CM_UNANSWERED_RETRY } from './retries.ts';
import type { NetworkPort, TcpConnection } from './ports.ts';

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
  /** Scales the retry waits (a lab option); 1 unless said. */
  waitScale?: number;
}

export type RegistrationOutcome = { kind: 'rejected'; status: number; reason: string; member: RegistrarMember };

const SUPPORTED = 'replaces,join,sdp-anat,norefersub,resource-priority,extended-refer,X-cisco-callinfo,X-cisco-serviceuri,X-cisco-escapecodes,X-cisco-service-control,X-cisco-srtp-fallback,X-cisco-monrec,X-cisco-config,X-cisco-sis-7.0.0,X-cisco-xsi-8.5.1';
const CONNECT_TIMEOUT_MS = 5000;

/** One TCP connection to one member, with its own transaction matching. */
class Link {
  readonly member: RegistrarMember;
  readonly conn: TcpConnection;
  private readonly decoder = new SipStreamDecoder();
  private readonly waiting = new Map<string, (r: SipResponse) => void>();
  closed: string | undefined;
  private readonly closeWaiters: Array<(why: string) => void> = [];

  constructor(member: RegistrarMember, conn: TcpConnection, onRequest: (link: Link, req: SipRequest) => void) {
    this.member = member;
    this.conn = conn;
    conn.onData((d) => {
      const r = this.decoder.push(d);
      if (!r.ok) {
        this.conn.close();
        return this.markClosed(`unreadable SIP from ${member.address}: ${r.error.message}`);
      }
      for (const m of r.value) this.dispatch(m, onRequest);
    });
    conn.onClose((why) => this.markClosed(why));
  }

  private markClosed(why: string): void {
    if (this.closed !== undefined) return;
    this.closed = why;
    for (const w of this.closeWaiters.splice(0)) w(why);
  }

  private dispatch(m: SipMessage, onRequest: (link: Link, req: SipRequest) => void): void {
    if (m.kind === 'request') return onRequest(this, m);
    const key = `${header(m, 'call-id')}|${header(m, 'cseq')}`;
    const w = this.waiting.get(key);
    if (w && m.status >= 200) {
      this.waiting.delete(key);
      w(m);
    }
  }

  send(m: SipMessage): void {
    this.conn.write(encodeSip(m));
  }

  /** Sends a request and waits for its final response, the connection's loss, or Timer F. */
  transact(req: SipRequest, clock: Clock, timeoutMs: number, signal: AbortSignal): Promise<SipResponse | { lost: string }> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      if (this.closed !== undefined) return resolve({ lost: this.closed });
      const key = `${header(req, 'call-id')}|${header(req, 'cseq')}`;
      const cancelTimer = clock.timer(timeoutMs, () => done({ lost: `no answer from ${this.member.address} within ${Math.round(timeoutMs / 1000)} s` }));
      const onAbort = () => {
        cleanup();
        reject(signal.reason);
      };
      const cleanup = () => {
        cancelTimer();
        this.waiting.delete(key);
        signal.removeEventListener('abort', onAbort);
      };
      const done = (r: SipResponse | { lost: string }) => {
        cleanup();
        resolve(r);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(key, done);
      this.closeWaiters.push((why) => done({ lost: why }));
      this.send(req);
    });
  }

  untilClosed(signal: AbortSignal): Promise<string> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      if (this.closed !== undefined) return resolve(this.closed);
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.closeWaiters.push((why) => {
        signal.removeEventListener('abort', onAbort);
        resolve(why);
      });
    });
  }

  close(): void {
    this.conn.close();
  }
}

export class SipRegistration {
  private readonly o: SipRegistrationOptions;
  /** One Call-ID for every REGISTER of this boot: the CM quotes it in service-control NOTIFYs. */
  readonly callId: string;
  private readonly contactUser = randomUUID();
  private readonly fromTag: string;
  private cseq = randomInt(100, 1000);
  private firstRegister = true;
  private nc = 0;

  constructor(o: SipRegistrationOptions) {
    this.o = o;
    const mac = o.mac.lower;
    this.callId = `${mac.slice(0, 8)}-${mac.slice(8)}${randomBytes(2).toString('hex')}-${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;
    this.fromTag = `${mac}${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;
  }

  get user(): string {
    return this.o.line?.dn || this.o.mac.deviceName;
  }

  /**
   * Registers and stays registered until the signal aborts (resolving never) or every member
   * refuses the phone (resolving with the rejection, for the firmware to back off and re-read
   * its configuration).
   */
  async run(signal: AbortSignal): Promise<RegistrationOutcome> {
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

  private async tryMember(member: RegistrarMember, backups: RegistrarMember[], signal: AbortSignal): Promise<{ kind: 'served' } | { kind: 'rejected'; status: number; reason: string } | { kind: 'unreachable' }> {
    this.o.onEvent({ kind: 'connecting', member });
    let conn: TcpConnection;
    try {
      conn = await this.o.network.tcp(member.address, member.port, { timeoutMs: CONNECT_TIMEOUT_MS, signal, ...(this.o.localAddress ? { localAddress: this.o.localAddress } : {}) });
    } catch (e) {
      signal.throwIfAborted();
      this.o.onEvent({ kind: 'connect-failed', member, reason: (e as Error).message });
      return { kind: 'unreachable' };
    }
    const link = new Link(member, conn, (l, req) => this.onRequest(l, req));
    try {
      const first = await this.register(link, signal);
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
      const lost = await this.stayRegistered(link, first.expires, backups[0], signal);
      this.o.onEvent({ kind: 'lost', member, reason: lost });
      return { kind: 'served' };
    } finally {
      link.close();
    }
  }

  /** Refreshes before expiry and keeps the backup alive until the link fails; returns why. */
  private async stayRegistered(link: Link, expires: number, backup: RegistrarMember | undefined, signal: AbortSignal): Promise<string> {
    signal.throwIfAborted();
    const stopKeepAlive = new AbortController();
    const both = AbortSignal.any([signal, stopKeepAlive.signal]);
    const keepAlive = backup ? this.keepBackupAlive(backup, both).catch(() => {}) : Promise.resolve();
    try {
      let current = expires;
      const closed = link.untilClosed(signal);
      closed.catch(() => {});
      for (;;) {
        const delta = this.o.sipStack.timerRegisterDelta;
        const wait = current > delta * 2 ? current - delta : Math.max(1, Math.floor(current / 2));
        const tickDone = new AbortController();
        const tick = this.o.clock.sleep(wait * 1000, AbortSignal.any([signal, tickDone.signal])).then(() => undefined);
        const why = await Promise.race([closed, tick]).finally(() => tickDone.abort());
        tick.catch(() => {});
        if (why !== undefined) return `connection to ${link.member.address} lost: ${why}`;
        const r = await this.register(link, signal);
        if (r.kind !== 'ok') return r.kind === 'lost' ? r.reason : `refresh refused: ${r.status} ${r.reason}`;
        current = r.expires;
        this.o.onEvent({ kind: 'refreshed', member: link.member, expires: current });
      }
    } finally {
      stopKeepAlive.abort();
      await keepAlive;
    }
  }

  /** `Expires: 0` + `;expires=0;cisco-keep-alive` to the backup: not a de-registration (reference §9.1). */
  private async keepBackupAlive(backup: RegistrarMember, signal: AbortSignal): Promise<void> {
    let link: Link | undefined;
    try {
      for (;;) {
        if (!link || link.closed !== undefined) {
          link?.close();
          try {
            const conn = await this.o.network.tcp(backup.address, backup.port, { timeoutMs: CONNECT_TIMEOUT_MS, signal, ...(this.o.localAddress ? { localAddress: this.o.localAddress } : {}) });
            link = new Link(backup, conn, (l, req) => this.onRequest(l, req));
          } catch (e) {
            signal.throwIfAborted();
            this.o.onEvent({ kind: 'backup', member: backup, ok: false, detail: (e as Error).message });
            link = undefined;
          }
        }
        if (link) {
          const r = await link.transact(this.buildRegister(link, { keepAlive: true }), this.o.clock, 32_000, signal);
          this.o.onEvent('lost' in r ? { kind: 'backup', member: backup, ok: false, detail: r.lost } : { kind: 'backup', member: backup, ok: r.status === 200, detail: `${r.status} ${r.reason}` });
        }
        await this.o.clock.sleep(this.o.sipStack.timerKeepAliveExpires * 1000, signal);
      }
    } finally {
      link?.close();
    }
  }

  private async register(link: Link, signal: AbortSignal): Promise<{ kind: 'ok'; expires: number } | { kind: 'rejected'; status: number; reason: string } | { kind: 'lost'; reason: string }> {
    let authorization: [string, string] | undefined;
    for (let round = 0; round < 3; round++) {
      const req = this.buildRegister(link, { authorization });
      const res = await link.transact(req, this.o.clock, 64 * this.o.sipStack.timerT1, signal);
      if ('lost' in res) return { kind: 'lost', reason: res.lost };
      if (res.status === 200) return { kind: 'ok', expires: this.grantedExpires(res) };
      if (res.status === 401 || res.status === 407) {
        const challengeHeader = header(res, res.status === 401 ? 'www-authenticate' : 'proxy-authenticate');
        const challenge = challengeHeader ? parseDigestChallenge(challengeHeader) : undefined;
        if (!challenge) return { kind: 'rejected', status: res.status, reason: 'challenge the phone cannot answer' };
        if (authorization && !challenge.stale) return { kind: 'rejected', status: res.status, reason: `authentication failed for ${this.authName()} (wrong password?)` };
        const line = this.o.line;
        if (!line?.authPassword) return { kind: 'rejected', status: res.status, reason: 'the call manager asks for a password and the configuration has none' };
        this.o.onEvent({ kind: 'challenged', member: link.member, realm: challenge.realm });
        const answer = answerChallenge(challenge, 'REGISTER', this.requestUri(link.member), this.authName(), line.authPassword, randomBytes(8).toString('hex'), ++this.nc);
        authorization = [res.status === 401 ? 'Authorization' : 'Proxy-Authorization', answer];
        continue;
      }
      const warning = header(res, 'warning');
      const text = warning ? /"([^"]*)"/.exec(warning)?.[1] : undefined;
      return { kind: 'rejected', status: res.status, reason: text || res.reason };
    }
    return { kind: 'rejected', status: 401, reason: 'authentication loop' };
  }

  private authName(): string {
    return this.o.line?.authName || this.user;
  }

  private requestUri(m: RegistrarMember): string {
    return `sip:${m.name}${m.port === 5060 ? '' : `:${m.port}`}`;
  }

  private buildRegister(link: Link, p: { authorization?: [string, string] | undefined; keepAlive?: boolean }): SipRequest {
    const m = link.member;
    const local = `${link.conn.localAddress}:${link.conn.localPort}`;
    const aor = `<sip:${this.user}@${m.name}>`;
    const hdrs: SipHeaders = [
      ['Via', `SIP/2.0/TCP ${local};branch=z9hG4bK${randomBytes(4).toString('hex')}`],
      ['From', `${aor};tag=${this.fromTag}`],
      ['To', aor],
      ['Call-ID', `${this.callId}@${link.conn.localAddress}`],
      ['Max-Forwards', '70'],
      ['Date', new Date(this.o.clock.now()).toUTCString()],
      ['CSeq', `${++this.cseq} REGISTER`],
      ['User-Agent', `Cisco-CP${this.o.model.name}/${this.o.model.uaVersion}`],
      ['Contact', buildCiscoContact({ user: this.contactUser, host: link.conn.localAddress, port: link.conn.localPort, mac: this.o.mac, modelCode: this.o.model.code, keepAlive: p.keepAlive ?? false })],
      ['Supported', SUPPORTED],
    ];
    if (this.firstRegister && !p.keepAlive) {
      hdrs.push(['Reason', buildAlarmReason({ deviceName: this.o.mac.deviceName, activeLoad: `${this.o.model.activeLoad}.loads`, inactiveLoad: this.o.model.inactiveLoad ? `${this.o.model.inactiveLoad}.loads` : '', last: this.o.lastReason })]);
    }
    hdrs.push(['Expires', p.keepAlive ? '0' : String(this.o.sipStack.timerRegisterExpires)]);
    if (p.authorization) hdrs.push(p.authorization);
    return { kind: 'request', method: 'REGISTER', uri: this.requestUri(m), headers: hdrs, body: new Uint8Array() };
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

  private onRequest(link: Link, req: SipRequest): void {
    if (req.method === 'NOTIFY' && /^service-control/i.test(header(req, 'event') ?? '')) {
      const sc = parseServiceControl(Buffer.from(req.body).toString('utf8'));
      // The RegisterCallId names the REGISTER dialog; compare without any @host part.
      const ours = sc && sc.registerCallId.split('@')[0] === this.callId;
      link.send(responseTo(req, ours ? 200 : sc ? 481 : 400, [], undefined, randomBytes(4).toString('hex')));
      if (sc) this.o.onEvent({ kind: 'service-control', action: sc.action, accepted: !!ours });
      // After the current data chunk: a 200 OK that came with this NOTIFY is handled first.
      if (sc && ours) this.o.clock.timer(0, () => this.o.onServiceControl(sc.action));
      return;
    }
    if (req.method === 'OPTIONS' || req.method === 'NOTIFY') {
      link.send(responseTo(req, 200, [], undefined, randomBytes(4).toString('hex')));
      return;
    }
    if (req.method !== 'ACK') link.send(responseTo(req, 501));
  }
}
