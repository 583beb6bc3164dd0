/**
 * A transaction's named timers (A, B, E, F, G, H, I, J, K, L, M, and INVITE's 100 Trying), one
 * each at most: setting a name again replaces it, and none fires once the transaction is over.
 * Client and server transactions both keep theirs here.
 */
import type { Clock } from '../common/clock.ts';

export class TransactionTimers {
  private readonly cancels = new Map<string, () => void>();
  private readonly clock: Clock;
  private readonly alive: () => boolean;

  constructor(clock: Clock, alive: () => boolean) {
    this.clock = clock;
    this.alive = alive;
  }

  set(name: string, ms: number, fn: () => void): void {
    this.cancels.get(name)?.();
    this.cancels.set(name, this.clock.timer(ms, () => {
      this.cancels.delete(name);
      if (this.alive()) fn();
    }));
  }

  clear(name: string): void {
    this.cancels.get(name)?.();
    this.cancels.delete(name);
  }

  clearAll(): void {
    for (const c of this.cancels.values()) c();
    this.cancels.clear();
  }
}
