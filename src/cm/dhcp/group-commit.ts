/**
 * The DHCP server's replies through the companion's group commit (../group-commit.ts): an ACK,
 * which promises a lease, goes out once the commit that makes its lease durable is done, and
 * not at all if that commit failed (its client retransmits and is served again); every other
 * reply (OFFER, NAK) goes out at once. A change nobody waits for (a RELEASE) is committed soon
 * all the same.
 */
import { GroupCommit } from '../group-commit.ts';
import type { Outgoing } from './handler.ts';

export interface DhcpCommitOptions {
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

export class DhcpCommit {
  private readonly o: DhcpCommitOptions;
  private readonly group: GroupCommit;

  constructor(o: DhcpCommitOptions) {
    this.o = o;
    this.group = new GroupCommit({ commit: o.commit, pending: o.pending, defer: o.defer, maxBatch: o.maxBatch });
  }

  /** What handling one datagram produced (or nothing): sent now, or after the commit it needs. */
  submit(out: Outgoing | undefined): void {
    if (out?.afterCommit) return this.group.afterCommit((ok) => (ok ? this.o.send : this.o.dropped)(out));
    if (out) this.o.send(out);
    if (this.o.pending() > 0) this.group.schedule();
  }

  /** Resolves once everything queued so far is committed and its ACKs sent (or dropped). */
  drain(): Promise<void> {
    return this.group.drain();
  }

  /** Commits made, the ACKs they carried, the largest batch of ACKs, failures. */
  get stats(): { commits: number; acks: number; largest: number; failed: number } {
    const s = this.group.stats;
    return { commits: s.commits, acks: s.replies, largest: s.largest, failed: s.failed };
  }
}
