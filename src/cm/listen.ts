/** Starts a node:net-family server (TCP, TLS, HTTP, or on a Unix socket) and waits until it listens or fails. */
import type net from 'node:net';

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
