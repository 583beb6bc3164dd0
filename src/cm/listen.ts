/** Starts a node:net-family server (TCP, TLS, HTTP, or on a Unix socket) and waits until it listens or fails. */
import type net from 'node:net';
import tls from 'node:tls';

/**
 * A TLS service that answers phones one short conversation at a time (TVS, CAPF): TLS 1.2 or
 * later with the identity's certificate, a handshake limit, a connection cap, and peers' TLS
 * errors never reaching the process. Resolves to the server and its bound port.
 */
export async function listenTls(
  o: { identity: { keyPem: string; certPem: string }; handshakeTimeoutMs: number; maxConnections: number; onSocket: (socket: tls.TLSSocket) => void },
  host: string,
  port: number,
): Promise<{ server: tls.Server; port: number }> {
  const server = tls.createServer({ key: o.identity.keyPem, cert: o.identity.certPem, minVersion: 'TLSv1.2', handshakeTimeout: o.handshakeTimeoutMs }, o.onSocket);
  server.maxConnections = o.maxConnections;
  server.on('tlsClientError', () => {});
  server.on('error', () => {});
  await listen(server, { port, host });
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** Starts a Fastify app on host:port; the bound port (the kernel's choice when port is 0). */
export async function listenApp(app: { listen(o: { host: string; port: number }): Promise<unknown>; server: net.Server }, host: string, port: number): Promise<number> {
  await app.listen({ host, port });
  const addr = app.server.address();
  return typeof addr === 'object' && addr ? addr.port : port;
}

export function listen(server: net.Server, where: { port: number; host: string } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.removeListener('error', reject);
      resolve();
    };
    if ('path' in where) server.listen(where.path, done);
    else server.listen(where.port, where.host, done);
  });
}
