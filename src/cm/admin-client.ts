/**
 * The CLI side of the admin API: finds the server that owns a data folder through its socket
 * and token, and calls it with undici. Paths and types are the contract's (admin/contract.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { ADMIN_SOCKET, ADMIN_TOKEN, type ErrorBody } from './admin/contract.ts';

export class AdminClientError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export class AdminClient {
  private readonly dataDir: string;

  constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  async call<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    let token: string;
    try {
      token = (await readFile(join(this.dataDir, ADMIN_TOKEN), 'utf8')).trim();
    } catch {
      throw new AdminClientError(0, `no companion has served ${this.dataDir} (no ${ADMIN_TOKEN}); start one with: sepi cm serve --data ${this.dataDir} --iface IF`);
    }
    const agent = new Agent({ connect: { socketPath: join(this.dataDir, ADMIN_SOCKET) } });
    try {
      const res = await request(`http://companion${path}`, {
        method,
        dispatcher: agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.body.text();
      const json: unknown = text ? JSON.parse(text) : undefined;
      if (res.statusCode >= 400) throw new AdminClientError(res.statusCode, (json as Partial<ErrorBody> | undefined)?.error ?? `HTTP ${res.statusCode}`);
      return json as T;
    } catch (e) {
      if (e instanceof AdminClientError) throw e;
      const code = (e as NodeJS.ErrnoException).code ?? (e as { cause?: NodeJS.ErrnoException }).cause?.code;
      if (code === 'ENOENT' || code === 'ECONNREFUSED') throw new AdminClientError(0, `the companion serving ${this.dataDir} is not running`);
      throw e;
    } finally {
      await agent.close();
    }
  }
}
