/**
 * The EDOS stand-in on the wire: EMU-EDOS/1 (docs/protocols/edos.md), HTTPS with mutual TLS.
 *
 *   GET /edos/v1/rc?mac=<12 hex>&pn=CP-8841-3PCC&psn=8841&sn=<serial>&fw=<version>
 *
 * The handshake asks for the phone's certificate and refuses one that does not chain to a
 * trusted manufacturing CA, and a phone that shows none (OpenSSL checks the chain and the
 * validity period against the real time). The request is then checked again here: the
 * certificate's subject must name a product and a MAC (identity.ts), and that MAC must be the
 * one the query asks about (403 otherwise, with the reason in the body).
 *
 * The answer is the store's rule for the MAC, else for the phone's model (from its certificate),
 * else "no provider":
 *
 *   redirect      200, a flat profile: Profile_Rule (the URL) and Resync_Error_Retry_Delay
 *   none / no rule 200, empty body (the phone becomes Unavailable)
 *   503, 500, 404 that status, a short text body
 *   timeout       no answer: the request is held until the phone gives up, at most `holdMs`,
 *                 and at most `maxHeld` at once (more are closed at once)
 *   tls           the connection is closed right after the handshake, before any HTTP: the
 *                 phone sees its connection fail as a TLS or connection error
 *
 * Every request that names its MAC and passes the certificate checks is counted per MAC, and
 * logged (MAC, product, answer; never a key or password from a rule).
 */
import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Clock } from '../../common/clock.ts';
import { writeFlatProfile } from '../../wire/flat-profile.ts';
import { listen } from '../listen.ts';
import { checkClientCertificate } from './identity.ts';
import { maskRule } from './profiles.ts';
import type { EdosRule, MppStore } from './store.ts';

export const EDOS_PATH = '/edos/v1/rc';
/** The documented default of Resync_Error_Retry_Delay: the ladder a redirected phone keeps. */
export const RESYNC_ERROR_RETRY_DELAY = '60,120,240,480,960,1920,3840,7680,15360,30720,61440,86400';
const HOLD_MS = 120_000;
const MAX_HELD = 64;
const MAX_CONNECTIONS = 512;

export interface EdosLogEntry {
  from: string;
  mac: string;
  product: string;
  answer: string;
  detail: string;
}

export const edosLine = (e: EdosLogEntry) => `edos ${e.from} ${e.mac || '-'} ${e.product || '-'}: ${e.answer}${e.detail ? ` (${e.detail})` : ''}`;

export interface EdosServerOptions {
  store: MppStore;
  identity: { keyPem: string; certPem: string };
  /** The CAs a phone's certificate may chain to, asked at every connection (an import counts at once). */
  trustedCas: () => readonly X509Certificate[];
  clock: Clock;
  log: (e: EdosLogEntry) => void;
  /** How long a `timeout` fault holds a request at most (120 s). */
  holdMs?: number;
  /** Requests held at once at most (64). */
  maxHeld?: number;
}

/** The flat profile of a redirect: where the provider's provisioning is, and the retry ladder. */
export const redirectProfile = (profileRule: string): Buffer =>
  writeFlatProfile([['Profile_Rule', { value: profileRule, ua: 'na' }], ['Resync_Error_Retry_Delay', { value: RESYNC_ERROR_RETRY_DELAY, ua: 'na' }]]);

/** Query text from a peer, short enough for a log line. */
const clip = (s: string | null) => (s ?? '').slice(0, 48);

export class EdosServer {
  private server: https.Server | undefined;
  private readonly o: EdosServerOptions;
  private readonly requests = new Map<string, number>();
  private readonly held = new Set<{ socket: TLSSocket; timer: NodeJS.Timeout }>();
  private casKey = '';

  constructor(o: EdosServerOptions) {
    this.o = o;
  }

  /** Requests per MAC (12 lower-case hex digits) since this start. */
  counts(): ReadonlyMap<string, number> {
    return new Map(this.requests);
  }

  /** Requests held by a `timeout` fault right now. */
  get holding(): number {
    return this.held.size;
  }

  private cas(): readonly X509Certificate[] {
    return this.o.trustedCas();
  }

  private count(mac: string): void {
    this.requests.set(mac, (this.requests.get(mac) ?? 0) + 1);
  }

  /** Listens; resolves to the bound port (the kernel's choice when port is 0). */
  async start(host: string, port: number): Promise<number> {
    const cas = this.cas();
    this.casKey = cas.map((c) => c.fingerprint256).join();
    const server = https.createServer(
      { key: this.o.identity.keyPem, cert: this.o.identity.certPem, ca: cas.map((c) => c.toString()), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', handshakeTimeout: 10_000 },
      (req, res) => this.onRequest(req, res),
    );
    // Before the TLS layer takes the connection: a CA trusted since the last one is in its context.
    server.prependListener('connection', () => this.refreshTrust(server));
    server.on('secureConnection', (socket: TLSSocket) => this.onSecure(socket));
    server.on('tlsClientError', () => {});
    server.on('clientError', (_e, socket) => socket.destroy());
    server.on('error', () => {});
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    server.maxConnections = MAX_CONNECTIONS;
    await listen(server, { port, host });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  private refreshTrust(server: https.Server): void {
    const cas = this.cas();
    const key = cas.map((c) => c.fingerprint256).join();
    if (key === this.casKey) return;
    this.casKey = key;
    server.setSecureContext({ key: this.o.identity.keyPem, cert: this.o.identity.certPem, ca: cas.map((c) => c.toString()) });
  }

  /** A `tls` fault, decided by the certificate's MAC before the phone can send a request. */
  private onSecure(socket: TLSSocket): void {
    const id = checkClientCertificate(socket.getPeerX509Certificate(), this.cas(), this.o.clock.now());
    if (!id.ok) return; // the request is answered 403 with the reason
    const rule = this.o.store.ruleFor(id.mac, id.model);
    if (rule?.answer.kind !== 'fault' || rule.answer.fault !== 'tls') return;
    this.count(id.mac);
    this.o.log({ from: socket.remoteAddress ?? '', mac: id.mac, product: id.product, answer: 'fault tls', detail: `${rule.scope} rule: connection closed after the handshake` });
    socket.destroy();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket as TLSSocket;
    const from = socket.remoteAddress ?? '';
    const text = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : `${body}\n`);
    };
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'https://edos');
    } catch {
      return text(400, 'bad request');
    }
    if (url.pathname !== EDOS_PATH) return text(404, `not found: EMU-EDOS/1 answers GET ${EDOS_PATH}`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return text(405, 'method not allowed');
    }
    const q = url.searchParams;
    const mac = clip(q.get('mac')).toLowerCase();
    const id = checkClientCertificate(socket.getPeerX509Certificate(), this.cas(), this.o.clock.now());
    const refuse = (status: number, why: string) => {
      this.o.log({ from, mac, product: clip(q.get('pn')), answer: `${status}`, detail: why });
      text(status, why);
    };
    if (!/^[0-9a-f]{12}$/.test(mac)) return refuse(400, 'mac must be 12 hexadecimal digits ($MA)');
    if (!id.ok) return refuse(403, id.reason);
    if (id.mac !== mac) return refuse(403, `the client certificate is for ${id.mac}, the request asks for ${mac}`);
    this.count(mac);
    const rule = this.o.store.ruleFor(mac, id.model);
    const detail = (what: string) => `${rule ? `${rule.scope} rule` : 'no rule'}${what ? `: ${what}` : ''}; psn ${clip(q.get('psn')) || '-'}, sn ${clip(q.get('sn')) || '-'}, fw ${clip(q.get('fw')) || '-'}`;
    const log = (answer: string, what = '') => this.o.log({ from, mac, product: clip(q.get('pn')) || id.product, answer, detail: detail(what) });
    this.answer(req, res, socket, rule, log, text);
  }

  private answer(req: IncomingMessage, res: ServerResponse, socket: TLSSocket, rule: EdosRule | undefined, log: (answer: string, what?: string) => void, text: (status: number, body: string) => void): void {
    const a = rule?.answer ?? { kind: 'none' as const };
    if (a.kind === 'redirect') {
      const body = redirectProfile(a.profileRule);
      log('redirect', maskRule(a.profileRule));
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8', 'content-length': body.length, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (a.kind === 'none') {
      log('no provider', 'empty 200');
      res.writeHead(200, { 'content-length': 0, 'cache-control': 'no-store' }).end();
      return;
    }
    switch (a.fault) {
      case '503':
      case '500':
      case '404':
        log(`fault ${a.fault}`);
        return text(Number(a.fault), `injected fault ${a.fault}`);
      case 'tls':
        // The rule changed since the handshake: close now, as the handshake would have.
        log('fault tls', 'connection closed');
        socket.destroy();
        return;
      case 'timeout':
        return this.hold(socket, log);
    }
  }

  /** No answer: the request waits until the phone gives up, or until the bound, then closes. */
  private hold(socket: TLSSocket, log: (answer: string, what?: string) => void): void {
    if (this.held.size >= (this.o.maxHeld ?? MAX_HELD)) {
      log('fault timeout', `${this.held.size} requests held already: closed at once`);
      socket.destroy();
      return;
    }
    const holdMs = this.o.holdMs ?? HOLD_MS;
    log('fault timeout', `held without an answer, ${holdMs / 1000} s at most`);
    const entry: { socket: TLSSocket; timer: NodeJS.Timeout } = {
      socket,
      timer: setTimeout(() => {
        this.held.delete(entry);
        socket.destroy();
      }, holdMs),
    };
    entry.timer.unref();
    this.held.add(entry);
    socket.once('close', () => {
      clearTimeout(entry.timer);
      this.held.delete(entry);
    });
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const h of this.held) {
      clearTimeout(h.timer);
      h.socket.destroy();
    }
    this.held.clear();
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }
}
