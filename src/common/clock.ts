/**
 * Time as a port. The firmware never calls setTimeout or Date directly: it asks its Clock, so a
 * test (or a fleet simulation) can run a 24-hour backoff or a DHCP renewal in milliseconds with
 * VirtualClock, while real phones use SystemClock.
 */
export interface Clock {
  /** Wall-clock milliseconds since the epoch (lease expiry, Date headers). */
  now(): number;
  /** Waits ms; rejects with signal.reason when the signal aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls fn after ms unless the returned cancel function runs first. */
  timer(ms: number, fn: () => void): () => void;
}

export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  timer(ms: number, fn: () => void): () => void {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  }
}

/**
 * A clock that only moves when told. Sleeping tasks wake in time order as `advance` passes
 * their deadline; real I/O (sockets) still runs for real, which is what lets a test pair a
 * virtual clock with a real server.
 */
export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly due = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  timer(ms: number, fn: () => void): () => void {
    const id = this.seq++;
    this.due.set(id, { at: this.t + Math.max(0, ms), fn });
    return () => this.due.delete(id);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const cancel = this.timer(ms, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      const onAbort = () => {
        cancel();
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** When the earliest waiting timer is due, if any. */
  nextDueAt(): number | undefined {
    let at: number | undefined;
    for (const e of this.due.values()) if (at === undefined || e.at < at) at = e.at;
    return at;
  }

  /** Number of timers waiting. */
  get pending(): number {
    return this.due.size;
  }

  /** Moves time forward by ms, firing due timers in order and letting promise callbacks run between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.due) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.due.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
    await settle();
  }
}

const settle = () => new Promise<void>((r) => setImmediate(r));
