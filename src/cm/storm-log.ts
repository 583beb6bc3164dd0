/**
 * Per-client log lines under a storm, for every service that logs a line per client request
 * (DHCP, the registrar, the file services): up to `perSecond` lines a second are written; past
 * that they are counted by kind and one line a second says how many were held back. A phone's
 * boot is a few lines, a lab's boot storm thousands a second: writing each would cost more than
 * serving the requests, and nobody reads 10,000 lines a second. The counters (`sepi cm status`),
 * the lease and binding tables keep every one.
 */
import type { Clock } from '../common/clock.ts';

export const CLIENT_LINES_PER_SECOND = 200;

export class StormLog<E> {
  private readonly write: (e: E) => void;
  private readonly summary: (text: string) => void;
  private readonly clock: Clock;
  private readonly perSecond: number;
  private windowStart = -Infinity;
  private used = 0;
  private held = new Map<string, number>();
  private heldSince = 0;
  private summaryDue = false;

  /** `write` takes a line let through; `summary` the line for what was held back. */
  constructor(o: { write: (e: E) => void; summary: (text: string) => void; clock: Clock; perSecond?: number }) {
    this.write = o.write;
    this.summary = o.summary;
    this.clock = o.clock;
    this.perSecond = o.perSecond ?? CLIENT_LINES_PER_SECOND;
  }

  /** A line of kind `kind` (what the summary counts it as). */
  entry(kind: string, e: E): void {
    const now = this.clock.now();
    if (now - this.windowStart >= 1000) {
      this.summarize();
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used < this.perSecond) {
      this.used++;
      this.write(e);
      return;
    }
    if (this.held.size === 0) this.heldSince = now;
    this.held.set(kind, (this.held.get(kind) ?? 0) + 1);
    if (!this.summaryDue) {
      this.summaryDue = true;
      this.clock.timer(Math.max(0, this.windowStart + 1000 - now), () => this.summarize());
    }
  }

  /** The line for what was held back, if anything was. */
  summarize(): void {
    this.summaryDue = false;
    if (this.held.size === 0) return;
    const kinds = [...this.held].map(([kind, n]) => `${n} ${kind}`);
    const total = [...this.held.values()].reduce((a, b) => a + b, 0);
    const secs = Math.max(1, Math.round((this.clock.now() - this.heldSince) / 1000));
    this.held = new Map();
    this.summary(`storm: ${total} per-client lines held back over ${secs} s (${kinds.join(', ')}); more than ${this.perSecond} a second`);
  }
}
