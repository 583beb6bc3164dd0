/**
 * Wrong activation codes lock the guesser out: after `maxFailures` wrong codes from one key (a
 * phone's MAC, a source address) that key is refused for `lockMs`, whatever it sends, and told
 * for how long. 16 digits with a check digit leave 10^15 codes; 5 guesses per 15 minutes per
 * phone and per address put a brute force beyond any lab's lifetime. Memory is bounded (the
 * oldest keys are forgotten first); a restart forgets lockouts, which costs a guesser nothing
 * it could use.
 */
import type { Clock } from '../../common/clock.ts';
import { setCapped } from '../../common/capped-map.ts';

export class Lockout {
  private readonly state = new Map<string, { failures: number; lockedUntil: number }>();
  private readonly maxFailures: number;
  private readonly lockMs: number;
  private readonly clock: Clock;

  constructor(o: { maxFailures: number; lockMs: number; clock: Clock }) {
    this.maxFailures = o.maxFailures;
    this.lockMs = o.lockMs;
    this.clock = o.clock;
  }

  /** Milliseconds the key is still locked out for; 0 when it may try. */
  remainingMs(key: string): number {
    const s = this.state.get(key);
    if (!s) return 0;
    const left = s.lockedUntil - this.clock.now();
    if (s.lockedUntil && left <= 0) {
      this.state.delete(key);
      return 0;
    }
    return Math.max(0, left);
  }

  /** A wrong code from key; true when this one locked it out. */
  fail(key: string): boolean {
    const s = this.state.get(key) ?? { failures: 0, lockedUntil: 0 };
    s.failures++;
    if (s.failures >= this.maxFailures) s.lockedUntil = this.clock.now() + this.lockMs;
    setCapped(this.state, key, s);
    return s.lockedUntil > 0;
  }

  succeed(key: string): void {
    this.state.delete(key);
  }
}
