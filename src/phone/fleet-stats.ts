/**
 * Fleet statistics as a subscriber: when each phone first reached the goal, and a summary with
 * what the stragglers were last doing, so a lab can see why.
 */
import type { Clock } from '../common/clock.ts';
import type { PhoneEvent, PhoneStatus } from './events.ts';
import { type UntilGoal, reaches } from './goals.ts';

interface Watched {
  subscribe(fn: (e: PhoneEvent) => void): () => void;
  readonly status: PhoneStatus;
}

export interface FleetSummary {
  count: number;
  reached: number;
  until: UntilGoal;
  timedOut: boolean;
  firstMs: number | null;
  medianMs: number | null;
  lastMs: number | null;
  rssBytes: number;
  heapUsedBytes: number;
  stragglers: Array<{ device: string; phase: string; last: string }>;
}

export class FleetStats {
  private readonly goal: UntilGoal;
  private readonly count: number;
  private readonly clock: Clock;
  private readonly started: number;
  private readonly reachedAt = new Map<string, number>();
  private allReached: () => void = () => {};
  private readonly all: Promise<void>;

  constructor(goal: UntilGoal, count: number, clock: Clock) {
    this.goal = goal;
    this.count = count;
    this.clock = clock;
    this.started = clock.now();
    this.all = new Promise((r) => (this.allReached = r));
  }

  watch(phone: Watched): void {
    const device = phone.status.deviceName;
    const unsubscribe = phone.subscribe((e) => {
      if (this.reachedAt.has(device) || !reaches(this.goal, e)) return;
      this.reachedAt.set(device, this.clock.now() - this.started);
      unsubscribe();
      if (this.reachedAt.size === this.count) this.allReached();
    });
  }

  /** Resolves true when the deadline passed first, false when every phone got there. */
  async settled(deadlineMs: number): Promise<boolean> {
    const deadline = new AbortController();
    const timedOut = await Promise.race([this.all.then(() => false), this.clock.sleep(deadlineMs, deadline.signal).then(() => true, () => false)]);
    deadline.abort();
    return timedOut;
  }

  summary(phones: Watched[], timedOut: boolean, mem: { rss: number; heapUsed: number }): FleetSummary {
    const times = [...this.reachedAt.values()].sort((a, b) => a - b);
    return {
      count: this.count, reached: this.reachedAt.size, until: this.goal, timedOut,
      firstMs: times[0] ?? null, medianMs: times[Math.floor(times.length / 2)] ?? null, lastMs: times.at(-1) ?? null,
      rssBytes: mem.rss, heapUsedBytes: mem.heapUsed,
      stragglers: phones
        .filter((p) => !this.reachedAt.has(p.status.deviceName))
        .slice(0, 20)
        .map((p) => ({ device: p.status.deviceName, phase: p.status.phase, last: p.status.problem ?? p.status.log.at(-1) ?? '' })),
    };
  }
}
