/**
 * Server transactions (RFC 3261 §17.2, with RFC 6026's Accepted state for INVITE).
 *
 * INVITE (§17.2.1, Figure 7 as amended by RFC 6026 Figure 5):
 *
 *   Proceeding ──TU 2xx──► Accepted ──Timer L──► Terminated
 *     │ 100 Trying after 200 ms unless the TU spoke     (TU's 2xx retransmissions pass through;
 *     │ INVITE again: resend the last provisional        INVITE retransmissions are absorbed)
 *     └─TU 300-699──► Completed ──ACK──► Confirmed ──Timer I (0 on TCP)──► Terminated
 *                      │ Timer G: resend, G = min(2G, T2) (UDP only)
 *                      │ INVITE again: resend the final response
 *                      └ Timer H: no ACK came ──► Terminated (the TU is told)
 *
 * non-INVITE (§17.2.2, Figure 8):
 *
 *   Trying ──TU 1xx──► Proceeding ──TU 200-699──► Completed ──Timer J (0 on TCP)──► Terminated
 *     (retransmissions dropped)  (resend the last)       (resend the final)
 *
 * The TU answers through `respond`; the transaction sends it where §18.2.2 says (the layer's
 * sendResponse) and repeats it as the state machine says.
 */
import { TransactionTimers } from './transaction-timers.ts';
import { type SipRequest, type SipResponse, responseTo } from '../wire/sip.ts';
import type { TransactionContext } from './client-transaction.ts';
import type { SipSource } from './transport.ts';

export type ServerTransactionState = 'trying' | 'proceeding' | 'accepted' | 'completed' | 'confirmed' | 'terminated';

/** How a server transaction ended: normally, with no ACK for its final response (Timer H), or unable to send. */
export type ServerTransactionEnd = 'normal' | 'no-ack' | 'transport';

export abstract class ServerTransaction {
  readonly request: SipRequest;
  readonly source: SipSource;
  readonly key: string;
  readonly method: string;
  state: ServerTransactionState;
  /** The last response the TU gave, resent on retransmissions. */
  lastResponse: SipResponse | undefined;
  protected readonly ctx: TransactionContext;
  protected readonly sendOut: (res: SipResponse) => Promise<unknown>;
  protected readonly timers: TransactionTimers;
  private readonly endHandlers: Array<(why: ServerTransactionEnd, detail: string) => void> = [];
  /** Responses put on the wire (retransmissions included), for tests and logs. */
  transmissions = 0;

  constructor(ctx: TransactionContext, request: SipRequest, source: SipSource, key: string, send: (res: SipResponse) => Promise<unknown>) {
    this.ctx = ctx;
    this.timers = new TransactionTimers(ctx.clock, () => this.state !== 'terminated');
    this.request = request;
    this.source = source;
    this.key = key;
    this.method = request.method;
    this.sendOut = send;
    this.state = request.method === 'INVITE' ? 'proceeding' : 'trying';
  }

  /** True once a final response went out: the TU may not answer again (except 2xx retransmissions on INVITE). */
  get answered(): boolean {
    return this.lastResponse !== undefined && this.lastResponse.status >= 200;
  }

  /** Called when the transaction ends, with why. */
  onEnd(handler: (why: ServerTransactionEnd, detail: string) => void): void {
    this.endHandlers.push(handler);
  }

  /** The TU's answer. Returns false when the transaction can no longer take one (already answered or over). */
  abstract respond(res: SipResponse): boolean;
  /** A retransmission of the request, or (INVITE) the ACK for a non-2xx answer. */
  abstract receive(req: SipRequest): void;
  /** Arms what runs from the start (the 100 Trying timer of INVITE). */
  start(): void {}

  protected transmit(res: SipResponse): void {
    this.transmissions++;
    this.sendOut(res).catch((e: Error) => this.terminate('transport', e.message));
  }

  terminate(why: ServerTransactionEnd = 'normal', detail = ''): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.timers.clearAll();
    this.ctx.ended(this.key);
    for (const h of this.endHandlers.splice(0)) {
      try {
        h(why, detail);
      } catch {
        // one listener's failure is not the transaction's
      }
    }
  }

  protected linger(name: string, ms: number): void {
    if (ms <= 0) this.terminate();
    else this.timers.set(name, ms, () => this.terminate());
  }
}

export class InviteServerTransaction extends ServerTransaction {
  override start(): void {
    // §17.2.1: 100 Trying unless the TU answers within 200 ms. It carries no To tag (§8.2.6.1).
    this.timers.set('trying', this.ctx.timers.trying, () => {
      if (this.state === 'proceeding' && !this.lastResponse) this.respond(responseTo(this.request, 100));
    });
  }

  respond(res: SipResponse): boolean {
    const s = res.status;
    if (this.state === 'accepted' && s >= 200 && s < 300) {
      this.transmit(res); // the UAS core retransmitting its 2xx (§13.3.1.4)
      return true;
    }
    if (this.state !== 'proceeding') return false;
    this.timers.clear('trying');
    this.lastResponse = res;
    this.transmit(res);
    if (s < 200) return true;
    if (s < 300) {
      this.state = 'accepted';
      this.timers.set('L', this.ctx.timers.L, () => this.terminate());
      return true;
    }
    this.state = 'completed';
    const t = this.ctx.timers;
    if (!this.ctx.reliable) {
      let interval = t.G;
      const retransmit = () => {
        if (this.state !== 'completed') return;
        this.transmit(res);
        interval = Math.min(2 * interval, t.t2);
        this.timers.set('G', interval, retransmit);
      };
      this.timers.set('G', interval, retransmit);
    }
    this.timers.set('H', t.H, () => this.terminate('no-ack', `no ACK for ${s} within ${t.H} ms (Timer H)`));
    return true;
  }

  receive(req: SipRequest): void {
    if (req.method === 'ACK') {
      if (this.state !== 'completed') return; // Confirmed absorbs ACK retransmissions
      this.state = 'confirmed';
      this.timers.clear('G');
      this.timers.clear('H');
      this.linger('I', this.ctx.reliable ? 0 : this.ctx.timers.I);
      return;
    }
    // A retransmitted INVITE: resend the last provisional (Proceeding) or the final (Completed).
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) this.transmit(this.lastResponse);
  }
}

export class NonInviteServerTransaction extends ServerTransaction {
  respond(res: SipResponse): boolean {
    if (this.state !== 'trying' && this.state !== 'proceeding') return false;
    this.lastResponse = res;
    this.transmit(res);
    if (res.status < 200) {
      this.state = 'proceeding';
      return true;
    }
    this.state = 'completed';
    this.linger('J', this.ctx.reliable ? 0 : this.ctx.timers.J);
    return true;
  }

  receive(): void {
    // Trying: the TU has not answered, nothing to resend. Proceeding/Completed: the last response again.
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) this.transmit(this.lastResponse);
  }
}
