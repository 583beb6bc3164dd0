/**
 * Where the DHCP service's lease batches are written: the companion's writer thread
 * (../writer-thread.ts) with lease-journal.ts's SQL — an address moving to another MAC evicts
 * the old row first — or, for in-memory databases, tests and the fallback, the journal itself
 * in the main thread.
 */
import type { LeaseRecord } from '../db.ts';
import { type BatchWriter, InlineWriter, WriterThread } from '../writer-thread.ts';
import { EVICT_SQL, type LeaseJournal, UPSERT_SQL } from './lease-journal.ts';

export type LeaseWriter = BatchWriter<LeaseRecord>;

/** In the calling thread, synchronously. */
export class InlineLeaseWriter extends InlineWriter<LeaseRecord> {
  constructor(journal: LeaseJournal) {
    super((batch) => journal.writeBatch(batch));
  }
}

/** In the writer thread, with its own connection to `path`; `inline` if the thread fails. */
export class WorkerLeaseWriter extends WriterThread<LeaseRecord> {
  constructor(path: string, inline: InlineLeaseWriter, note: (text: string) => void) {
    super(path, {
      what: 'lease',
      pragmas: 'PRAGMA secure_delete = ON;',
      statements: [EVICT_SQL, UPSERT_SQL],
      // r: [mac, address, state, expiresAt, vendorClass]
      apply: 's[0].run(r[1], r[0]); s[1].run(r[0], r[1], r[2], r[3], r[4]);',
      toRow: (l) => [l.mac, l.address, l.state, l.expiresAt, l.vendorClass],
    }, inline, note);
  }
}
