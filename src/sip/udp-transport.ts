/**
 * SIP over UDP (RFC 3261 §18): one socket, one datagram is one message. Datagrams that do not
 * parse, are too big, or are requests without a Via are dropped and counted — whatever arrives,
 * nothing is thrown out of the receive path. Retransmission is not done here but by the
 * transactions, which know this transport is unreliable.
 *
 * §18.1.1 says a request within 200 bytes of the path MTU (over 1300 bytes when the MTU is
 * unknown) should go over TCP instead; choosing the transport is the caller's (a UA that has a
 * TCP transport can use it for big INVITEs), this transport only refuses what no datagram can carry.
 */
import { decodeSip, encodeSip, type SipMessage } from '../wire/sip.ts';
import { type HostPort, type SipDestination, normalHost } from './message.ts';
import type { DatagramSocket, DatagramSocketFactory } from './sockets.ts';
import { type SipSource, type Transport, type TransportDrop, TransportError, advertisable, stampReceived, stampSentBy } from './transport.ts';

/** The largest UDP payload over IPv4. */
export const MAX_DATAGRAM_BYTES = 65_507;

export interface UdpTransportOptions {
  socket: DatagramSocket;
  /** What Via sent-by says; the socket's bound address unless given (required when bound to 0.0.0.0 on a multi-homed host). */
  sentBy?: HostPort;
  /** Larger datagrams are dropped on receipt and refused on send. */
  maxMessageBytes?: number;
  onDrop?: (d: TransportDrop) => void;
}

export class UdpTransport implements Transport {
  readonly kind = 'UDP' as const;
  readonly reliable = false;
  readonly local: HostPort;
  private readonly socket: DatagramSocket;
  private readonly max: number;
  private readonly onDrop: (d: TransportDrop) => void;
  private handler: (m: SipMessage, from: SipSource) => void = () => {};
  private closed = false;
  readonly stats = { received: 0, dropped: 0, sent: 0 };

  /** Binds a socket from the factory (port 0: the kernel's choice) and wraps it. */
  static async bind(sockets: DatagramSocketFactory, host: string, port: number, o: Omit<UdpTransportOptions, 'socket'> = {}): Promise<UdpTransport> {
    return new UdpTransport({ ...o, socket: await sockets.bind(host, port) });
  }

  constructor(o: UdpTransportOptions) {
    this.socket = o.socket;
    this.max = o.maxMessageBytes ?? MAX_DATAGRAM_BYTES;
    this.onDrop = o.onDrop ?? (() => {});
    this.local = o.sentBy ?? { host: advertisable(o.socket.address), port: o.socket.port };
    this.socket.onMessage((data, from) => this.receive(data, from));
  }

  /** Where the socket is bound (the Via may advertise another address). */
  get bound(): HostPort {
    return { host: this.socket.address ?? '', port: this.socket.port };
  }

  private drop(from: string, reason: string): void {
    this.stats.dropped++;
    this.onDrop({ from, reason });
  }

  private receive(data: Buffer, peer: { address: string; port: number }): void {
    const from = `${peer.address}:${peer.port}`;
    if (this.closed) return;
    if (data.length > this.max) return this.drop(from, `datagram of ${data.length} bytes exceeds ${this.max}`);
    const d = decodeSip(data);
    if (!d.ok) return this.drop(from, d.error.message);
    const source: SipSource = { transport: 'UDP', host: normalHost(peer.address), port: peer.port, local: this.local };
    let m: SipMessage | undefined = d.value;
    if (m.kind === 'request') m = stampReceived(m, source);
    if (!m) return this.drop(from, 'request without a readable Via');
    this.stats.received++;
    try {
      this.handler(m, source);
    } catch (e) {
      // A bug above the transport loses this message, never the socket.
      this.drop(from, `handler failed: ${(e as Error).message}`);
    }
  }

  async send(m: SipMessage, to: SipDestination): Promise<HostPort> {
    if (this.closed) throw new TransportError('closed', 'the UDP transport is closed');
    const out = m.kind === 'request' ? stampSentBy(m, 'UDP', this.local) : m;
    const bytes = encodeSip(out);
    if (bytes.length > this.max) throw new TransportError('too-large', `a ${bytes.length}-byte message does not fit a datagram (max ${this.max}); send it over TCP`);
    try {
      await this.socket.send(bytes, to.port, to.host);
    } catch (e) {
      throw new TransportError('send-failed', `UDP to ${to.host}:${to.port}: ${(e as Error).message}`);
    }
    this.stats.sent++;
    return this.local;
  }

  async localFor(): Promise<HostPort> {
    return this.local;
  }

  onMessage(handler: (m: SipMessage, from: SipSource) => void): void {
    this.handler = handler;
  }

  onFlowClosed(): void {
    // Datagrams have no connections to lose.
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }
}
