/**
 * Node implementations of the phone's ports: real UDP/TCP sockets, HTTP through undici, DNS
 * through node:dns, and the network interface through iproute2 (`ip`). Constructed by the CLI.
 */
import dgram from 'node:dgram';
import { promises as dnsp } from 'node:dns';
import { execFile } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { deepenReceiveQueue } from '../common/udp-queue.ts';
import { isIpv4 } from '../wire/ipv4.ts';
import type { HttpGetOptions, HttpResult, HttpsPostOptions, InterfaceAddress, InterfacePort, NetworkPort, Peer, SrvRecord, TcpConnection, UdpEndpoint } from './ports.ts';

const run = promisify(execFile);

/** A response body read whole, or undefined (and the body dropped) past `maxBytes`. */
async function readCapped(body: AsyncIterable<unknown> & { destroy(): void }, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += (c as Buffer).length;
    if (size > maxBytes) {
      body.destroy();
      return undefined;
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

class NodeUdp implements UdpEndpoint {
  private handler: ((d: Buffer, p: Peer) => void) | undefined;
  private closed = false;
  private readonly sock: dgram.Socket;
  readonly port: number;

  constructor(sock: dgram.Socket) {
    this.sock = sock;
    this.port = sock.address().port;
    sock.on('message', (d, r) => this.handler?.(d, { address: r.address, port: r.port }));
    // An ICMP error or a send failure must never crash the firmware; send() reports its own.
    sock.on('error', () => {});
  }

  send(data: Uint8Array, port: number, address: string): Promise<void> {
    return new Promise((resolve, reject) => this.sock.send(data, port, address, (e) => (e ? reject(e) : resolve())));
  }

  onMessage(handler: (d: Buffer, p: Peer) => void): void {
    this.handler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
  }
}

class NodeTcp implements TcpConnection {
  private readonly s: net.Socket;
  private closeHandler: ((why: string) => void) | undefined;
  private closedWhy: string | undefined;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;

  constructor(s: net.Socket) {
    this.s = s;
    this.localAddress = s.localAddress ?? '';
    this.localPort = s.localPort ?? 0;
    this.remoteAddress = s.remoteAddress ?? '';
    this.remotePort = s.remotePort ?? 0;
    let why = 'closed by peer';
    s.on('error', (e) => (why = e.message));
    s.on('close', () => {
      this.closedWhy ??= why;
      this.closeHandler?.(this.closedWhy);
      this.closeHandler = undefined;
    });
  }

  write(data: Uint8Array): void {
    if (!this.s.destroyed) this.s.write(data);
  }

  onData(handler: (d: Buffer) => void): void {
    this.s.on('data', handler);
  }

  onClose(handler: (why: string) => void): void {
    if (this.closedWhy !== undefined) queueMicrotask(() => handler(this.closedWhy!));
    else this.closeHandler = handler;
  }

  close(): void {
    this.closedWhy ??= 'closed locally';
    this.s.destroy();
  }
}

type ConnectOptions = { timeoutMs: number; signal?: AbortSignal; localAddress?: string };

/** Waits for a socket to connect (or finish its TLS handshake), with a deadline and an abort; the reason in words. */
function connected<T extends net.Socket>(s: T, ready: 'connect' | 'secureConnect', host: string, port: number, o: ConnectOptions): Promise<T> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const fail = (why: string) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      s.destroy();
      reject(new Error(why));
    };
    const onAbort = () => fail('aborted');
    if (o.signal?.aborted) return fail('aborted');
    timer = setTimeout(() => fail(`no answer from ${host}:${port} within ${o.timeoutMs / 1000} s`), o.timeoutMs);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    s.once('error', (e: NodeJS.ErrnoException) =>
      fail(e.code === 'ECONNREFUSED' ? `${host}:${port} refused the connection` : e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH' ? `${host} is unreachable` : e.message));
    s.once(ready, () => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      s.removeAllListeners('error');
      resolve(s);
    });
  });
}

export class NodeNetwork implements NetworkPort {
  private readonly agent: Agent;

  /**
   * `connectionsPerOrigin`: a fleet is thousands of phones behind one address, and a server
   * rightly refuses one address's thousandth connection; the fleet keeps a few busy instead and
   * queues the rest, as a NAT'd office would look. Unlimited for one phone.
   */
  constructor(localAddress?: string, o: { connectionsPerOrigin?: number } = {}) {
    // One phone opens a connection per file (pipelining 0: no keep-alive), as a phone that
    // fetches a handful of files at boot would. A fleet keeps its few connections alive
    // instead: a new TCP connection for each of a storm's tens of thousands of requests cost
    // the fleet and the companion more CPU than the requests themselves (a connect and a close
    // per file; 7.8 connections per phone in a 1,000-phone storm). The client lets an idle
    // connection go after 1 s, well before the companion's 5 s, so it never sends on one the
    // server is closing.
    this.agent = new Agent({
      connect: { timeout: 3000, ...(localAddress ? { localAddress } : {}) }, keepAliveTimeout: 1000,
      ...(o.connectionsPerOrigin ? { connections: o.connectionsPerOrigin, pipelining: 1 } : { pipelining: 0 }),
    });
  }

  udp(o: { port?: number; address?: string; broadcast?: boolean; reuseAddr?: boolean; receiveBufferBytes?: number }): Promise<UdpEndpoint> {
    return new Promise((resolve, reject) => {
      const sock = dgram.createSocket({ type: 'udp4', reuseAddr: o.reuseAddr ?? false });
      sock.once('error', reject);
      sock.bind({ port: o.port ?? 0, address: o.address ?? '0.0.0.0', exclusive: !o.reuseAddr }, () => {
        sock.removeListener('error', reject);
        if (o.broadcast) sock.setBroadcast(true);
        if (o.receiveBufferBytes) deepenReceiveQueue(sock, o.receiveBufferBytes);
        resolve(new NodeUdp(sock));
      });
    });
  }

  async tcp(host: string, port: number, o: ConnectOptions): Promise<TcpConnection> {
    const s = await connected(net.createConnection({ host, port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) }), 'connect', host, port, o);
    s.setNoDelay(true);
    return new NodeTcp(s);
  }

  async tls(host: string, port: number, o: ConnectOptions): Promise<{ conn: TcpConnection; peerCertificate: Uint8Array }> {
    // Chain and name checks are the caller's: TVS's certificate is pinned by the ITL, not by a CA.
    const s = await connected(tls.connect({ host, port, rejectUnauthorized: false, minVersion: 'TLSv1.2', ...(o.localAddress ? { localAddress: o.localAddress } : {}) }), 'secureConnect', host, port, o);
    return { conn: new NodeTcp(s), peerCertificate: Uint8Array.from(s.getPeerCertificate()?.raw ?? []) };
  }

  async httpGet(url: string, o: HttpGetOptions): Promise<HttpResult> {
    // https with the phone's own roots and client certificate needs its own connection settings.
    const dispatcher = o.tls
      ? new Agent({ connect: { ca: o.tls.ca, ...(o.tls.cert ? { cert: o.tls.cert, key: o.tls.key } : {}), ...(o.tls.servername ? { servername: o.tls.servername } : {}), rejectUnauthorized: true, minVersion: 'TLSv1.2', timeout: o.timeoutMs, ...(o.localAddress ? { localAddress: o.localAddress } : {}) } })
      : this.agent;
    const headers: Record<string, string> = { 'user-agent': o.userAgent ?? 'sepi-phone' };
    // Connected by address (resolved through DHCP's DNS), named as the URL named it.
    if (o.tls?.servername) headers.host = `${o.tls.servername}${new URL(url).port ? `:${new URL(url).port}` : ''}`;
    if (o.basicAuth) headers.authorization = `Basic ${Buffer.from(`${o.basicAuth.user}:${o.basicAuth.password}`).toString('base64')}`;
    try {
      const res = await request(url, {
        dispatcher,
        headersTimeout: o.timeoutMs,
        bodyTimeout: o.timeoutMs,
        ...(o.signal ? { signal: o.signal } : {}),
        headers,
      });
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (res.statusCode !== 200) {
        await res.body.dump();
        const location = res.headers.location;
        return { kind: 'response', status: res.statusCode, body: Buffer.alloc(0), ...(typeof location === 'string' ? { location } : {}) };
      }
      if (declared > o.maxBytes) {
        res.body.destroy();
        return { kind: 'error', code: 'too-large', message: `file of ${declared} bytes exceeds the ${o.maxBytes}-byte limit` };
      }
      const body = await readCapped(res.body, o.maxBytes);
      return body ? { kind: 'response', status: 200, body } : { kind: 'error', code: 'too-large', message: `file exceeds the ${o.maxBytes}-byte limit` };
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
      const code = err.cause?.code ?? err.code ?? 'error';
      const message = code === 'ECONNREFUSED' ? 'connection refused' : code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect timeout' : code === 'UND_ERR_HEADERS_TIMEOUT' ? 'no answer'
        : /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code) ? `TLS: the server's certificate is not trusted (${code})` : (err.cause?.message ?? err.message);
      return { kind: 'error', code, message };
    } finally {
      if (dispatcher !== this.agent) void dispatcher.close();
    }
  }

  async httpsPost(url: string, o: HttpsPostOptions): Promise<HttpResult> {
    // The pinned certificates are the only anchors, and the name is not checked: the trust
    // list, not a public CA and DNS, says which server is the cluster's (as TVS's pinning does).
    const agent = new Agent({
      connect: {
        ca: o.pinned, cert: o.clientCert, key: o.clientKey, rejectUnauthorized: true, minVersion: 'TLSv1.2', checkServerIdentity: () => undefined,
        timeout: o.timeoutMs, ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      },
    });
    try {
      const res = await request(url, {
        dispatcher: agent, method: 'POST', body: o.body, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs,
        headers: { 'content-type': 'application/json', 'user-agent': 'sepi-phone' }, ...(o.signal ? { signal: o.signal } : {}),
      });
      const body = await readCapped(res.body, o.maxBytes);
      return body ? { kind: 'response', status: res.statusCode, body } : { kind: 'error', code: 'too-large', message: `answer exceeds ${o.maxBytes} bytes` };
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
      const code = err.cause?.code ?? err.code ?? 'error';
      const pinned = /SELF_SIGNED|UNABLE_TO_VERIFY|CERT_/.test(code);
      return { kind: 'error', code, message: pinned ? 'the server\'s certificate is not the one the trust list names' : code === 'ECONNREFUSED' ? 'connection refused' : (err.cause?.message ?? err.message) };
    } finally {
      void agent.close();
    }
  }

  async resolve4(name: string, dnsServers: readonly string[]): Promise<string[]> {
    if (isIpv4(name)) return [name];
    if (dnsServers.length) {
      const r = new dnsp.Resolver({ timeout: 2000, tries: 2 });
      r.setServers([...dnsServers]);
      try {
        const a = await r.resolve4(name);
        if (a.length) return a;
      } catch {
        // fall through to the system resolver (/etc/hosts, the host's own DNS)
      }
    }
    const all = await dnsp.lookup(name, { family: 4, all: true });
    return all.map((a) => a.address);
  }

  async resolveSrv(name: string, dnsServers: readonly string[]): Promise<SrvRecord[]> {
    const r = new dnsp.Resolver({ timeout: 2000, tries: 2 });
    if (dnsServers.length) r.setServers([...dnsServers]);
    try {
      return await r.resolveSrv(name);
    } catch (e) {
      // No such name or no SRV under it: no records, which the caller says; anything else is a failure.
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** A real board: sepi owns the interface and sets its address and routes with iproute2. */
export class KernelInterface implements InterfacePort {
  readonly name: string;
  readonly ownsAddress = true;

  constructor(name: string) {
    this.name = name;
  }

  private async ip(...args: string[]): Promise<void> {
    try {
      await run('ip', args);
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`ip ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`);
    }
  }

  async prepare(): Promise<void> {
    await this.ip('link', 'set', 'dev', this.name, 'up');
    // Without an address or a default route the kernel has no way out for 255.255.255.255.
    await this.ip('route', 'replace', '255.255.255.255/32', 'dev', this.name);
  }

  async configure(a: InterfaceAddress): Promise<void> {
    await this.ip('addr', 'replace', `${a.address}/${a.prefix}`, 'dev', this.name);
    if (a.router) await this.ip('route', 'replace', 'default', 'via', a.router, 'dev', this.name);
  }

  async deconfigure(a: InterfaceAddress): Promise<void> {
    await this.ip('addr', 'del', `${a.address}/${a.prefix}`, 'dev', this.name).catch(() => {});
  }

  sourceAddress(): string | undefined {
    return undefined;
  }
}

/**
 * An emulated phone: the kernel's interface is left as it is (it needs an address or a route
 * for broadcasts already), and the leased address is the phone's in name only.
 */
export class UnmanagedInterface implements InterfacePort {
  readonly name: string;
  readonly ownsAddress = false;

  constructor(name: string) {
    this.name = name;
  }

  async prepare(): Promise<void> {}
  async configure(): Promise<void> {}
  async deconfigure(): Promise<void> {}
  sourceAddress(): string | undefined {
    return undefined;
  }
}
