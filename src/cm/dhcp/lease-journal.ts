/**
 * Lease writes, batched: the pool records each change here as it makes it in memory, and
 * `commit` writes everything recorded since the last commit in one SQLite transaction — one
 * COMMIT, so one fsync of the WAL (synchronous=FULL, db.ts) however many leases it carries.
 * That is group commit: the DHCP service holds the ACKs of a batch until the commit returns
 * (dhcp-service.ts), so an ACK never leaves before its lease is on disk, and a storm of
 * REQUESTs costs one fsync per batch instead of one per ACK.
 *
 * Writes are applied in the order they were made, each as db.saveLease does it: the row of
 * another MAC on the same address is deleted first (the pool only reuses an address whose
 * lease is over), then the MAC's row is inserted or updated. A commit that fails is rolled back
 * and its writes are dropped: their ACKs are never sent, so no client holds what the disk lacks.
 */
import { inOneTransaction } from '../writer-thread.ts';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { LeaseRecord } from '../db.ts';

/** Another MAC's row on the address goes first (UNIQUE(address)); then the MAC's own row. */
export const EVICT_SQL = 'DELETE FROM leases WHERE address = ? AND mac <> ?';
export const UPSERT_SQL = 'INSERT INTO leases (mac, address, state, expires_at, vendor_class) VALUES (?, ?, ?, ?, ?) ON CONFLICT(mac) DO UPDATE SET address = excluded.address, state = excluded.state, expires_at = excluded.expires_at, vendor_class = excluded.vendor_class';

export class LeaseJournal {
  private readonly db: DatabaseSync;
  private queued: LeaseRecord[] = [];
  private statements: { evict: StatementSync; upsert: StatementSync } | undefined;
  /** Commits done and leases written, for the bench and the tests. */
  readonly stats = { commits: 0, leases: 0, failures: 0 };

  constructor(db: DatabaseSync) {
    this.db = db;
  }

  /** A change the pool made in memory, to be written with the next batch. */
  record(lease: LeaseRecord): void {
    this.queued.push(lease);
  }

  get pending(): number {
    return this.queued.length;
  }

  /** What is queued, handed over to be written elsewhere (lease-writer.ts); the queue is empty after. */
  take(): LeaseRecord[] {
    const batch = this.queued;
    this.queued = [];
    return batch;
  }

  /** Writes what is queued in one transaction, in this thread. Throws (after rolling back) when the database does. */
  commit(): void {
    if (this.queued.length === 0) return;
    this.writeBatch(this.take());
  }

  /** One batch in one transaction, in this thread. */
  writeBatch(batch: readonly LeaseRecord[]): void {
    const s = (this.statements ??= { evict: this.db.prepare(EVICT_SQL), upsert: this.db.prepare(UPSERT_SQL) });
    try {
      inOneTransaction(this.db, () => {
        for (const l of batch) {
          s.evict.run(l.address, l.mac);
          s.upsert.run(l.mac, l.address, l.state, l.expiresAt, l.vendorClass);
        }
      });
    } catch (e) {
      this.stats.failures++;
      throw e;
    }
    this.stats.commits++;
    this.stats.leases += batch.length;
  }
}
