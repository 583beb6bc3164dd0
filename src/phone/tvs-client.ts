/**
 * The phone's TVS client: TLS to a TVS member on 2445, the server's certificate checked against
 * the TVS records of the installed ITL, one VERIFY_REQUEST, one answer (reference §6). Answers
 * are cached for the TTL TVS gives them.
 */
import { randomInt } from 'node:crypto';
import { sameBytes } from '../wire/tlv.ts';
import { decodeTvs, encodeTvs, tvsMessageLength } from '../wire/tvs.ts';
import { certFacts } from '../wire/x509.ts';
import type { Clock } from '../common/clock.ts';
import type { NetworkPort } from './ports.ts';
import type { TvsAnswer } from './trust-store.ts';

export interface TvsTarget {
  host: string;
  port: number;
}

export interface TvsClientOptions {
  network: NetworkPort;
  clock: Clock;
  /** `CP-<model>-SEP<MAC>`, as the request names the phone. */
  deviceName: string;
  timeoutMs?: number;
}

export class TvsClient {
  private readonly o: TvsClientOptions;
  private readonly cache = new Map<string, { answer: TvsAnswer; until: number }>();

  constructor(o: TvsClientOptions) {
    this.o = o;
  }

  /** Asks each target in turn; `serverCertificates` are the ITL's TVS certificates. */
  async verify(certificate: Uint8Array, targets: TvsTarget[], serverCertificates: Uint8Array[], signal?: AbortSignal): Promise<TvsAnswer & { server?: string }> {
    const facts = certFacts(certificate);
    const key = facts.ok ? facts.value.sha256 : Buffer.from(certificate).toString('base64');
    const hit = this.cache.get(key);
    if (hit && hit.until > this.o.clock.now()) return hit.answer;
    if (targets.length === 0) return { kind: 'unreachable', reason: 'no TVS server known (none in the configuration or the ITL)' };
    if (serverCertificates.length === 0) return { kind: 'unreachable', reason: 'the installed ITL has no TVS certificate' };
    const problems: string[] = [];
    for (const t of targets) {
      const r = await this.ask(t, certificate, serverCertificates, signal).catch((e: Error) => ({ kind: 'unreachable' as const, reason: e.message }));
      if (r.kind === 'unreachable') {
        problems.push(`${t.host}:${t.port} ${r.reason}`);
        continue;
      }
      if (r.kind === 'valid') this.cache.set(key, { answer: r, until: this.o.clock.now() + r.ttlSecs * 1000 });
      return { ...r, server: `${t.host}:${t.port}` };
    }
    return { kind: 'unreachable', reason: `TVS ${problems.join('; ')}` };
  }

  private async ask(t: TvsTarget, certificate: Uint8Array, serverCertificates: Uint8Array[], signal?: AbortSignal): Promise<TvsAnswer> {
    const timeoutMs = this.o.timeoutMs ?? 5000;
    const { conn, peerCertificate } = await this.o.network.tls(t.host, t.port, { timeoutMs, ...(signal ? { signal } : {}) });
    try {
      if (!serverCertificates.some((c) => sameBytes(c, peerCertificate))) return { kind: 'unreachable', reason: 'presents a certificate that is not in the ITL' };
      const session = randomInt(1, 2 ** 31);
      const answer = new Promise<TvsAnswer>((resolve) => {
        let buf = Buffer.alloc(0);
        const cancel = this.o.clock.timer(timeoutMs, () => resolve({ kind: 'unreachable', reason: 'no answer' }));
        conn.onClose((why) => {
          cancel();
          resolve({ kind: 'unreachable', reason: `closed without an answer (${why})` });
        });
        conn.onData((d) => {
          buf = Buffer.concat([buf, d]);
          const need = tvsMessageLength(buf);
          if (need === undefined || buf.length < need) return;
          cancel();
          const m = decodeTvs(buf.subarray(0, need));
          if (!m.ok) return resolve({ kind: 'unreachable', reason: `unreadable answer: ${m.error.message}` });
          if (m.value.kind !== 'verify-response' || m.value.session !== session) return resolve({ kind: 'unreachable', reason: 'an answer to some other request' });
          resolve(m.value.valid ? { kind: 'valid', roles: m.value.roles, ttlSecs: m.value.ttlSecs } : { kind: 'invalid' });
        });
      });
      conn.write(encodeTvs({ kind: 'verify-request', session, deviceName: this.o.deviceName, certificate }));
      return await answer;
    } finally {
      conn.close();
    }
  }
}
