/**
 * Where the registrar's batches of bindings are written: a worker thread with its own
 * connection to the companion's database, as the DHCP leases are (dhcp/lease-writer.ts). Why a
 * thread and not batched transactions in the event loop: a commit is one fsync of the WAL
 * (synchronous=FULL, 0.2-1 ms here, mostly waiting on the disk), and in the event loop that
 * wait would stop every REGISTER, call and keep-alive behind it; in a thread the loop goes on
 * parsing and binding the next batch while the disk works, and the batch grows with the load.
 *
 * The worker's code is a string run with `eval` (the firmware bundles the CLI into one file,
 * where a worker file would not exist); it needs nothing but node:sqlite and the SQL of
 * registration-book.ts. Its connection leaves secure_delete off (the companion's own connection
 * has it on, for passwords): a binding holds no secret, and zeroing every page a refresh
 * overwrites would double the writes of a storm. If the worker cannot start or dies, the writer says so once and writes
 * in the main thread from then on: slower under a storm, never less durable.
 */
import { Worker } from 'node:worker_threads';
import { DELETE_REGISTRATION_SQL, type RegistrationBook, type RegistrationWrite, UPSERT_REGISTRATION_SQL } from './registration-book.ts';

export interface RegistrationWriter {
  /** Writes the batch in one transaction; `done` gets undefined once it is durable, or the error. */
  write(batch: readonly RegistrationWrite[], done: (error?: Error) => void): void;
  close(): Promise<void>;
}

/** In the calling thread, synchronously (in-memory databases, unit tests; the fallback). */
export class InlineRegistrationWriter implements RegistrationWriter {
  private readonly book: RegistrationBook;

  constructor(book: RegistrationBook) {
    this.book = book;
  }

  write(batch: readonly RegistrationWrite[], done: (error?: Error) => void): void {
    try {
      this.book.writeBatch(batch);
    } catch (e) {
      return done(e instanceof Error ? e : new Error(String(e)));
    }
    done();
  }

  async close(): Promise<void> {}
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.path);
db.exec('PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
const upsert = db.prepare(${JSON.stringify(UPSERT_REGISTRATION_SQL)});
const remove = db.prepare(${JSON.stringify(DELETE_REGISTRATION_SQL)});
parentPort.on('message', ({ id, rows }) => {
  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      for (const r of rows) {
        if (r.length === 1) remove.run(r[0]);
        else upsert.run(...r);
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
`;

/** In a worker thread with its own connection to `path`; falls back to `inline` if the worker fails. */
export class WorkerRegistrationWriter implements RegistrationWriter {
  private worker: Worker | undefined;
  private readonly inline: InlineRegistrationWriter;
  private readonly note: (text: string) => void;
  private readonly waiting = new Map<number, (error?: Error) => void>();
  private seq = 0;

  constructor(path: string, inline: InlineRegistrationWriter, note: (text: string) => void) {
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
      w.on('error', (e) => this.lost(`registration writer thread failed (${e.message}); writing registrations in the main thread`));
      w.on('exit', (code) => this.worker === w && this.lost(`registration writer thread exited (${code}); writing registrations in the main thread`));
      // Idle, the thread does not keep the process alive; a batch in flight does (write()).
      w.unref();
      this.worker = w;
    } catch (e) {
      this.note(`registration writer thread not started (${(e as Error).message}); writing registrations in the main thread`);
    }
  }

  write(batch: readonly RegistrationWrite[], done: (error?: Error) => void): void {
    if (!this.worker) return this.inline.write(batch, done);
    const id = ++this.seq;
    if (this.waiting.size === 0) this.worker.ref();
    this.waiting.set(id, done);
    this.worker.postMessage({ id, rows: batch });
  }

  /** The worker is gone: what it had not confirmed is failed (its 200s are not sent), the rest goes inline. */
  private lost(text: string): void {
    this.worker = undefined;
    this.note(text);
    const failed = [...this.waiting.values()];
    this.waiting.clear();
    for (const done of failed) done(new Error('registration writer thread lost'));
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
