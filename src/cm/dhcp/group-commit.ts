/**
 * Group commit for the DHCP server: replies that promise a lease (ACKs) wait for the commit
 * that makes their lease durable; everything else goes out at once. One commit is in flight at
 * a time (so batches land in order), and a commit starts
 *
 *  - `defer` after the first change of an idle spell (a timer of a few ms: a lone REQUEST waits
 *    that and one fsync; a storm fills the batch meanwhile), or at once at `maxBatch` changes;
 *  - right after the previous commit ends, with whatever arrived while it was being written —
 *    under load the batch grows with the load by itself, and the disk is never idle while ACKs
 *    wait.
 *
 * The commit itself is asynchronous (lease-writer.ts writes in a worker thread, so the fsync
 * does not stop the event loop) or synchronous (the same call ends before it returns: tests).
 * A failed commit sends none of its ACKs: their clients retransmit and are served again.
 */
import type { Outgoing } from './handler.ts';

export interface GroupCommitOptions {
  /** Takes what is queued and writes it in one transaction; `done(false)` when that failed. */
  commit: (done: (ok: boolean) => void) => void;
  /** Lease changes queued and not yet handed to `commit`. */
  pending: () => number;
  send: (out: Outgoing) => void;
  /** An ACK whose lease could not be written: never sent. */
  dropped: (out: Outgoing) => void;
  /** Runs fn a little later (the wait that lets a batch fill). */
  defer: (fn: () => void) => void;
  /** Commit without waiting when this many changes are queued. */
  maxBatch: number;
}

export class GroupCommit {
  private readonly o: GroupCommitOptions;
  private waiting: Outgoing[] = [];
  private scheduled = false;
  private writing = false;
  private idle: Array<() => void> = [];
  /** Commits made, the ACKs they carried, the largest batch of ACKs, failures. */
  readonly stats = { commits: 0, acks: 0, largest: 0, failed: 0 };

  constructor(o: GroupCommitOptions) {
    this.o = o;
  }

  /** What handling one datagram produced (or nothing): sent now, or after the commit it needs. */
  submit(out: Outgoing | undefined): void {
    if (out && !out.afterCommit) this.o.send(out);
    else if (out) this.waiting.push(out);
    if (this.writing || (this.o.pending() === 0 && this.waiting.length === 0)) return;
    if (this.o.pending() >= this.o.maxBatch) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      this.o.defer(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Commits what is queued now (unless a commit is in flight: what is queued follows it). */
  flush(): void {
    if (this.writing) return;
    if (this.o.pending() === 0 && this.waiting.length === 0) {
      for (const resolve of this.idle.splice(0)) resolve();
      return;
    }
    const outs = this.waiting;
    this.waiting = [];
    this.writing = true;
    this.o.commit((ok) => {
      this.writing = false;
      this.stats.commits++;
      this.stats.acks += outs.length;
      if (outs.length > this.stats.largest) this.stats.largest = outs.length;
      if (!ok) this.stats.failed++;
      for (const out of outs) (ok ? this.o.send : this.o.dropped)(out);
      // What arrived during the write goes next, at once; with nothing left, drain() resolves.
      this.flush();
    });
  }

  /** Resolves once everything queued so far is committed and its ACKs sent (or dropped). */
  drain(): Promise<void> {
    return new Promise((resolve) => {
      this.idle.push(resolve);
      this.flush();
    });
  }

  /** ACKs waiting for a commit. */
  get waitingCount(): number {
    return this.waiting.length;
  }
}
