/**
 * SIP over a byte stream: TCP here, TLS too (tls-transport.ts gives this class TLS sockets).
 * RFC 3261 §18.3 frames messages by Content-Length; `SipStreamDecoder` does that and bounds a
 * message's headers (16 KiB) and body (64 KiB).
 *
 * Connections are kept per peer (host:port) and reused both ways: a request to a peer goes over
 * the connection already open to it, inbound or outbound, which is how a call manager reaches a
 * phone behind its own ephemeral port (reference §9.1: the phone's Contact port is its source
 * port, so the server must send INVITEs back over that connection). A framing error closes the
 * connection (the stream can no longer be trusted); a peer that does not read (write buffer over
 * the limit) or sends endless bytes that never make a message (read buffer over the limit) is
 * cut off; too many inbound connections are refused at once. Nothing a peer sends is thrown.
 */
import type { Clock } from '../common/clock.ts';
import { SIP_MAX_BODY_BYTES, SIP_MAX_HEADER_BYTES, type SipMessage, SipStreamDecoder, encodeSip } from '../wire/sip.ts';
import { type HostPort, type SipDestination, normalHost } from './message.ts';
import type { StreamListener, StreamSocket, StreamSocketFactory } from './sockets.ts';
import { type SendOptions, type SipSource, type Transport, type TransportDrop, TransportError, advertisable, describe, stampReceived, stampSentBy } from './transport.ts';

export interface StreamTransportOptions {
  kind?: 'TCP' | 'TLS';
  sockets: StreamSocketFactory;
  /** Accept connections here (needs a factory that can listen); port 0 lets the kernel choose. */
  listen?: HostPort;
  /**
   * Via sent-by: `connection` (the connection's own address and port, as a Cisco phone does) or
   * `listener` (the listening port, so a peer may open a new connection back, §18.1.1). Default:
   * listener when listening, else connection.
   */
  viaPort?: 'connection' | 'listener';
  /** Overrides the advertised host (a NATed or multi-homed server). */
  sentByHost?: string;
  /** Outbound connections leave from this address. */
  localAddress?: string;
  connectTimeoutMs?: number;
  /** Inbound connections past this many are closed at once. */
  maxConnections?: number;
  /** A peer that leaves more than this unread is cut off. */
  maxWriteBufferBytes?: number;
  /** Bytes held waiting for the end of a message; over this the connection is closed. */
  maxReadBufferBytes?: number;
  /**
   * Closes connections quiet for this long (both ways); never unless given. Timed by the clock.
   * setIdle changes it for one connection (a registrar gives a phone that registered longer).
   */
  idle?: { clock: Clock; ms: number };
  /** Admission of an inbound connection (a per-address cap, say); false closes it at once. */
  admit?: (peer: HostPort) => boolean;
  onDrop?: (d: TransportDrop) => void;
}

/** The decoder's own bounds plus one read chunk: the most a connection ever holds. */
const DEFAULT_MAX_READ = SIP_MAX_HEADER_BYTES + 4 + SIP_MAX_BODY_BYTES + 64 * 1024;
const PING = '\r\n\r\n';
const noop = (): void => {};

/** One connection (RFC 5626 calls it a flow). */
class Flow {
  readonly key: string;
  readonly socket: StreamSocket;
  readonly inbound: boolean;
  readonly peer: SipDestination;
  readonly decoder = new SipStreamDecoder();
  /** An upper bound on the bytes the decoder holds (see onData). */
  held = 0;
  lastActivity = 0;
  idleMs: number | undefined;
  closed = false;
  cancelIdle: () => void = noop;
  /** The Via sent-by of messages sent over it, worked out at the first send (its local address does not change). */
  sentBy: HostPort | undefined;
  /** Its local address and port, worked out at the first message (see localOf). */
  local: HostPort | undefined;

  constructor(key: string, socket: StreamSocket, inbound: boolean, peer: SipDestination) {
    this.key = key;
    this.socket = socket;
    this.inbound = inbound;
    this.peer = peer;
  }
}

const keyOf = (host: string, port: number): string => `${normalHost(host)}:${port}`;

export class StreamTransport implements Transport {
  readonly kind: 'TCP' | 'TLS';
  readonly reliable = true;
  private readonly o: StreamTransportOptions;
  private readonly flows = new Map<string, Flow>();
  private readonly connecting = new Map<string, Promise<Flow>>();
  private listener: StreamListener | undefined;
  private handler: (m: SipMessage, from: SipSource) => void = () => {};
  private readonly flowClosed: Array<(peer: SipDestination, reason: string) => void> = [];
  private closed = false;
  /** Inbound connections open now (counted, not found by a scan per accept). */
  private inbound = 0;
  readonly stats = { received: 0, dropped: 0, sent: 0, accepted: 0, refused: 0 };

  /** Makes the transport and starts listening when asked to. */
  static async open(o: StreamTransportOptions): Promise<StreamTransport> {
    const t = new StreamTransport(o);
    if (o.listen) {
      if (!o.sockets.listen) throw new Error('this socket factory cannot listen');
      t.listener = await o.sockets.listen(o.listen.host, o.listen.port, (s) => t.accept(s));
    }
    return t;
  }

  private constructor(o: StreamTransportOptions) {
    this.o = o;
    this.kind = o.kind ?? 'TCP';
  }

  /** The listening address, when listening. */
  get listening(): HostPort | undefined {
    return this.listener ? { host: this.listener.address, port: this.listener.port } : undefined;
  }

  /** Open connections, for status pages and tests (`held` bounds what each buffers). */
  connections(): Array<{ peer: string; inbound: boolean; held: number }> {
    return [...this.flows.values()].map((f) => ({ peer: f.key, inbound: f.inbound, held: f.held }));
  }

  private drop(from: string, reason: string): void {
    this.stats.dropped++;
    this.o.onDrop?.({ from, reason });
  }

  private accept(s: StreamSocket): void {
    const key = keyOf(s.remoteAddress, s.remotePort);
    const inboundCount = this.inbound;
    const full = inboundCount >= (this.o.maxConnections ?? 1024);
    if (this.closed || full || (this.o.admit && !this.o.admit({ host: normalHost(s.remoteAddress), port: s.remotePort }))) {
      this.stats.refused++;
      this.drop(key, full ? `${inboundCount} connections open: refused` : 'not admitted');
      s.close();
      return;
    }
    this.stats.accepted++;
    this.adopt(key, s, true);
  }

  private adopt(key: string, s: StreamSocket, inbound: boolean): Flow {
    const flow = new Flow(key, s, inbound, { transport: this.kind, host: normalHost(s.remoteAddress), port: s.remotePort });
    if (inbound) this.inbound++;
    // A second connection to the same peer replaces the first in the table; the first still works until it closes.
    this.flows.set(key, flow);
    s.onData((d) => this.onData(flow, d));
    s.onClose((why) => this.forget(flow, why));
    this.touch(flow);
    return flow;
  }

  private touch(flow: Flow): void {
    const idle = this.o.idle;
    if (!idle) return;
    flow.lastActivity = idle.clock.now();
    if (flow.cancelIdle !== noop || flow.closed) return;
    // One timer per connection, re-armed for the rest of the quiet time when it fires early.
    const arm = (ms: number) => {
      flow.cancelIdle = idle.clock.timer(ms, () => {
        const limit = flow.idleMs ?? idle.ms;
        const quiet = idle.clock.now() - flow.lastActivity;
        if (quiet >= limit) this.closeFlow(flow, `idle for ${Math.round(quiet / 1000)} s`);
        else arm(limit - quiet);
      });
    };
    arm(flow.idleMs ?? idle.ms);
  }

  /** A connection's own idle limit (needs the idle option, which brings the clock). */
  setIdle(peer: HostPort, ms: number): void {
    const flow = this.flows.get(keyOf(peer.host, peer.port));
    if (!flow || !this.o.idle) return;
    flow.idleMs = ms;
    flow.cancelIdle();
    flow.cancelIdle = noop;
    this.touch(flow);
  }

  private onData(flow: Flow, chunk: Buffer): void {
    if (flow.closed) return;
    this.touch(flow);
    // RFC 5626 §4.4.1: a double-CRLF ping is answered with a single CRLF pong.
    if (flow.held === 0 && chunk.length === 4 && chunk.toString('latin1') === PING) {
      flow.socket.write(Buffer.from('\r\n'));
      return;
    }
    flow.held += chunk.length;
    if (flow.held > (this.o.maxReadBufferBytes ?? DEFAULT_MAX_READ)) {
      this.drop(flow.key, `${flow.held} bytes without a whole message`);
      return this.closeFlow(flow, 'read buffer limit');
    }
    const r = flow.decoder.push(chunk);
    if (!r.ok) {
      this.drop(flow.key, r.error.message);
      return this.closeFlow(flow, `unreadable stream: ${r.error.message}`);
    }
    // Whatever the decoder keeps after a whole message came out is a tail of this chunk.
    if (r.value.length) flow.held = Math.min(flow.held, chunk.length);
    const source: SipSource = { ...flow.peer, local: this.localOf(flow) };
    for (const raw of r.value) {
      const m = raw.kind === 'request' ? stampReceived(raw, source) : raw;
      if (!m) {
        this.drop(flow.key, 'request without a readable Via');
        continue;
      }
      this.stats.received++;
      try {
        this.handler(m, source);
      } catch (e) {
        this.drop(flow.key, `handler failed: ${(e as Error).message}`);
      }
    }
  }

  /**
   * A connection's local address: the listener's for one it accepted on a specific address
   * (no getsockname per connection: a phone opening one per REGISTER pays for each), else the
   * socket's.
   */
  private localOf(flow: Flow): HostPort {
    if (flow.local) return flow.local;
    const l = this.listener;
    const specific = flow.inbound && l && l.address !== '0.0.0.0' && l.address !== '::';
    return (flow.local = specific ? { host: normalHost(l.address), port: l.port } : { host: normalHost(flow.socket.localAddress), port: flow.socket.localPort });
  }

  private closeFlow(flow: Flow, why: string): void {
    this.forget(flow, why);
    flow.socket.close();
  }

  private forget(flow: Flow, why: string): void {
    if (flow.closed) return;
    flow.closed = true;
    if (flow.inbound) this.inbound--;
    flow.cancelIdle();
    if (this.flows.get(flow.key) === flow) this.flows.delete(flow.key);
    if (this.closed) return;
    for (const h of this.flowClosed) h(flow.peer, why);
  }

  /** The open connection to `to`, or a new one (connections being opened are shared by concurrent senders). */
  private async flowFor(to: SipDestination, existingOnly: boolean): Promise<Flow> {
    if (this.closed) throw new TransportError('closed', `the ${this.kind} transport is closed`);
    const key = keyOf(to.host, to.port);
    const open = this.flows.get(key);
    if (open && !open.closed) return open;
    if (existingOnly) throw new TransportError('closed', `no open connection to ${describe(to)}`);
    let pending = this.connecting.get(key);
    if (!pending) {
      pending = this.o.sockets
        .connect(to.host, to.port, { timeoutMs: this.o.connectTimeoutMs ?? 10_000, ...(this.o.localAddress ? { localAddress: this.o.localAddress } : {}) })
        .then(
          (s) => {
            if (this.closed) {
              s.close();
              throw new TransportError('closed', `the ${this.kind} transport is closed`);
            }
            return this.adopt(key, s, false);
          },
          (e: Error) => {
            throw new TransportError('unreachable', `${describe(to)}: ${e.message}`);
          },
        )
        .finally(() => this.connecting.delete(key));
      this.connecting.set(key, pending);
    }
    return pending;
  }

  private sentBy(flow: Flow): HostPort {
    // Frozen: every send of the connection returns this one object.
    return (flow.sentBy ??= Object.freeze(this.workOutSentBy(flow)));
  }

  private workOutSentBy(flow: Flow): HostPort {
    const viaPort = this.o.viaPort ?? (this.listener ? 'listener' : 'connection');
    const local = this.localOf(flow);
    const host = this.o.sentByHost ?? advertisable(local.host);
    return { host, port: viaPort === 'listener' && this.listener ? this.listener.port : local.port };
  }

  send(m: SipMessage, to: SipDestination, opts?: SendOptions): Promise<HostPort> {
    // Over a connection already open (every response, most requests) the message is written
    // now, without waiting a turn for flowFor's promise: a registrar answering thousands of
    // REGISTERs a second pays for each await.
    const open = this.closed ? undefined : this.flows.get(keyOf(to.host, to.port));
    if (open && !open.closed) {
      try {
        return Promise.resolve(this.sendOn(open, m, to));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return this.flowFor(to, opts?.existingOnly ?? false).then((flow) => this.sendOn(flow, m, to));
  }

  private sendOn(flow: Flow, m: SipMessage, to: SipDestination): HostPort {
    const local = this.sentBy(flow);
    const out = m.kind === 'request' ? stampSentBy(m, this.kind, local) : m;
    flow.socket.write(encodeSip(out));
    this.touch(flow);
    const buffered = flow.socket.bufferedBytes ?? 0;
    if (buffered > (this.o.maxWriteBufferBytes ?? 1024 * 1024)) {
      this.closeFlow(flow, `peer not reading (${buffered} bytes unsent)`);
      throw new TransportError('congested', `${describe(to)} is not reading; connection closed`);
    }
    this.stats.sent++;
    return local;
  }

  async localFor(to: SipDestination): Promise<HostPort> {
    return this.sentBy(await this.flowFor(to, false));
  }

  onMessage(handler: (m: SipMessage, from: SipSource) => void): void {
    this.handler = handler;
  }

  onFlowClosed(handler: (peer: SipDestination, reason: string) => void): void {
    this.flowClosed.push(handler);
  }

  /** Closes the connection to a peer, if any (a phone giving up on a call manager). */
  disconnect(peer: HostPort): void {
    const f = this.flows.get(keyOf(peer.host, peer.port));
    if (f) this.closeFlow(f, 'closed locally');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const f of [...this.flows.values()]) this.closeFlow(f, 'transport closed');
    await this.listener?.close();
  }
}
