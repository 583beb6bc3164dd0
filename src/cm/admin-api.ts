/**
 * The companion's admin API: JSON over HTTP on a Unix socket in the data folder
 * (`admin.sock`), with a bearer token kept beside it (`admin.token`, mode 0600). A socket file
 * reaches the server from any network namespace and only for users who may read the folder;
 * the token keeps other local users out even so. Documented in docs/companion.md.
 *
 *   GET    /v1/status
 *   GET    /v1/phones                 POST /v1/phones {mac, model, dn?, description?, password?}
 *   GET    /v1/phones/:mac            DELETE /v1/phones/:mac
 *   POST   /v1/phones/:mac/reset {action: "reset" | "restart"}
 *   GET    /v1/trust                  GET /v1/trust/certificates/{sast|tftp|tvs}
 *   POST   /v1/trust/import {pem, roles, note?}   POST /v1/trust/rotate-tftp
 *   POST   /v1/trust/rollback {enabled}
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import type { Companion } from './companion.ts';
import { listen } from './listen.ts';

export const ADMIN_SOCKET = 'admin.sock';
export const ADMIN_TOKEN = 'admin.token';
const MAX_BODY = 64 * 1024;

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

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

export class AdminApi {
  private server: http.Server | undefined;
  private readonly companion: Companion;
  private readonly token: string;
  private readonly socketPath: string;

  constructor(companion: Companion, dataDir: string, token: string) {
    this.companion = companion;
    this.token = token;
    this.socketPath = join(dataDir, ADMIN_SOCKET);
  }

  async start(): Promise<void> {
    if (Buffer.byteLength(this.socketPath) > 107) throw new Error(`data folder path too long for a Unix socket: ${this.socketPath}`);
    await rm(this.socketPath, { force: true });
    const server = http.createServer((req, res) => {
      this.handle(req)
        .then(({ status, body }) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(body === undefined ? undefined : JSON.stringify(body));
        })
        .catch((e: unknown) => {
          const status = e instanceof ApiError ? e.status : 500;
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }));
        });
    });
    await listen(server, { path: this.socketPath });
    await chmod(this.socketPath, 0o600);
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
    await rm(this.socketPath, { force: true });
  }

  private authorized(req: http.IncomingMessage): boolean {
    const m = /^Bearer ([0-9a-f]{64})$/.exec(req.headers.authorization ?? '');
    return !!m && timingSafeEqual(Buffer.from(m[1]!), Buffer.from(this.token));
  }

  private async body(req: http.IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_BODY) throw new ApiError(413, 'request body too large');
      chunks.push(c as Buffer);
    }
    if (!size) return {};
    try {
      const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error();
      return v as Record<string, unknown>;
    } catch {
      throw new ApiError(400, 'body must be a JSON object');
    }
  }

  private async handle(req: http.IncomingMessage): Promise<{ status: number; body?: unknown }> {
    if (!this.authorized(req)) throw new ApiError(401, 'missing or wrong admin token');
    const url = new URL(req.url ?? '/', 'http://admin');
    const parts = url.pathname.split('/').filter(Boolean);
    const c = this.companion;
    if (parts[0] !== 'v1') throw new ApiError(404, 'unknown path');
    if (parts[1] === 'status' && parts.length === 2 && req.method === 'GET') return { status: 200, body: c.status() };
    if (parts[1] === 'phones') {
      if (parts.length === 2 && req.method === 'GET') return { status: 200, body: c.listPhones() };
      if (parts.length === 2 && req.method === 'POST') return { status: 201, body: c.addPhone(await this.body(req)) };
      const id = parts[2] ?? '';
      if (parts.length === 3 && req.method === 'GET') return { status: 200, body: c.showPhone(id) };
      if (parts.length === 3 && req.method === 'DELETE') {
        c.removePhone(id);
        return { status: 204 };
      }
      if (parts.length === 4 && parts[3] === 'reset' && req.method === 'POST') {
        const b = await this.body(req);
        return { status: 200, body: await c.resetPhone(id, b['action'] === 'restart' ? 'restart' : 'reset') };
      }
    }
    if (parts[1] === 'trust') {
      if (parts.length === 2 && req.method === 'GET') return { status: 200, body: c.trustStatus() };
      if (parts[2] === 'certificates' && parts.length === 4 && req.method === 'GET') return { status: 200, body: c.exportCertificate(parts[3]!) };
      if (parts[2] === 'import' && parts.length === 3 && req.method === 'POST') return { status: 201, body: await c.importCertificate(await this.body(req)) };
      if (parts[2] === 'rotate-tftp' && parts.length === 3 && req.method === 'POST') return { status: 200, body: await c.rotateTftpCertificate() };
      if (parts[2] === 'rollback' && parts.length === 3 && req.method === 'POST') return { status: 200, body: c.setRollback((await this.body(req))['enabled'] === true) };
    }
    throw new ApiError(404, `no route for ${req.method} ${url.pathname}`);
  }
}
