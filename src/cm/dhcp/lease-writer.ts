/**
 * Where the DHCP service's lease batches are written: a worker thread with its own connection
 * to the companion's database, so the fsync of each group commit (about 0.2-1 ms, most of it
 * waiting on the disk) does not stop the event loop that answers DISCOVERs. The main thread
 * hands a batch over, goes on serving, and sends the batch's ACKs when the worker says it is
 * committed; one batch is in flight at a time (group-commit.ts), so batches land in order.
 *
 * The worker's code is a string run with `eval`, not a file: the firmware bundles the whole CLI
 * into one file (scripts/build-firmware.ts), where a worker file would not exist. It needs
 * nothing but node:sqlite; the SQL is lease-journal.ts's. The same writes, the same pragmas
 * (WAL, synchronous=FULL: a commit is on disk when the worker answers).
 *
 * If the worker cannot start or dies, the writer says so once and writes in the main thread
 * from then on (LeaseJournal.writeBatch): slower under a storm, never less durable.
 */
import { Worker } from 'node:worker_threads';
import type { LeaseRecord } from '../db.ts';
import { EVICT_SQL, type LeaseJournal, UPSERT_SQL } from './lease-journal.ts';

export interface LeaseWriter {
  /** Writes the batch in one transaction; `done` gets undefined once it is durable, or the error. */
  write(batch: readonly LeaseRecord[], done: (error?: Error) => void): void;
  close(): Promise<void>;
}

/** In the calling thread, synchronously (unit tests; the fallback). */
export class InlineLeaseWriter implements LeaseWriter {
  private readonly journal: LeaseJournal;

  constructor(journal: LeaseJournal) {
    this.journal = journal;
  }

  write(batch: readonly LeaseRecord[], done: (error?: Error) => void): void {
    try {
      this.journal.writeBatch(batch);
    } catch (e) {
      return done(e instanceof Error ? e : new Error(String(e)));
    }
    done();
  }

  async close(): Promise<void> {}
}

type Row = [mac: string, address: string, state: string, expiresAt: number, vendorClass: string];

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.path);
db.exec('PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA secure_delete = ON;');
const evict = db.prepare(${JSON.stringify(EVICT_SQL)});
const upsert = db.prepare(${JSON.stringify(UPSERT_SQL)});
parentPort.on('message', ({ id, rows }) => {
  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      for (const r of rows) {
        evict.run(r[1], r[0]);
        upsert.run(r[0], r[1], r[2], r[3], r[4]);
      }
      db.exec('COMMIT');
    } catch (e) {
      try { db.exec('ROLLBACK'); } catch {}
      throw e;
    }
    parentPort.postMessage({ id });
  } catch (e) {
    parentPort.postMessage({ id, error: String(e && e.message || e) });
  }
});
parentPort.postMessage({ ready: true });
`;

/** In a worker thread with its own connection to `path`; falls back to `inline` if the worker fails. */
export class WorkerLeaseWriter implements LeaseWriter {
  private worker: Worker | undefined;
  private readonly inline: InlineLeaseWriter;
  private readonly note: (text: string) => void;
  private readonly waiting = new Map<number, (error?: Error) => void>();
  private seq = 0;

  constructor(path: string, inline: InlineLeaseWriter, note: (text: string) => void) {
    this.inline = inline;
    this.note = note;
    try {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { path } });
      w.on('message', (m: { id?: number; error?: string }) => {
        if (m.id === undefined) return;
        const done = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (this.waiting.size === 0) w.unref();
        done?.(m.error === undefined ? undefined : new Error(m.error));
      });
      w.on('error', (e) => this.lost(`lease writer thread failed (${e.message}); writing leases in the main thread`));
      w.on('exit', (code) => this.worker === w && this.lost(`lease writer thread exited (${code}); writing leases in the main thread`));
      // Idle, the thread does not keep the process alive; a batch in flight does (write()).
      w.unref();
      this.worker = w;
    } catch (e) {
      this.note(`lease writer thread not started (${(e as Error).message}); writing leases in the main thread`);
    }
  }

  write(batch: readonly LeaseRecord[], done: (error?: Error) => void): void {
    if (!this.worker) return this.inline.write(batch, done);
    const id = ++this.seq;
    if (this.waiting.size === 0) this.worker.ref();
    this.waiting.set(id, done);
    const rows: Row[] = batch.map((l) => [l.mac, l.address, l.state, l.expiresAt, l.vendorClass]);
    this.worker.postMessage({ id, rows });
  }

  /** The worker is gone: what it had not confirmed is failed (its ACKs stay unsent), the rest goes inline. */
  private lost(text: string): void {
    this.worker = undefined;
    this.note(text);
    const failed = [...this.waiting.values()];
    this.waiting.clear();
    for (const done of failed) done(new Error('lease writer thread lost'));
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
