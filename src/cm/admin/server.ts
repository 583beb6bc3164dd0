/**
 * The admin API on its Unix socket: `admin.sock` in the data folder, mode 0600, and the bearer
 * token beside it in `admin.token` (0600, made at first start). A socket file reaches the
 * server from any network namespace and only for users who may read the folder; the token
 * keeps other local users out even so.
 */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ADMIN_SOCKET, ADMIN_TOKEN } from './contract.ts';
import { type AdminOperations, buildAdminApp } from './routes.ts';

/** Admin clients at once: the CLI opens one per command. */
const MAX_CONNECTIONS = 256;

export async function loadOrCreateToken(dataDir: string): Promise<string> {
  const path = join(dataDir, ADMIN_TOKEN);
  try {
    const t = (await readFile(path, 'utf8')).trim();
    if (/^[0-9a-f]{64}$/.test(t)) return t;
  } catch {
    // first start: make one
  }
  const token = randomBytes(32).toString('hex');
  await writeFile(path, token + '\n', { mode: 0o600 });
  return token;
}

export class AdminServer {
  private app: FastifyInstance | undefined;
  private readonly ops: AdminOperations;
  private readonly dataDir: string;
  readonly socketPath: string;

  constructor(ops: AdminOperations, dataDir: string) {
    this.ops = ops;
    this.dataDir = dataDir;
    this.socketPath = join(dataDir, ADMIN_SOCKET);
  }

  async start(): Promise<void> {
    if (Buffer.byteLength(this.socketPath) > 107) throw new Error(`data folder path too long for a Unix socket: ${this.socketPath}`);
    await rm(this.socketPath, { force: true });
    const app = buildAdminApp(this.ops, await loadOrCreateToken(this.dataDir));
    await app.listen({ path: this.socketPath });
    app.server.maxConnections = MAX_CONNECTIONS;
    await chmod(this.socketPath, 0o600);
    this.app = app;
  }

  async stop(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    await app?.close();
    await rm(this.socketPath, { force: true });
  }
}
