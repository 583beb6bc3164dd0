/**
 * The pool's addresses nobody holds, lowest first, without a scan: a cursor that sweeps the
 * range once from the bottom (addresses never handed out since the companion started), and a
 * min-heap of addresses handed back below it (an offer that ran out, a declined address whose
 * hold is over, a lease that moved). `taken` says whether an address is held right now — a
 * lease row, an offer, a decline hold, the server's own address; the owner calls `add` whenever
 * an address stops being held, and entries that are taken again by the time they reach the top
 * are dropped there (lazy deletion). Each address is passed by the cursor once and enters the
 * heap once per hand-back, so `peek` is O(log n) amortized; memory is the heap, at most the
 * addresses handed back, never the size of the range.
 */
import { MinHeap } from './min-heap.ts';

export class FreeAddresses {
  private cursor: number;
  private readonly last: number;
  private readonly taken: (n: number) => boolean;
  private readonly heap = new MinHeap<number>((a, b) => a < b);
  /** What the heap holds, so an address handed back twice is queued once. */
  private readonly queued = new Set<number>();

  constructor(first: number, last: number, taken: (n: number) => boolean) {
    this.cursor = first;
    this.last = last;
    this.taken = taken;
  }

  /** The lowest address not taken now, or undefined when every one is. Takes nothing. */
  peek(): number | undefined {
    for (let top = this.heap.peek(); top !== undefined && this.taken(top); top = this.heap.peek()) {
      this.heap.pop();
      this.queued.delete(top);
    }
    while (this.cursor <= this.last && this.taken(this.cursor)) this.cursor++;
    const top = this.heap.peek();
    const next = this.cursor <= this.last ? this.cursor : undefined;
    if (top === undefined) return next;
    return next === undefined || top < next ? top : next;
  }

  /** An address is no longer held (the caller checked it is in the range). */
  add(n: number): void {
    if (n >= this.cursor || this.queued.has(n)) return;
    this.queued.add(n);
    this.heap.push(n);
  }

  /** Queued hand-backs (for tests: bounded by what was handed back, not by the range). */
  get backlog(): number {
    return this.heap.size;
  }
}
