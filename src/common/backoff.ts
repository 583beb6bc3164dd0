/**
 * Waiting between tries, one way for every retry ladder: a named spec (first wait, cap, factor)
 * and the injected clock. A lab may scale every wait (`scale` 0.001 walks a 24-hour ladder in
 * seconds) while events keep reporting the nominal seconds; network timeouts are not backoffs
 * and are never scaled.
 */
import type { Clock } from './clock.ts';

export interface BackoffSpec {
  /** For logs and tests: which ladder this is. */
  readonly name: string;
  readonly firstSecs: number;
  readonly maxSecs: number;
  /** Growth per try; 2 (doubling) unless said. */
  readonly factor?: number;
}

export class Backoff {
  readonly spec: BackoffSpec;
  private readonly clock: Clock;
  private readonly scale: number;
  private nextSecs: number;
  private triesMade = 0;

  constructor(spec: BackoffSpec, clock: Clock, opts: { scale?: number } = {}) {
    if (!(spec.firstSecs > 0) || !(spec.maxSecs >= spec.firstSecs)) throw new RangeError(`backoff ${spec.name}: first must be > 0 and max >= first`);
    this.spec = spec;
    this.clock = clock;
    this.scale = opts.scale ?? 1;
    this.nextSecs = spec.firstSecs;
  }

  /** The nominal length of the next wait, in seconds (what the screen and events say). */
  get delaySecs(): number {
    return this.nextSecs;
  }

  /** Waits done since the last reset. */
  get tries(): number {
    return this.triesMade;
  }

  /** Sleeps the next wait (rejects when the signal aborts), then lengthens the one after. */
  async wait(signal?: AbortSignal): Promise<void> {
    const secs = this.nextSecs;
    this.triesMade++;
    this.nextSecs = Math.min(secs * (this.spec.factor ?? 2), this.spec.maxSecs);
    await this.clock.sleep(secs * 1000 * this.scale, signal);
  }

  /** After a success: the next failure starts the ladder again. */
  reset(): void {
    this.nextSecs = this.spec.firstSecs;
    this.triesMade = 0;
  }
}
