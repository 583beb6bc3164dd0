/**
 * Client transactions (RFC 3261 §17.1, with RFC 6026's Accepted state for INVITE).
 *
 * INVITE (§17.1.1, Figure 5 as amended by RFC 6026 Figure 3):
 *
 *              start: send INVITE, Timer A (UDP), Timer B
 *   Calling ──1xx──► Proceeding ──2xx──► Accepted ──Timer M──► Terminated
 *     │ Timer A: resend, A *= 2     │ 300-699: send ACK        ▲ more 2xx: to the TU
 *     │ Timer B: timeout            ▼                          │
 *     └─2xx / 300-699──────────► Completed ──Timer D (0 on TCP)─┘
 *                                  more 300-699: ACK again
 *
 * non-INVITE (§17.1.2, Figure 6):
 *
 *   Trying ──1xx──► Proceeding ──200-699──► Completed ──Timer K (0 on TCP)──► Terminated
 *     │ Timer E: resend, E = min(2E, T2)   │ Timer E: resend, E = T2
 *     └ Timer F: timeout ──────────────────┴ Timer F: timeout
 *
 * Retransmissions happen only over unreliable transports. The ACK for a non-2xx final response
 * is built and sent here (it is part of the INVITE transaction); the ACK for a 2xx is the UAC
 * core's (dialog.ts), a transaction of its own.
 */
import { TransactionTimers } from './transaction-timers.ts';
import type { Clock } from '../common/clock.ts';
import { type SipHeaders, type SipRequest, type SipResponse, header, headers } from '../wire/sip.ts';
import { EMPTY_BODY, type HostPort, type SipDestination, cseqOf, viaValues } from './message.ts';
import { stampSentBy } from './transport.ts';
import type { SipTimerValues } from './timers.ts';

/** What the transaction layer gives every transaction. */
export interface TransactionContext {
  clock: Clock;
  timers: SipTimerValues;
  reliable: boolean;
  /** Forget this transaction: it has terminated. */
  ended(key: string): void;
}

export interface ClientTransactionUser {
  /** Every provisional, the final response, and (INVITE, Accepted state) every further 2xx. */
  onResponse(res: SipResponse): void;
  /** Timer B or F fired, or the transport failed: §8.1.3.1 says treat it as a 408 or a 503. */
  onFailure(kind: 'timeout' | 'transport', detail: string): void;
}

export type ClientTransactionState = 'calling' | 'trying' | 'proceeding' | 'accepted' | 'completed' | 'terminated';

export abstract class ClientTransaction {
  /** The request; once it has left, with the sent-by its transport wrote into the Via (§18.1.1). */
  request: SipRequest;
  readonly destination: SipDestination;
  readonly branch: string;
  readonly method: string;
  readonly key: string;
  state: ClientTransactionState;
  protected readonly ctx: TransactionContext;
  protected readonly user: ClientTransactionUser;
  protected readonly sendOut: (m: SipRequest) => Promise<HostPort>;
  protected readonly timers: TransactionTimers;
  /** Transmissions of the request so far (the first included), for tests and logs. */
  transmissions = 0;

  constructor(ctx: TransactionContext, request: SipRequest, destination: SipDestination, branch: string, user: ClientTransactionUser, send: (m: SipRequest) => Promise<HostPort>) {
    this.ctx = ctx;
    this.timers = new TransactionTimers(ctx.clock, () => this.state !== 'terminated');
    this.request = request;
    this.destination = destination;
    this.branch = branch;
    this.method = request.method;
    this.key = clientKey(branch, request.method);
    this.user = user;
    this.sendOut = send;
    this.state = request.method === 'INVITE' ? 'calling' : 'trying';
  }

  abstract start(): void;
  abstract receive(res: SipResponse): void;

  /** Sends the request; a transport failure ends the transaction and tells the TU. */
  protected transmit(): void {
    const first = this.transmissions++ === 0;
    this.sendOut(this.request).then(
      (local) => {
        if (first) this.request = stampSentBy(this.request, this.destination.transport, local);
      },
      (e: Error) => this.fail('transport', e.message),
    );
  }

  protected fail(kind: 'timeout' | 'transport', detail: string): void {
    if (this.state === 'terminated') return;
    const before = this.state;
    this.terminate();
    // Once a final response was passed up the TU has its answer; a later failure (a lost ACK) is not news.
    if (before === 'calling' || before === 'trying' || before === 'proceeding') this.user.onFailure(kind, detail);
  }

  /** Ends the transaction now (the TU may also do this, e.g. Timer C or a CANCEL left unanswered). */
  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.timers.clearAll();
    this.ctx.ended(this.key);
  }

  /** Terminated after `ms`, or at once when that is 0 (reliable transports). */
  protected linger(name: string, ms: number): void {
    if (ms <= 0) this.terminate();
    else this.timers.set(name, ms, () => this.terminate());
  }
}

export const clientKey = (branch: string, method: string): string => `${branch}|${method === 'ACK' ? 'INVITE' : method}`;

export class InviteClientTransaction extends ClientTransaction {
  private ack: SipRequest | undefined;

  start(): void {
    this.transmit();
    const t = this.ctx.timers;
    if (!this.ctx.reliable) {
      let interval = t.A;
      const retransmit = () => {
        if (this.state !== 'calling') return;
        this.transmit();
        interval *= 2; // §17.1.1.2: doubles every time, no T2 cap for INVITE
        this.timers.set('A', interval, retransmit);
      };
      this.timers.set('A', interval, retransmit);
    }
    this.timers.set('B', t.B, () => {
      if (this.state === 'calling') this.fail('timeout', `no response to INVITE within ${t.B} ms (Timer B)`);
    });
  }

  receive(res: SipResponse): void {
    const s = res.status;
    switch (this.state) {
      case 'calling':
      case 'proceeding':
        if (s < 200) {
          this.state = 'proceeding';
          this.timers.clear('A');
          this.timers.clear('B');
          this.user.onResponse(res);
        } else if (s < 300) {
          this.state = 'accepted';
          this.timers.clear('A');
          this.timers.clear('B');
          this.user.onResponse(res);
          this.timers.set('M', this.ctx.timers.M, () => this.terminate());
        } else {
          this.state = 'completed';
          this.timers.clear('A');
          this.timers.clear('B');
          this.ack = buildNon2xxAck(this.request, res);
          this.sendAck();
          this.user.onResponse(res);
          this.linger('D', this.ctx.reliable ? 0 : this.ctx.timers.D);
        }
        return;
      case 'accepted':
        // RFC 6026 §8.4: retransmitted 2xx (or 2xx from other forks) go to the TU, which ACKs them.
        if (s >= 200 && s < 300) this.user.onResponse(res);
        return;
      case 'completed':
        if (s >= 300) this.sendAck();
        return;
      default:
        return;
    }
  }

  private sendAck(): void {
    if (!this.ack) return;
    this.sendOut(this.ack).catch(() => this.terminate());
  }
}

export class NonInviteClientTransaction extends ClientTransaction {
  start(): void {
    this.transmit();
    const t = this.ctx.timers;
    if (!this.ctx.reliable) {
      let interval = t.E;
      const retransmit = () => {
        if (this.state !== 'trying' && this.state !== 'proceeding') return;
        this.transmit();
        // §17.1.2.2: doubling up to T2 while Trying; T2 once a provisional came.
        interval = this.state === 'proceeding' ? t.t2 : Math.min(2 * interval, t.t2);
        this.timers.set('E', interval, retransmit);
      };
      this.timers.set('E', interval, retransmit);
    }
    this.timers.set('F', t.F, () => this.fail('timeout', `no final response to ${this.method} within ${t.F} ms (Timer F)`));
  }

  receive(res: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return; // Completed absorbs retransmissions
    if (res.status < 200) {
      this.state = 'proceeding';
      this.user.onResponse(res);
      return;
    }
    this.state = 'completed';
    this.timers.clear('E');
    this.timers.clear('F');
    this.user.onResponse(res);
    this.linger('K', this.ctx.reliable ? 0 : this.ctx.timers.K);
  }
}

/**
 * §17.1.1.3: the ACK for a 300-699 answer to an INVITE — the INVITE's Request-URI, Call-ID,
 * From, CSeq number, top Via and Route; the response's To (with its tag); no body.
 */
export function buildNon2xxAck(invite: SipRequest, res: SipResponse): SipRequest {
  const cseq = cseqOf(invite)!;
  const hs: SipHeaders = [['Via', viaValues(invite)[0]!]];
  hs.push(['Max-Forwards', '70']);
  hs.push(['From', header(invite, 'from') ?? '']);
  hs.push(['To', header(res, 'to') ?? header(invite, 'to') ?? '']);
  hs.push(['Call-ID', header(invite, 'call-id') ?? '']);
  hs.push(['CSeq', `${cseq.seq} ACK`]);
  for (const r of headers(invite, 'route')) hs.push(['Route', r]);
  return { kind: 'request', method: 'ACK', uri: invite.uri, headers: hs, body: EMPTY_BODY };
}
