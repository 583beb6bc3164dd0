/**
 * The Trust Verification Service (TLS on 2445; reference cisco-boot-protocol.md §6): a phone
 * sends a certificate it does not find in its trust list, and TVS answers whether it is one of
 * this cluster's, with its roles and how long the answer may be cached. Certificates are looked
 * up by the SHA-256 of their DER: the companion's own (SAST, CCM+TFTP, TVS, CAPF) and the ones an
 * admin imported. One request per connection, as tvsd does; a request that cannot be read gets
 * an "invalid" answer if it has a header at all, and the connection closes.
 */
import tls from 'node:tls';
import { type Clock, SystemClock } from '../common/clock.ts';
import { Role } from '../wire/tlv.ts';
import { TVS_HEADER_BYTES, TVS_MAX_PAYLOAD, decodeTvs, encodeTvs, tvsMessageLength } from '../wire/tvs.ts';
import { certFacts } from '../wire/x509.ts';
import type { CompanionPki } from './pki.ts';
import { listenTls } from './listen.ts';

const HANDSHAKE_TIMEOUT_MS = 10_000;
const MAX_CONNECTIONS = 2048;

export interface TvsLogEntry {
  from: string;
  device: string;
  result: 'valid' | 'invalid' | 'bad-request';
  detail: string;
}

const REQUEST_TIMEOUT_MS = 10_000;

export class TvsServer {
  private server: tls.Server | undefined;
  private readonly pki: CompanionPki;
  private readonly ttlSecs: number;
  private readonly log: (e: TvsLogEntry) => void;
  private readonly clock: Clock;

  constructor(pki: CompanionPki, ttlSecs: number, log: (e: TvsLogEntry) => void, clock: Clock = new SystemClock()) {
    this.pki = pki;
    this.ttlSecs = ttlSecs;
    this.log = log;
    this.clock = clock;
  }

  /** Roles TVS vouches for, by certificate SHA-256. */
  private roles(sha256: string): number[] | undefined {
    const own: Array<[ReturnType<CompanionPki['get']>, number[]]> = [
      [this.pki.get('sast'), [Role.SAST]],
      [this.pki.get('tftp'), [Role.CCM_TFTP]],
      [this.pki.get('tvs'), [Role.TVS]],
      [this.pki.get('capf'), [Role.CAPF]],
    ];
    for (const [id, roles] of own) if (id.facts.sha256 === sha256) return roles;
    return this.pki.trusted().find((t) => t.facts.sha256 === sha256)?.roles;
  }

  /** Listens; resolves to the bound port (the kernel's choice when port is 0). */
  async start(host: string, port: number): Promise<number> {
    // A phone asks one question and goes: a handshake that takes long, or more connections than
    // a boot storm makes, is somebody holding the port (docs/security.md).
    const { server, port: bound } = await listenTls({ identity: this.pki.get('tvs'), handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, maxConnections: MAX_CONNECTIONS, onSocket: (socket) => this.serve(socket) }, host, port);
    this.server = server;
    return bound;
  }

  private serve(socket: tls.TLSSocket): void {
    const from = `${socket.remoteAddress}:${socket.remotePort}`;
    let buf = Buffer.alloc(0);
    // One request per connection: a client that has not sent it in time is dropped.
    const cancel = this.clock.timer(REQUEST_TIMEOUT_MS, () => socket.destroy());
    socket.on('close', cancel);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const need = tvsMessageLength(buf);
      if (need === undefined) return;
      if (need > TVS_HEADER_BYTES + TVS_MAX_PAYLOAD || buf.length > need) return this.refuse(socket, buf, from, `request of ${need} bytes refused`);
      if (buf.length < need) return;
      const m = decodeTvs(buf);
      if (!m.ok || m.value.kind !== 'verify-request') return this.refuse(socket, buf, from, m.ok ? 'not a VERIFY_REQUEST' : m.error.message);
      const req = m.value;
      const facts = certFacts(req.certificate);
      const roles = facts.ok ? this.roles(facts.value.sha256) : undefined;
      const valid = roles !== undefined;
      socket.end(encodeTvs({ kind: 'verify-response', session: req.session, valid, roles: roles ?? [], ttlSecs: valid ? this.ttlSecs : 0 }));
      this.log({ from, device: req.deviceName, result: valid ? 'valid' : 'invalid', detail: facts.ok ? `${facts.value.subject} (${facts.value.sha256.slice(0, 16)}…)${valid ? ` roles ${roles!.join(',')}` : ''}` : facts.error.message });
    });
  }

  private refuse(socket: tls.TLSSocket, buf: Buffer, from: string, why: string): void {
    const session = buf.length >= 8 ? buf.readUInt32BE(4) : 0;
    socket.end(encodeTvs({ kind: 'verify-response', session, valid: false, roles: [], ttlSecs: 0 }));
    this.log({ from, device: '', result: 'bad-request', detail: why });
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
