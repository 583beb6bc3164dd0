/**
 * Digest authentication for the registrar (RFC 3261 §22.4, RFC 2617 qop=auth): nonces that
 * need no table (the time they were made and an HMAC of it under a per-process secret), good
 * for five minutes of the injected clock, and the check of an answer against a line's password.
 * An answer that is right but whose nonce has aged is `stale` (the challenge then says
 * `stale=true`, so a client answers again without asking its user for a password).
 */
import { type KeyObject, createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';
import { digestResponse, parseDigestAnswer } from '../../wire/sip-digest.ts';

export const REALM = 'sepi';
const NONCE_LIFETIME_MS = 5 * 60_000;

export type DigestCheck = 'ok' | 'stale' | 'missing' | 'wrong';

export class DigestGuard {
  /** Imported once as a KeyObject: given as bytes, the key was imported again for every nonce made and checked. */
  private readonly secret: KeyObject = createSecretKey(randomBytes(32));
  private readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** `WWW-Authenticate` for a 401. */
  challenge(stale = false): string {
    return `Digest realm="${REALM}", nonce="${this.nonce()}", algorithm=MD5, qop="auth"${stale ? ', stale=true' : ''}`;
  }

  private nonce(): string {
    const ts = this.clock.now().toString(36);
    return `${ts}.${this.mac(ts)}`;
  }

  private mac(ts: string): string {
    return createHmac('sha256', this.secret).update(ts).digest('hex').slice(0, 32);
  }

  /** Whether the nonce is ours, and how old it is (undefined when it is not ours). */
  private nonceAge(n: string): number | undefined {
    const [ts, mac] = n.split('.');
    if (!ts || !mac) return undefined;
    const expect = this.mac(ts);
    if (mac.length !== expect.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(expect))) return undefined;
    return this.clock.now() - parseInt(ts, 36);
  }

  /** The `Authorization` of a request against `username`/`password`. */
  check(authorization: string | undefined, method: string, username: string, password: string): DigestCheck {
    if (authorization === undefined) return 'missing';
    const a = parseDigestAnswer(authorization);
    if (!a || a.realm !== REALM || a.username !== username) return 'wrong';
    const age = this.nonceAge(a.nonce);
    if (age === undefined || age < 0) return 'wrong';
    const expect = digestResponse(a, method, password);
    const right = expect.length === a.response.length && timingSafeEqual(Buffer.from(expect), Buffer.from(a.response.toLowerCase()));
    if (!right) return 'wrong';
    return age < NONCE_LIFETIME_MS ? 'ok' : 'stale';
  }
}
