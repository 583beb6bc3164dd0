/**
 * The transaction layer (RFC 3261 §17): owns every client and server transaction, matches what
 * the transports deliver to them, and hands the rest to the transaction user (the UA core):
 *
 *  - a response goes to the client transaction whose branch and CSeq method it carries
 *    (§17.1.3); one that matches none is a stray — a 2xx retransmitted after its transaction
 *    ended, or junk — given to the TU's onStrayResponse if it has one, else dropped;
 *  - a request goes to the server transaction with its branch, sent-by and method, ACK counting
 *    as INVITE (§17.2.3; RFC 2543 peers without the magic cookie are matched by Request-URI,
 *    From tag, Call-ID, CSeq number and top Via). A request that matches is a retransmission
 *    and is absorbed; an ACK that matches none is the ACK for a 2xx and goes to the TU; any
 *    other new request gets a server transaction and goes to the TU. CANCEL gets its own
 *    transaction (its method differs); the TU finds the INVITE it cancels with findInvite.
 *
 * Requests that cannot be answered sensibly (no Via, a CSeq whose method is not the request's,
 * no Call-ID/From/To) get a stateless 400 when they can be answered at all, else are dropped.
 */
import type { Clock } from '../common/clock.ts';
import { type SipMessage, type SipRequest, type SipResponse, header, responseTo } from '../wire/sip.ts';
import { type ClientTransaction, type ClientTransactionUser, InviteClientTransaction, NonInviteClientTransaction, type TransactionContext, clientKey } from './client-transaction.ts';
import { MAGIC_COOKIE, type SipDestination, cseqOf, fromTag, malformedRequest, malformedResponse, sentBy, topVia, viaValues, withNewVia } from './message.ts';
import { InviteServerTransaction, NonInviteServerTransaction, type ServerTransaction } from './server-transaction.ts';
import { type SipTimerSettings, type SipTimerValues, timerValues } from './timers.ts';
import { type SipSource, type TransportDrop, type TransportSet, responseDestinations } from './transport.ts';

export interface TransactionUser {
  /** A new request other than ACK, with the server transaction the TU answers through. */
  onRequest(tx: ServerTransaction): void;
  /** An ACK no transaction took: the ACK for a 2xx, which is the UAS core's (§13.3.1.4). */
  onAck(ack: SipRequest, source: SipSource): void;
  /** A response no transaction took (a 2xx retransmitted after its transaction ended, or junk). */
  onStrayResponse?(res: SipResponse, source: SipSource): void;
}

export interface TransactionLayerOptions {
  transports: TransportSet;
  clock: Clock;
  timers?: Partial<SipTimerSettings>;
  /** Messages the layer drops (malformed, stray), for logs and tests. */
  onDrop?: (d: TransportDrop) => void;
}

export class TransactionLayer {
  readonly transports: TransportSet;
  readonly clock: Clock;
  readonly timers: SipTimerValues;
  private readonly clients = new Map<string, ClientTransaction>();
  private readonly servers = new Map<string, ServerTransaction>();
  private user: TransactionUser | undefined;
  private readonly onDrop: (d: TransportDrop) => void;
  readonly stats = { retransmissionsAbsorbed: 0, strayResponses: 0, malformed: 0 };

  constructor(o: TransactionLayerOptions) {
    this.transports = o.transports;
    this.clock = o.clock;
    this.timers = timerValues(o.timers);
    this.onDrop = o.onDrop ?? (() => {});
    this.transports.onMessage((m, from) => this.receive(m, from));
  }

  /** The UA core; requests that arrive before one is set get 503. */
  setUser(user: TransactionUser): void {
    this.user = user;
  }

  get counts(): { clients: number; servers: number } {
    return { clients: this.clients.size, servers: this.servers.size };
  }

  /** The four contexts there can be (client or server, reliable or not), made once rather than per transaction. */
  private readonly contexts = new Map<Map<string, unknown>, [unreliable: TransactionContext, reliable: TransactionContext]>();

  private context(reliable: boolean, map: Map<string, unknown>): TransactionContext {
    let pair = this.contexts.get(map);
    if (!pair) {
      const make = (r: boolean): TransactionContext => ({ clock: this.clock, timers: this.timers, reliable: r, ended: (key) => map.delete(key) });
      pair = [make(false), make(true)];
      this.contexts.set(map, pair);
    }
    return pair[reliable ? 1 : 0];
  }

  /**
   * Starts a client transaction. A request without a Via gets one with a fresh branch and
   * `rport` (the transport fills in sent-by); a request with one keeps its branch (a CANCEL
   * carries its INVITE's, §9.1). ACK is not a transaction: use sendStateless.
   */
  sendRequest(req: SipRequest, to: SipDestination, user: ClientTransactionUser): ClientTransaction {
    if (req.method === 'ACK') throw new Error('ACK is sent with sendStateless, not as a transaction');
    let out = req;
    if (!topVia(out)) out = withNewVia(out, to.transport);
    const branch = topVia(out)?.params['branch'];
    if (!branch?.startsWith(MAGIC_COOKIE)) throw new Error(`a request needs an RFC 3261 branch (z9hG4bK…), got ${branch}`);
    const key = clientKey(branch, out.method);
    if (this.clients.has(key)) throw new Error(`a ${out.method} transaction with branch ${branch} is already running`);
    const ctx = this.context(this.transports.isReliable(to.transport), this.clients);
    const send = (m: SipRequest) => this.transports.send(m, to);
    const tx = out.method === 'INVITE' ? new InviteClientTransaction(ctx, out, to, branch, user, send) : new NonInviteClientTransaction(ctx, out, to, branch, user, send);
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  /** Sends outside any transaction: the ACK for a 2xx (with a new branch when it has no Via), a stateless response. */
  async sendStateless(m: SipMessage, to: SipDestination): Promise<void> {
    const out = m.kind === 'request' && !topVia(m) ? withNewVia(m, to.transport) : m;
    await this.transports.send(out, to);
  }

  /**
   * Sends a response where §18.2.2 says: over a reliable transport on the connection the request
   * came in on, else a new connection to received/sent-by; over UDP to received/rport.
   */
  async sendResponse(res: SipResponse, source: SipSource): Promise<void> {
    const dests = responseDestinations(res, source);
    let last: unknown;
    for (let i = 0; i < dests.length; i++) {
      try {
        await this.transports.send(res, dests[i]!, { existingOnly: i === 0 && dests.length > 1 });
        return;
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }

  /** The INVITE server transaction a CANCEL cancels (§9.2): same branch and sent-by, method INVITE. */
  findInvite(cancel: SipRequest): ServerTransaction | undefined {
    const key = serverKey({ ...cancel, method: 'INVITE' });
    return key === undefined ? undefined : this.servers.get(key);
  }

  private drop(from: SipSource, reason: string): void {
    this.onDrop({ from: `${from.transport} ${from.host}:${from.port}`, reason });
  }

  private receive(m: SipMessage, from: SipSource): void {
    if (m.kind === 'response') return this.receiveResponse(m, from);
    const bad = malformedRequest(m);
    if (bad) {
      this.stats.malformed++;
      this.drop(from, `request: ${bad}`);
      // Answerable if it has a Via to answer through; an ACK is never answered.
      if (m.method !== 'ACK' && topVia(m) && header(m, 'call-id') !== undefined) {
        this.sendResponse({ ...responseTo(m, 400), reason: `Bad Request (${bad})` }, from).catch(() => {});
      }
      return;
    }
    const key = serverKey(m)!;
    const tx = this.servers.get(key);
    if (tx) {
      this.stats.retransmissionsAbsorbed++;
      tx.receive(m);
      return;
    }
    if (m.method === 'ACK') {
      this.user?.onAck(m, from);
      return;
    }
    const ctx = this.context(this.transports.isReliable(from.transport), this.servers);
    const send = (res: SipResponse) => this.sendResponse(res, from);
    const stx = m.method === 'INVITE' ? new InviteServerTransaction(ctx, m, from, key, send) : new NonInviteServerTransaction(ctx, m, from, key, send);
    this.servers.set(key, stx);
    stx.start();
    if (!this.user) {
      stx.respond(responseTo(m, 503));
      return;
    }
    this.user.onRequest(stx);
  }

  private receiveResponse(res: SipResponse, from: SipSource): void {
    const bad = malformedResponse(res);
    if (bad) {
      this.stats.malformed++;
      return this.drop(from, `response: ${bad}`);
    }
    const branch = topVia(res)?.params['branch'] ?? '';
    const tx = this.clients.get(clientKey(branch, cseqOf(res)!.method));
    if (tx) return tx.receive(res);
    this.stats.strayResponses++;
    if (this.user?.onStrayResponse) this.user.onStrayResponse(res, from);
    else this.drop(from, `response ${res.status} matches no transaction (branch ${branch})`);
  }

  /** Ends every transaction (servers tell their listeners, 'normal') and closes the transports. */
  async close(): Promise<void> {
    for (const tx of [...this.clients.values()]) tx.terminate();
    for (const tx of [...this.servers.values()]) tx.terminate();
    await this.transports.close();
  }
}

/** §17.2.3's matching key; undefined when the request has no Via or CSeq. */
export function serverKey(req: SipRequest): string | undefined {
  const via = topVia(req);
  const cseq = cseqOf(req);
  if (!via || !cseq) return undefined;
  const method = req.method === 'ACK' ? 'INVITE' : req.method;
  const branch = via.params['branch'];
  if (branch?.startsWith(MAGIC_COOKIE)) return `${branch}|${sentBy(via)}|${method}`;
  // RFC 2543 (§17.2.3 second half): no unique branch, so the dialog and sequence identify it.
  return `2543|${req.uri}|${fromTag(req) ?? ''}|${header(req, 'call-id')}|${cseq.seq}|${viaValues(req)[0]}|${method}`;
}
