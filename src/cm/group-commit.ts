/**
 * Group commit: an answer that promises a change (a DHCP ACK, a REGISTER's 200) waits for the
 * commit that makes the change durable, so nothing acknowledged is lost on kill -9 or a power
 * cut; the answers of a burst share one commit (one fsync, by the writer thread:
 * writer-thread.ts). One commit is in flight at a time, so batches land in order, and a commit
 * starts
 *
 *  - `defer` after the first change of an idle spell, or at once at `maxBatch` changes. The
 *    registrar defers to the next turn of the event loop (setImmediate: every REGISTER of one
 *    TCP read joins the batch, and a lone REGISTER waits for no timer); the DHCP server waits
 *    2 ms, because its datagrams come one per callback;
 *  - right after the previous commit ends, with whatever arrived while it was being written:
 *    under load the batch grows with the load by itself, and the disk is never idle while
 *    answers wait; or `pace` ms after it ends. A commit costs the same for one change as for
 *    hundreds (a transaction, an fsync, a message to the writer thread and back), and when
 *    changes come one per connection (a phone opening a connection for each REGISTER) a commit
 *    that follows at once carries two or three: the registrar waits 2 ms between commits under
 *    load, which made its batches ten times larger and cut its CPU per REGISTER by a sixth
 *    (bench/registrar.ts (b)), for at most 2 ms more before a 200. A lone change after a quiet
 *    spell still waits only for `defer`.
 *
 * A failed commit runs its waiters with `false`: the registrar answers 500 instead of 200, the
 * DHCP server sends none of those ACKs (their clients retransmit).
 */
export interface GroupCommitOptions {
  /** Takes what is queued and writes it in one transaction; `done(false)` when that failed. */
  commit: (done: (ok: boolean) => void) => void;
  /** Changes queued and not yet handed to `commit`. */
  pending: () => number;
  /** Runs fn soon (the wait that lets a batch fill); setImmediate unless a test says otherwise. */
  defer?: (fn: () => void) => void;
  /** Commit without waiting when this many changes are queued. */
  maxBatch?: number;
  /** Ms between the end of a commit and the next, when changes wait (0: at once). */
  pace?: number;
  /** Runs fn after ms, returning its cancel: setTimeout (real time: it paces the disk) unless a test says otherwise. */
  timer?: (ms: number, fn: () => void) => () => void;
}

export class GroupCommit {
  private readonly o: GroupCommitOptions;
  private readonly defer: (fn: () => void) => void;
  private readonly maxBatch: number;
  private readonly pace: number;
  private waiting: Array<(ok: boolean) => void> = [];
  private scheduled = false;
  private writing = false;
  private readonly timer: (ms: number, fn: () => void) => () => void;
  /** Cancels the wait between two commits under load (pace), while it runs. */
  private paced: (() => void) | undefined;
  private idle: Array<() => void> = [];
  /** Commits made, the replies they carried, the largest batch of replies, failures. */
  readonly stats = { commits: 0, replies: 0, largest: 0, failed: 0 };

  constructor(o: GroupCommitOptions) {
    this.o = o;
    this.defer = o.defer ?? ((fn) => setImmediate(fn));
    this.maxBatch = o.maxBatch ?? 1024;
    this.pace = o.pace ?? 0;
    this.timer = o.timer ?? ((ms, fn) => {
      const t = setTimeout(fn, ms);
      return () => clearTimeout(t);
    });
  }

  /** Runs `then(true)` once every change queued so far is durable, `then(false)` if its commit failed. */
  afterCommit(then: (ok: boolean) => void): void {
    this.waiting.push(then);
    this.schedule();
  }

  /** A change was queued that nobody waits for (a connection closed): commit it soon all the same. */
  schedule(): void {
    if (this.paced && this.o.pending() >= this.maxBatch) return this.flush();
    if (this.writing || this.scheduled || this.paced) return;
    if (this.o.pending() >= this.maxBatch) return this.flush();
    this.scheduled = true;
    this.defer(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Commits what is queued now (unless a commit is in flight: what is queued follows it). */
  flush(): void {
    if (this.writing) return;
    this.paced?.();
    this.paced = undefined;
    if (this.o.pending() === 0) {
      // Nothing to write: whoever waits is waiting for writes already durable.
      const ready = this.waiting;
      this.waiting = [];
      for (const then of ready) then(true);
      for (const resolve of this.idle.splice(0)) resolve();
      return;
    }
    const batch = this.waiting;
    this.waiting = [];
    this.writing = true;
    this.o.commit((ok) => {
      this.writing = false;
      this.stats.commits++;
      this.stats.replies += batch.length;
      if (batch.length > this.stats.largest) this.stats.largest = batch.length;
      if (!ok) this.stats.failed++;
      for (const then of batch) then(ok);
      // What arrived during the write goes next, at once or after the pace; with nothing
      // left, drain() resolves now. A full batch does not wait for the pace.
      if (this.pace > 0 && this.o.pending() > 0 && this.o.pending() < this.maxBatch) {
        this.paced = this.timer(this.pace, () => {
          this.paced = undefined;
          this.flush();
        });
      } else this.flush();
    });
  }

  /** Resolves once everything queued so far is committed and its waiters ran. */
  drain(): Promise<void> {
    return new Promise((resolve) => {
      this.idle.push(resolve);
      this.flush();
    });
  }
}
