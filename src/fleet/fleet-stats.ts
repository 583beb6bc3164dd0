/**
 * Fleet statistics as a subscriber on every phone: when each phone first got its lease, its
 * configuration and its registration (each as the phone measures it, `t` since its power-on),
 * how many are at each step right now (the live progress), the failures by step and reason, and
 * at the end percentiles per step and what the stragglers were last doing, so a lab sees why.
 * A phone holds three numbers here, not its events: 10,000 phones cost kilobytes.
 */
import type { Clock } from '../common/clock.ts';
import type { PhoneEvent, PhoneStatus } from '../phone/events.ts';
import { type UntilGoal, reaches } from '../phone/goals.ts';

interface Watched {
  subscribe(fn: (e: PhoneEvent) => void): () => void;
  readonly status: PhoneStatus;
}

export const FLEET_STEPS = ['dhcp', 'config', 'register'] as const;
export type FleetStep = (typeof FLEET_STEPS)[number];

export interface Percentiles {
  n: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export interface FleetProgress {
  /** Milliseconds since the fleet started. */
  t: number;
  poweredOn: number;
  dhcp: number;
  config: number;
  register: number;
  reached: number;
  failures: number;
}

export interface FleetSummary {
  count: number;
  reached: number;
  until: UntilGoal;
  timedOut: boolean;
  /** Time from the fleet's start to each phone reaching the goal. */
  firstMs: number | null;
  medianMs: number | null;
  lastMs: number | null;
  /** Per step, each phone's time from its own power-on to the step done. */
  steps: Record<FleetStep, Percentiles>;
  /** Failures and retries, counted by `step: reason`. */
  failures: Record<string, number>;
  rssBytes: number;
  heapUsedBytes: number;
  /** (RSS after − RSS before the phones) / phones. */
  rssPerPhoneBytes: number | null;
  /** CPU time of the fleet process (user + system) over the run. */
  cpuMs: number;
  stragglers: Array<{ device: string; phase: string; last: string }>;
}

const MAX_REASONS = 50;

/** The nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const percentiles = (values: number[]): Percentiles => {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s.at(-1) ?? null };
};

/** A failure's kind without the parts that differ per phone (addresses, numbers). */
const reasonOf = (e: Extract<PhoneEvent, { type: 'event' }>): string => {
  const r = 'reason' in e && typeof e.reason === 'string' ? e.reason : e.message;
  return `${e.step}: ${r.replace(/\d+\.\d+\.\d+\.\d+(:\d+)?/g, 'ADDR').replace(/\b\d+\b/g, 'N').slice(0, 80)}`;
};

export class FleetStats {
  private readonly goal: UntilGoal;
  private readonly count: number;
  private readonly clock: Clock;
  private readonly started: number;
  private readonly reachedAt = new Map<string, number>();
  private readonly stepTimes: Record<FleetStep, number[]> = { dhcp: [], config: [], register: [] };
  private readonly failureCounts = new Map<string, number>();
  private failureTotal = 0;
  private poweredOn = 0;
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
    const seen = new Set<FleetStep>();
    this.poweredOn++;
    phone.subscribe((e) => {
      if (e.type !== 'event') return;
      if (e.state === 'fail' || e.state === 'retry') this.fail(e);
      const step = e.step === 'dhcp' || e.step === 'config' || e.step === 'register' ? e.step : e.step === 'profile' ? 'config' : undefined;
      if (e.state === 'done' && step && !seen.has(step)) {
        seen.add(step);
        this.stepTimes[step].push(e.t);
      }
      if (!this.reachedAt.has(device) && reaches(this.goal, e)) {
        this.reachedAt.set(device, this.clock.now() - this.started);
        if (this.reachedAt.size === this.count) this.allReached();
      }
    });
  }

  private fail(e: Extract<PhoneEvent, { type: 'event' }>): void {
    this.failureTotal++;
    const key = reasonOf(e);
    if (this.failureCounts.has(key) || this.failureCounts.size < MAX_REASONS) this.failureCounts.set(key, (this.failureCounts.get(key) ?? 0) + 1);
    else this.failureCounts.set('other', (this.failureCounts.get('other') ?? 0) + 1);
  }

  /** When the phone reached the goal (ms since the fleet started), or undefined. */
  reachedMs(device: string): number | undefined {
    return this.reachedAt.get(device);
  }

  progress(): FleetProgress {
    return {
      t: this.clock.now() - this.started, poweredOn: this.poweredOn,
      dhcp: this.stepTimes.dhcp.length, config: this.stepTimes.config.length, register: this.stepTimes.register.length,
      reached: this.reachedAt.size, failures: this.failureTotal,
    };
  }

  /** Resolves true when the deadline passed first, false when every phone got there. */
  async settled(deadlineMs: number): Promise<boolean> {
    const deadline = new AbortController();
    const timedOut = await Promise.race([this.all.then(() => false), this.clock.sleep(deadlineMs, deadline.signal).then(() => true, () => false)]);
    deadline.abort();
    return timedOut;
  }

  summary(phones: Watched[], timedOut: boolean, mem: { rss: number; heapUsed: number }, rssBefore?: number, cpu: { user: number; system: number } = { user: 0, system: 0 }): FleetSummary {
    const times = [...this.reachedAt.values()].sort((a, b) => a - b);
    return {
      count: this.count, reached: this.reachedAt.size, until: this.goal, timedOut,
      firstMs: times[0] ?? null, medianMs: percentile(times, 50), lastMs: times.at(-1) ?? null,
      steps: { dhcp: percentiles(this.stepTimes.dhcp), config: percentiles(this.stepTimes.config), register: percentiles(this.stepTimes.register) },
      failures: Object.fromEntries([...this.failureCounts].sort((a, b) => b[1] - a[1])),
      rssBytes: mem.rss, heapUsedBytes: mem.heapUsed,
      rssPerPhoneBytes: rssBefore === undefined || phones.length === 0 ? null : Math.round((mem.rss - rssBefore) / phones.length),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      stragglers: phones
        .filter((p) => !this.reachedAt.has(p.status.deviceName))
        .slice(0, 20)
        .map((p) => ({ device: p.status.deviceName, phase: p.status.phase, last: p.status.problem ?? p.status.log.at(-1) ?? '' })),
    };
  }
}
