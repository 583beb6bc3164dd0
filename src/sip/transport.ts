/**
 * The SIP transport layer (RFC 3261 §18): one interface over UDP (udp-transport.ts), TCP and
 * TLS (tcp-transport.ts, tls-transport.ts), and a `TransportSet` that holds one of each kind so
 * the transaction layer can send "to (host, port, transport)" without knowing which.
 *
 * The Via rules live here because every kind needs them:
 *  - client side (§18.1.1): the transport writes its own transport name and sent-by into the
 *    top Via of every request it sends — only it knows the address a request leaves from (on
 *    TCP, the connection's own port, which is what a Cisco phone advertises);
 *  - server side (§18.2.1, RFC 3581): a request whose sent-by host is not the packet's source
 *    gets `received=`, and an empty `rport` gets the source port, so the response can find its
 *    way back through a NAT; responses then go where §18.2.2 says (responseDestinations).
 */
import { networkInterfaces } from 'node:os';
import type { SipMessage, SipRequest, SipResponse } from '../wire/sip.ts';
import { type HostPort, type SipDestination, type TransportKind, defaultPort, formatVia, normalHost, replaceTopVia, topVia, transportKind, uriHost } from './message.ts';

export type { HostPort, SipDestination, TransportKind } from './message.ts';

/** Where a message came from, and on which local address it arrived. */
export interface SipSource extends SipDestination {
  local: HostPort;
}

export class TransportError extends Error {
  readonly code: 'unreachable' | 'closed' | 'too-large' | 'congested' | 'no-transport' | 'send-failed';

  constructor(code: TransportError['code'], message: string) {
    super(message);
    this.name = 'TransportError';
    this.code = code;
  }
}

/** Why an input was dropped, for logs and tests (hostile input is dropped, never thrown). */
export interface TransportDrop {
  from: string;
  reason: string;
}

export interface SendOptions {
  /** Stream kinds: only over a connection that is already open to `to`, never a new one (§18.2.2's first choice for responses). */
  existingOnly?: boolean;
}

export interface Transport {
  readonly kind: TransportKind;
  /** TCP and TLS: no retransmissions, and timers D, I, J, K are zero (§17). */
  readonly reliable: boolean;
  /**
   * Sends one message. A request's top Via gets this transport's name and sent-by (§18.1.1).
   * Resolves with the local address it left from; rejects with a TransportError.
   */
  send(m: SipMessage, to: SipDestination, opts?: SendOptions): Promise<HostPort>;
  /**
   * The local address a message to `to` would leave from — for Contact headers. Opens a
   * TCP/TLS connection when there is none yet (and keeps it for the request that follows).
   */
  localFor(to: SipDestination): Promise<HostPort>;
  /** Sets the handler for every message that parsed, replacing any earlier one. */
  onMessage(handler: (m: SipMessage, from: SipSource) => void): void;
  /** Stream kinds: a connection to or from `peer` closed (a phone's registration link, say). */
  onFlowClosed(handler: (peer: SipDestination, reason: string) => void): void;
  close(): Promise<void>;
}

/** Client side of §18.1.1: the top Via says this transport and this sent-by, with `rport` asked for (RFC 3581). */
export function stampSentBy(req: SipRequest, kind: TransportKind, local: HostPort): SipRequest {
  const via = topVia(req);
  if (!via) throw new TransportError('send-failed', 'a request without a Via cannot be sent');
  const params = { ...via.params };
  return replaceTopVia(req, formatVia({ transport: kind, host: uriHost(local.host), port: local.port, params }));
}

/**
 * Server side of §18.2.1 and RFC 3581 §4: `received` when the sent-by host is not where the
 * packet came from (always when `rport` is present), and `rport=<source port>`. Returns
 * undefined when the request has no Via to answer through (such a request is dropped).
 */
export function stampReceived(req: SipRequest, from: HostPort): SipRequest | undefined {
  const via = topVia(req);
  if (!via) return undefined;
  const params = { ...via.params };
  const rport = 'rport' in params;
  const elsewhere = normalHost(via.host) !== normalHost(from.host);
  if (!rport && !elsewhere) return req;
  params['received'] = normalHost(from.host);
  if (rport) params['rport'] = String(from.port);
  return replaceTopVia(req, formatVia({ ...via, params }));
}

/**
 * Where a response goes (§18.2.2, RFC 3581 §4): over a reliable transport, back on the
 * connection the request came in on (the source address names it; the caller sends there with
 * `existingOnly`), else over a new connection to `received` (or the sent-by host) at the sent-by
 * port; over UDP to `received` (or the sent-by host) at `rport` if the request asked for it,
 * else at the sent-by port.
 */
export function responseDestinations(res: SipResponse, source: SipSource): SipDestination[] {
  const via = topVia(res);
  const kind = transportKind(via?.transport) ?? source.transport;
  if (!via) return [source];
  const host = normalHost(via.params['received'] || via.host);
  const port = via.port ?? defaultPort(kind);
  if (kind !== 'UDP') {
    const fallback: SipDestination = { transport: kind, host, port };
    return [{ transport: kind, host: source.host, port: source.port }, fallback];
  }
  const rport = via.params['rport'];
  if (rport && /^\d{1,5}$/.test(rport)) return [{ transport: 'UDP', host, port: Number(rport) }];
  return [{ transport: 'UDP', host, port }];
}

export const describe = (d: SipDestination): string => `${d.transport} ${uriHost(d.host)}:${d.port}`;

/**
 * One transport of each kind, behind one send: what the transaction layer talks to. A UA that
 * only speaks TCP (a phone on its call manager) adds one transport; the companion adds three.
 */
export class TransportSet {
  private readonly byKind = new Map<TransportKind, Transport>();
  private handler: (m: SipMessage, from: SipSource) => void = () => {};
  private flowHandlers: Array<(peer: SipDestination, reason: string) => void> = [];

  constructor(transports: Transport[] = []) {
    for (const t of transports) this.add(t);
  }

  add(t: Transport): void {
    if (this.byKind.has(t.kind)) throw new Error(`a ${t.kind} transport is already there`);
    this.byKind.set(t.kind, t);
    t.onMessage((m, from) => this.handler(m, from));
    t.onFlowClosed((peer, why) => {
      for (const h of this.flowHandlers) h(peer, why);
    });
  }

  get(kind: TransportKind): Transport | undefined {
    return this.byKind.get(kind);
  }

  get kinds(): TransportKind[] {
    return [...this.byKind.keys()];
  }

  /** The transport for a destination; rejects (TransportError no-transport) when there is none of that kind. */
  private pick(to: SipDestination): Transport {
    const t = this.byKind.get(to.transport);
    if (!t) throw new TransportError('no-transport', `no ${to.transport} transport to reach ${describe(to)}`);
    return t;
  }

  isReliable(kind: TransportKind): boolean {
    return this.byKind.get(kind)?.reliable ?? kind !== 'UDP';
  }

  send(m: SipMessage, to: SipDestination, opts?: SendOptions): Promise<HostPort> {
    try {
      return this.pick(to).send(m, to, opts);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async localFor(to: SipDestination): Promise<HostPort> {
    return this.pick(to).localFor(to);
  }

  onMessage(handler: (m: SipMessage, from: SipSource) => void): void {
    this.handler = handler;
  }

  onFlowClosed(handler: (peer: SipDestination, reason: string) => void): void {
    this.flowHandlers.push(handler);
  }

  async close(): Promise<void> {
    await Promise.all([...this.byKind.values()].map((t) => t.close()));
  }
}

/** A bound wildcard address cannot be advertised in a Via: take the first external IPv4 address (or loopback). */
export function advertisable(bound: string | undefined): string {
  if (bound && bound !== '0.0.0.0' && bound !== '::') return normalHost(bound);
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
