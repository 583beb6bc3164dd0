/** Starts a node:net-family server (TCP, TLS, HTTP, or on a Unix socket) and waits until it listens or fails. */
import type net from 'node:net';

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
