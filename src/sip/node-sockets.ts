/**
 * The Node implementations of the socket ports (sockets.ts): node:dgram for UDP, node:net for
 * TCP. TLS (node:tls) is in tls-transport.ts and reuses `nodeStreamSocket` here. Everything a
 * peer can make fail (refused, reset, a handshake error) becomes a close reason or a rejected
 * promise; nothing is thrown into the event loop.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { ConnectOptions, DatagramPeer, DatagramSocket, DatagramSocketFactory, StreamListener, StreamSocket, StreamSocketFactory } from './sockets.ts';

/** Corked writes go out at once past this many bytes waiting. */
const CORK_LIMIT = 64 * 1024;

/** Wraps a connected net.Socket (or tls.TLSSocket). Data that arrives before onData is set is held, not lost. */
export function nodeStreamSocket(s: net.Socket): StreamSocket {
  let onData: ((d: Buffer) => void) | undefined;
  let onClose: ((why: string) => void) | undefined;
  const early: Buffer[] = [];
  let corked = false;
  const uncork = () => {
    if (!corked) return;
    corked = false;
    s.uncork();
  };
  let closedWhy: string | undefined;
  let local: { address: string; port: number } | undefined;
  const localOf = () => (local ??= { address: s.localAddress ?? '', port: s.localPort ?? 0 });
  let error: string | undefined;
  s.on('data', (d: Buffer) => (onData ? onData(d) : early.push(d)));
  s.on('error', (e) => {
    error ??= e.message;
  });
  s.on('close', () => {
    closedWhy = error ?? 'closed by peer';
    onClose?.(closedWhy);
    onClose = undefined;
  });
  return {
    // Asked of the kernel when first read (getsockname), then kept (a closed socket has none):
    // the registrar's inbound connections take their local address from the listener and never
    // need it.
    get localAddress() {
      return localOf().address;
    },
    get localPort() {
      return localOf().port;
    },
    remoteAddress: s.remoteAddress ?? '',
    remotePort: s.remotePort ?? 0,
    get bufferedBytes() {
      return s.writableLength;
    },
    write: (d) => {
      if (s.destroyed) return;
      // Writes of one turn of the event loop leave in one writev: a registrar answering a batch
      // of REGISTERs on one connection otherwise pays a system call per response.
      if (!corked) {
        corked = true;
        s.cork();
        process.nextTick(uncork);
      }
      s.write(d);
      if (s.writableLength > CORK_LIMIT) uncork();
    },
    onData: (h) => {
      onData = h;
      for (const d of early.splice(0)) h(d);
    },
    onClose: (h) => {
      if (closedWhy !== undefined) h(closedWhy);
      else onClose = h;
    },
    close: () => {
      error ??= 'closed locally';
      s.destroy();
    },
  };
}

/** Resolves once `event` fires on a connecting socket; rejects on error or after timeoutMs. */
export function whenConnected<S extends net.Socket>(s: S, event: 'connect' | 'secureConnect', host: string, port: number, timeoutMs: number): Promise<S> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => fail(new Error(`no connection to ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    const fail = (e: Error) => {
      clearTimeout(t);
      s.removeListener(event, ok);
      s.destroy();
      reject(e);
    };
    const ok = () => {
      clearTimeout(t);
      s.removeListener('error', fail);
      resolve(s);
    };
    s.once(event, ok);
    s.once('error', fail);
  });
}

export const nodeTcpSockets: StreamSocketFactory = {
  async connect(host: string, port: number, o: ConnectOptions): Promise<StreamSocket> {
    const s = await whenConnected(net.createConnection({ host, port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) }), 'connect', host, port, o.timeoutMs);
    s.setNoDelay(true);
    return nodeStreamSocket(s);
  },
  listen(host: string, port: number, onConnection: (s: StreamSocket) => void): Promise<StreamListener> {
    // noDelay as the server's option: set as each connection is taken, without a second
    // call through net.Socket per connection.
    const server = net.createServer({ noDelay: true }, (s) => onConnection(nodeStreamSocket(s)));
    return listenOn(server, host, port);
  },
};

const LISTEN_BACKLOG = 4096;

/** Listens and reports the bound port (the kernel's choice for port 0). Accept errors (EMFILE) are survived. */
export function listenOn(server: net.Server, host: string, port: number): Promise<StreamListener> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // Node's default backlog is 511: phones connecting together past it have their SYNs
    // dropped and try again a second later (a floor of phones after a power cut, a bench with
    // a connection per REGISTER). The kernel caps it at net.core.somaxconn (4096 by default).
    server.listen({ host, port, backlog: LISTEN_BACKLOG }, () => {
      server.removeListener('error', reject);
      server.on('error', () => {});
      const a = server.address() as net.AddressInfo;
      resolve({ address: a.address, port: a.port, close: () => new Promise<void>((r) => server.close(() => r())) });
    });
  });
}

export const nodeUdpSockets: DatagramSocketFactory = {
  bind(host: string, port: number): Promise<DatagramSocket> {
    return new Promise((resolve, reject) => {
      const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      sock.once('error', reject);
      sock.bind({ address: host, port, exclusive: true }, () => {
        sock.removeListener('error', reject);
        // An ICMP error surfacing as a socket error must not end the process.
        sock.on('error', () => {});
        const a = sock.address();
        let handler: ((d: Buffer, from: DatagramPeer) => void) | undefined;
        sock.on('message', (d, r) => handler?.(d, { address: r.address, port: r.port }));
        resolve({
          port: a.port,
          address: a.address,
          send: (data, p, address) => new Promise<void>((ok, fail) => sock.send(data, p, address, (e) => (e ? fail(e) : ok()))),
          onMessage: (h) => {
            handler = h;
          },
          close: () => {
            try {
              sock.close();
            } catch {
              // already closed
            }
          },
        });
      });
    });
  },
};
