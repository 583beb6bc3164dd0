/**
 * A transaction's named timers (A, B, E, F, G, H, I, J, K, L, M, and INVITE's 100 Trying), one
 * each at most: setting a name again replaces it, and none fires once the transaction is over.
 * Client and server transactions both keep theirs here.
 */
import type { Clock } from '../common/clock.ts';

export class TransactionTimers {
  /** Made at the first timer: a non-INVITE transaction over TCP ends without one (J is 0). */
  private cancels: Map<string, () => void> | undefined;
  private readonly clock: Clock;
  private readonly alive: () => boolean;

  constructor(clock: Clock, alive: () => boolean) {
    this.clock = clock;
    this.alive = alive;
  }

  set(name: string, ms: number, fn: () => void): void {
    const cancels = (this.cancels ??= new Map());
    cancels.get(name)?.();
    cancels.set(name, this.clock.timer(ms, () => {
      cancels.delete(name);
      if (this.alive()) fn();
    }));
  }

  clear(name: string): void {
    const cancels = this.cancels;
    if (!cancels) return;
    cancels.get(name)?.();
    cancels.delete(name);
  }

  clearAll(): void {
    const cancels = this.cancels;
    if (!cancels) return;
    for (const c of cancels.values()) c();
    cancels.clear();
  }
}
