/**
 * One DHCP client socket for a whole fleet. Every emulated phone's DHCP client asks its network
 * port for a UDP endpoint on port 68; given a socket each, 10,000 phones would hold 10,000
 * sockets bound to one port, and every broadcast reply would be copied into each of them — the
 * kernel's work and the fleet's grow as N². Here the port-68 endpoints are views of one real
 * socket: a view learns its phone's hardware address (chaddr, bytes 28–33 of a BOOTP message)
 * from what it sends, and an arriving reply goes to the view with that chaddr only. The xid
 * stays the DHCP client's own business (it ignores replies to other transactions). Everything
 * else passes to the inner port unchanged.
 */
import type { HttpGetOptions, HttpResult, HttpsPostOptions, NetworkPort, Peer, SrvRecord, TcpConnection, UdpEndpoint } from '../phone/ports.ts';

const DHCP_CLIENT_PORT = 68;
/** BOOTP: op, htype, hlen, hops, xid(4), secs(2), flags(2), ciaddr, yiaddr, siaddr, giaddr (4 each), then chaddr. */
const CHADDR_AT = 28;
const MIN_BOOTP = 236;

const chaddrKey = (d: Uint8Array): string | undefined => (d.length >= MIN_BOOTP ? Buffer.from(d.subarray(CHADDR_AT, CHADDR_AT + 6)).toString('hex') : undefined);

export class SharedDhcpNetwork implements NetworkPort {
  private readonly inner: NetworkPort;
  private real: Promise<UdpEndpoint> | undefined;
  private readonly views = new Map<string, DhcpView>();
  /** Replies no phone was waiting for (another fleet's, a stray server's): counted, dropped. */
  unclaimed = 0;

  constructor(inner: NetworkPort) {
    this.inner = inner;
  }

  get viewCount(): number {
    return this.views.size;
  }

  udp(o: { port?: number; address?: string; broadcast?: boolean; reuseAddr?: boolean }): Promise<UdpEndpoint> {
    if (o.port !== DHCP_CLIENT_PORT) return this.inner.udp(o);
    // A deep queue (4 MiB, as far as net.core.rmem_max allows): the replies to a whole fleet's
    // DISCOVERs arrive in a burst while the fleet is still busy powering phones on, and the
    // kernel's default (~200 KiB) dropped them — each drop a phone asking again 4 s later.
    this.real ??= this.inner.udp({ port: DHCP_CLIENT_PORT, broadcast: true, reuseAddr: true, receiveBufferBytes: 4 << 20, ...(o.address ? { address: o.address } : {}) }).then((sock) => {
      sock.onMessage((data, from) => {
        const key = chaddrKey(data);
        const view = key === undefined ? undefined : this.views.get(key);
        if (view) view.deliver(data, from);
        else this.unclaimed++;
      });
      return sock;
    });
    return this.real.then((sock) => new DhcpView(this, sock));
  }

  /** A view claims the chaddr it sends with (a phone has one MAC; a second view of it takes over). */
  claim(key: string, view: DhcpView): void {
    this.views.set(key, view);
  }

  release(key: string, view: DhcpView): void {
    if (this.views.get(key) === view) this.views.delete(key);
  }

  tcp(host: string, port: number, opts: { timeoutMs: number; signal?: AbortSignal; localAddress?: string }): Promise<TcpConnection> {
    return this.inner.tcp(host, port, opts);
  }

  tls(host: string, port: number, opts: { timeoutMs: number; signal?: AbortSignal; localAddress?: string }): Promise<{ conn: TcpConnection; peerCertificate: Uint8Array }> {
    return this.inner.tls(host, port, opts);
  }

  httpGet(url: string, opts: HttpGetOptions): Promise<HttpResult> {
    return this.inner.httpGet(url, opts);
  }

  httpsPost(url: string, opts: HttpsPostOptions): Promise<HttpResult> {
    return this.inner.httpsPost(url, opts);
  }

  resolve4(name: string, dnsServers: readonly string[]): Promise<string[]> {
    return this.inner.resolve4(name, dnsServers);
  }

  resolveSrv(name: string, dnsServers: readonly string[]): Promise<SrvRecord[]> {
    return this.inner.resolveSrv(name, dnsServers);
  }

  async close(): Promise<void> {
    const real = this.real;
    this.real = undefined;
    this.views.clear();
    if (real) (await real).close();
    await this.inner.close();
  }
}

/** One phone's port-68 endpoint: sends through the shared socket, hears only its own chaddr. */
class DhcpView implements UdpEndpoint {
  readonly port = DHCP_CLIENT_PORT;
  private readonly shared: SharedDhcpNetwork;
  private readonly sock: UdpEndpoint;
  private handler: ((data: Buffer, from: Peer) => void) | undefined;
  private key: string | undefined;

  constructor(shared: SharedDhcpNetwork, sock: UdpEndpoint) {
    this.shared = shared;
    this.sock = sock;
  }

  send(data: Uint8Array, port: number, address: string): Promise<void> {
    const key = chaddrKey(data);
    if (key !== undefined && key !== this.key) {
      if (this.key !== undefined) this.shared.release(this.key, this);
      this.key = key;
      this.shared.claim(key, this);
    }
    return this.sock.send(data, port, address);
  }

  onMessage(handler: (data: Buffer, from: Peer) => void): void {
    this.handler = handler;
  }

  deliver(data: Buffer, from: Peer): void {
    this.handler?.(data, from);
  }

  close(): void {
    if (this.key !== undefined) this.shared.release(this.key, this);
    this.handler = undefined;
  }
}
