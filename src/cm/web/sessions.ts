/**
 * Web sessions: a random id in a Secure, HttpOnly, SameSite=Strict cookie, the user it belongs
 * to kept in memory (a restart signs everyone out), closed after 30 idle minutes or 8 hours.
 * Sign-ins are rate-limited per address and per user id, so a password cannot be guessed at
 * speed from one host or against one account.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';
import { setCapped } from '../../common/capped-map.ts';
import { RateLimiter } from '../limits.ts';

const IDLE_MS = 30 * 60_000;
const MAX_MS = 8 * 3_600_000;

export interface Session {
  user: string;
  admin: boolean;
  started: number;
  seen: number;
}

export class Sessions {
  private readonly live = new Map<string, Session>();
  private readonly clock: Clock;
  private readonly signIns: RateLimiter;

  constructor(clock: Clock) {
    this.clock = clock;
    this.signIns = new RateLimiter({ burst: 5, perMinute: 5, clock });
  }

  /** False when this address or this user id has tried too often; the attempt counts either way. */
  mayTry(address: string, user: string): boolean {
    const a = this.signIns.take(`addr:${address}`);
    const u = this.signIns.take(`user:${user.toLowerCase()}`);
    return a && u;
  }

  open(user: string, admin: boolean): string {
    const id = randomBytes(24).toString('base64url');
    const now = this.clock.now();
    setCapped(this.live, id, { user, admin, started: now, seen: now }, 50_000);
    return id;
  }

  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const s = this.live.get(id);
    if (!s) return undefined;
    const now = this.clock.now();
    if (now - s.seen > IDLE_MS || now - s.started > MAX_MS) {
      this.live.delete(id);
      return undefined;
    }
    s.seen = now;
    return s;
  }

  close(id: string | undefined): void {
    if (id) this.live.delete(id);
  }
}
