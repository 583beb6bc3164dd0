/**
 * The phone's network port for the in-process harness: real sockets on 127.0.0.1, with the one
 * thing loopback cannot do without root made possible — DHCP. Binding the client port 68 and
 * broadcasting to port 67 need privileges and an interface, so a bind of port 68 takes a free
 * port instead and anything sent to port 67 goes to the harness's DHCP responder. Everything
 * else passes to NodeNetwork untouched.
 *
 * It also keeps count of network activity, so the harness moves virtual time only when the
 * wire is quiet (no request in flight, nothing sent or received for a moment).
 */
import { NodeNetwork } from '../../src/phone/node-ports.ts';
import type { HttpGetOptions, HttpResult, HttpsPostOptions, NetworkPort, Peer, SrvRecord, TcpConnection, UdpEndpoint } from '../../src/phone/ports.ts';

export class LoopbackNetwork implements NetworkPort {
  private readonly inner = new NodeNetwork();
  private readonly dhcpServerPort: () => number;
  /** Requests waiting for an answer (HTTP, TCP/TLS connects). */
  pending = 0;
  /** performance.now() of the last datagram or segment in either direction. */
  lastActivity = performance.now();

  constructor(dhcpServerPort: () => number) {
    this.dhcpServerPort = dhcpServerPort;
  }

  private touch(): void {
    this.lastActivity = performance.now();
  }

  private async track<T>(p: Promise<T>): Promise<T> {
    this.pending++;
    this.touch();
    try {
      return await p;
    } finally {
      this.pending--;
      this.touch();
    }
  }

  async udp(o: { port?: number; address?: string; broadcast?: boolean; reuseAddr?: boolean }): Promise<UdpEndpoint> {
    const dhcpClient = o.port === 68;
    const sock = await this.inner.udp(dhcpClient ? { address: '127.0.0.1' } : o);
    return {
      port: sock.port,
      send: (data, port, address) => {
        this.touch();
        return port === 67 ? sock.send(data, this.dhcpServerPort(), '127.0.0.1') : sock.send(data, port, address);
      },
      onMessage: (handler: (d: Buffer, from: Peer) => void) =>
        sock.onMessage((d, from) => {
          this.touch();
          handler(d, from);
        }),
      close: () => sock.close(),
    };
  }

  private watched(c: TcpConnection): TcpConnection {
    return {
      localAddress: c.localAddress, localPort: c.localPort, remoteAddress: c.remoteAddress, remotePort: c.remotePort,
      write: (d) => {
        this.touch();
        c.write(d);
      },
      onData: (h) =>
        c.onData((d) => {
          this.touch();
          h(d);
        }),
      onClose: (h) => c.onClose(h),
      close: () => c.close(),
    };
  }

  async tcp(host: string, port: number, o: { timeoutMs: number; signal?: AbortSignal; localAddress?: string }): Promise<TcpConnection> {
    return this.watched(await this.track(this.inner.tcp(host, port, o)));
  }

  /**
   * A TLS connection (TVS, CAPF) is one short exchange that may pause for work at either end (a
   * phone making its CAPF key): virtual time stands still while it is open, so no timer of
   * either end fires for real work in progress.
   */
  async tls(host: string, port: number, o: { timeoutMs: number; signal?: AbortSignal; localAddress?: string }): Promise<{ conn: TcpConnection; peerCertificate: Uint8Array }> {
    const r = await this.track(this.inner.tls(host, port, o));
    this.pending++;
    let open = true;
    const done = () => {
      if (!open) return;
      open = false;
      this.pending--;
      this.touch();
    };
    const w = this.watched(r.conn);
    const conn: TcpConnection = {
      ...w,
      onClose: (h) => w.onClose((why) => {
        done();
        h(why);
      }),
      close: () => {
        done();
        w.close();
      },
    };
    return { conn, peerCertificate: r.peerCertificate };
  }

  httpGet(url: string, o: HttpGetOptions): Promise<HttpResult> {
    return this.track(this.inner.httpGet(url, o));
  }

  httpsPost(url: string, o: HttpsPostOptions): Promise<HttpResult> {
    return this.track(this.inner.httpsPost(url, o));
  }

  resolve4(name: string, dnsServers: readonly string[]): Promise<string[]> {
    return this.track(this.inner.resolve4(name, dnsServers));
  }

  resolveSrv(name: string, dnsServers: readonly string[]): Promise<SrvRecord[]> {
    return this.track(this.inner.resolveSrv(name, dnsServers));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
