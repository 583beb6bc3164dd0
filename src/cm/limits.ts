/**
 * The companion's defences against one host on the LAN holding what others need: a token bucket
 * per key (a source address), and a log that says when a limit bites without letting the
 * attacker flood the log too (one line per limit and key a minute, with the count held back).
 * Both run on the Clock and keep bounded memory: the oldest keys are forgotten first.
 */
import { setCapped } from '../common/capped-map.ts';
import type { Clock } from '../common/clock.ts';


/** How many of something each key holds right now: connections or transfers per address. */
export class Tally {
  private readonly counts = new Map<string, number>();

  of(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  add(key: string): number {
    const n = this.of(key) + 1;
    this.counts.set(key, n);
    return n;
  }

  remove(key: string): void {
    const n = this.of(key) - 1;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
  }
}

/** `burst` at once, then `perMinute`; one bucket per key. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;
  private readonly perMs: number;
  private readonly clock: Clock;

  constructor(o: { burst: number; perMinute: number; clock: Clock }) {
    this.burst = o.burst;
    this.perMs = o.perMinute / 60_000;
    this.clock = o.clock;
  }

  /** Takes a token for key; false when the key has none left. */
  take(key: string): boolean {
    const now = this.clock.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.perMs);
    b.at = now;
    // Re-inserted: Map order is then least recently used first.
    setCapped(this.buckets, key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

/** "limit bit" lines: at most one a minute per limit and key, saying how many were held back. */
export class LimitLog {
  private readonly last = new Map<string, { at: number; held: number }>();
  private readonly log: (line: string) => void;
  private readonly clock: Clock;

  constructor(log: (line: string) => void, clock: Clock) {
    this.log = log;
    this.clock = clock;
  }

  bite(limit: string, key: string, words: string): void {
    const id = `${limit}|${key}`;
    const now = this.clock.now();
    const seen = this.last.get(id);
    if (seen && now - seen.at < 60_000) {
      seen.held++;
      return;
    }
    setCapped(this.last, id, { at: now, held: 0 });
    this.log(`limit ${limit} ${key}: ${words}${seen?.held ? ` (${seen.held} more in the last minute)` : ''}`);
  }
}
