/**
 * Transports that carry messages in memory between user agents of one process: what the unit
 * tests run transactions on (with a VirtualClock, Timer B passes in milliseconds), and what a
 * simulation of many phones could use. A `MemoryNetwork` joins them by (transport, host, port),
 * logs every message and can lose chosen ones, so a test can count retransmissions or drop the
 * one response it wants lost. Delivery is asynchronous (a microtask), as on a real network.
 */
import { type SipMessage, encodeSip, decodeSip } from '../wire/sip.ts';
import { type HostPort, type SipDestination, type TransportKind, isReliable, normalHost } from './message.ts';
import { type SipSource, type Transport, TransportError, stampReceived, stampSentBy } from './transport.ts';

export interface MemoryPacket {
  from: SipDestination;
  to: SipDestination;
  message: SipMessage;
}

const key = (kind: TransportKind, host: string, port: number): string => `${kind}|${normalHost(host)}:${port}`;

export class MemoryNetwork {
  private readonly endpoints = new Map<string, MemoryTransport>();
  /** Everything sent, in order, as it went out (after the sender's Via stamping). */
  readonly log: MemoryPacket[] = [];
  /** Return true to lose a packet (it is still logged, with lost set). */
  lose: (p: MemoryPacket) => boolean = () => false;
  readonly lost: MemoryPacket[] = [];

  /** A transport of `kind` at host:port on this network. */
  transport(kind: TransportKind, host: string, port: number): MemoryTransport {
    const k = key(kind, host, port);
    if (this.endpoints.has(k)) throw new Error(`${k} is taken`);
    const t = new MemoryTransport(this, kind, { host, port });
    this.endpoints.set(k, t);
    return t;
  }

  /** @internal */
  carry(p: MemoryPacket): void {
    this.log.push(p);
    if (this.lose(p)) {
      this.lost.push(p);
      return;
    }
    const to = this.endpoints.get(key(p.to.transport, p.to.host, p.to.port));
    // Through the codec both ways, so what a test sees is what the wire would carry.
    const bytes = encodeSip(p.message);
    queueMicrotask(() => to?.deliver(bytes, p.from));
  }

  /** @internal */
  remove(t: MemoryTransport): void {
    this.endpoints.delete(key(t.kind, t.local.host, t.local.port));
  }

  /** Messages sent so far that match, e.g. `sent((p) => p.message.kind === 'request' && p.message.method === 'INVITE')`. */
  sent(match: (p: MemoryPacket) => boolean): MemoryPacket[] {
    return this.log.filter(match);
  }
}

export class MemoryTransport implements Transport {
  readonly kind: TransportKind;
  readonly reliable: boolean;
  readonly local: HostPort;
  private readonly net: MemoryNetwork;
  private handler: (m: SipMessage, from: SipSource) => void = () => {};
  private closed = false;

  constructor(net: MemoryNetwork, kind: TransportKind, local: HostPort) {
    this.net = net;
    this.kind = kind;
    this.reliable = isReliable(kind);
    this.local = local;
  }

  async send(m: SipMessage, to: SipDestination): Promise<HostPort> {
    if (this.closed) throw new TransportError('closed', 'transport closed');
    const out = m.kind === 'request' ? stampSentBy(m, this.kind, this.local) : m;
    this.net.carry({ from: { transport: this.kind, ...this.local }, to, message: out });
    return this.local;
  }

  async localFor(): Promise<HostPort> {
    return this.local;
  }

  /** @internal */
  deliver(bytes: Buffer, from: SipDestination): void {
    if (this.closed) return;
    const d = decodeSip(bytes);
    if (!d.ok) return;
    const source: SipSource = { ...from, local: this.local };
    const m = d.value.kind === 'request' ? stampReceived(d.value, from) : d.value;
    if (m) this.handler(m, source);
  }

  onMessage(handler: (m: SipMessage, from: SipSource) => void): void {
    this.handler = handler;
  }

  onFlowClosed(): void {}

  async close(): Promise<void> {
    this.closed = true;
    this.net.remove(this);
  }
}
