/**
 * The two ways a phone fetches its files from the companion: TFTP on 69 (the npm `tftp`
 * package's server, verified with tftp-hpa and atftp clients in platform-notes.md B2, fed from
 * memory instead of a directory) and HTTP on 6970, which 78xx/88xx firmware tries first.
 * Both answer from ProvisioningFiles; an absent file is TFTP error 1 "File not found" / HTTP 404.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FileAnswer } from './provisioning-files.ts';
import { listen } from './listen.ts';

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

  constructor(files: FileSource, log: (e: FileLogEntry) => void) {
    this.files = files;
    this.log = log;
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
      const answer = this.files.lookup(name);
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
