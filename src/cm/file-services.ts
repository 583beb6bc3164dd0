/**
 * HTTP on 6970, which 78xx/88xx firmware tries before TFTP (tftp-service.ts), answering from
 * ProvisioningFiles: an absent file is 404. A phone fetches a handful of small files and goes,
 * so a host holding connections open is cut short: idle connections close after 30 s, at most
 * 1,024 are open, at most 64 from one address (docs/security.md), and a limit that bites says so
 * in the log.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, SystemClock } from '../common/clock.ts';
import type { FileAnswer } from './provisioning-files.ts';
import { LimitLog, Tally } from './limits.ts';
import { listen } from './listen.ts';

const MAX_CONNECTIONS = 1024;
const MAX_PER_ADDRESS = 64;
const IDLE_MS = 30_000;

/** Anything that can answer a file name (the provisioning files, or a test's table). */
export interface FileSource {
  lookup(name: string): FileAnswer;
}

export interface FileLogEntry {
  via: 'tftp' | 'http';
  name: string;
  from: string;
  result: 'sent' | 'absent' | 'refused';
  bytes?: number;
}

export class HttpFileService {
  private server: http.Server | undefined;
  private readonly files: FileSource;
  private readonly log: (e: FileLogEntry) => void;

  private readonly limits: LimitLog;
  private readonly perAddress = new Tally();

  constructor(files: FileSource, log: (e: FileLogEntry) => void, clock: Clock = new SystemClock()) {
    this.files = files;
    this.log = log;
    this.limits = new LimitLog((line) => log({ via: 'http', name: line, from: '-', result: 'refused' }), clock);
  }

  /** Listens; resolves to the bound port (the kernel's choice when port is 0). */
  async start(host: string, port: number): Promise<number> {
    const server = http.createServer((req, res) => {
      const from = req.socket.remoteAddress ?? '';
      let name: string;
      try {
        name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
      } catch {
        res.writeHead(400).end();
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (name.split('/').includes('..') || name.length > 255) {
        this.log({ via: 'http', name, from, result: 'refused' });
        res.writeHead(400).end();
        return;
      }
      let answer: FileAnswer;
      try {
        answer = this.files.lookup(name);
      } catch {
        // A file that cannot be made (a damaged record) fails this request, never the companion.
        this.log({ via: 'http', name, from, result: 'refused' });
        res.writeHead(500, { 'cache-control': 'no-store' }).end();
        return;
      }
      if (answer.kind === 'absent') {
        this.log({ via: 'http', name, from, result: 'absent' });
        res.writeHead(404, { 'cache-control': 'no-store' }).end();
        return;
      }
      this.log({ via: 'http', name, from, result: 'sent', bytes: answer.data.length });
      // What CUCM sends on 6970 (reference §3.1): no caching, a generic type.
      res.writeHead(200, { 'content-type': answer.contentType, 'content-length': answer.data.length, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : answer.data);
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    server.timeout = IDLE_MS;
    server.maxConnections = MAX_CONNECTIONS;
    server.on('drop', (d) => this.limits.bite('http-connections', d?.remoteAddress ?? '-', `${MAX_CONNECTIONS} HTTP connections open: refused`));
    server.on('connection', (socket) => {
      const address = socket.remoteAddress ?? '-';
      if (this.perAddress.of(address) >= MAX_PER_ADDRESS) {
        this.limits.bite('http-per-address', address, `${MAX_PER_ADDRESS} HTTP connections from one address: refused`);
        socket.destroy();
        return;
      }
      this.perAddress.add(address);
      socket.once('close', () => this.perAddress.remove(address));
    });
    server.on('error', (e) => this.limits.bite('http-accept', '-', `accept failed: ${e.message}`));
    await listen(server, { port, host });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }
}
