/**
 * A binary min-heap: push and pop in O(log n), peek in O(1). The pool's queues (addresses handed
 * back, leases by expiry, holds by end) use it with lazy deletion: an entry that no longer says
 * the truth is not searched for and removed, it is skipped when it reaches the top.
 */
export class MinHeap<T> {
  private readonly items: T[] = [];
  private readonly less: (a: T, b: T) => boolean;

  constructor(less: (a: T, b: T) => boolean) {
    this.less = less;
  }

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!this.less(a[i]!, a[up]!)) break;
      [a[i], a[up]] = [a[up]!, a[i]!];
      i = up;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    this.down(0);
    return top;
  }

  /** Keeps only the entries `keep` accepts, rebuilt in O(n): stale entries swept out past a bound. */
  retain(keep: (x: T) => boolean): void {
    const a = this.items;
    let n = 0;
    for (const x of a) if (keep(x)) a[n++] = x;
    a.length = n;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private down(i: number): void {
    const a = this.items;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
      if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
      if (m === i) return;
      [a[i], a[m]] = [a[m]!, a[i]!];
      i = m;
    }
  }
}
