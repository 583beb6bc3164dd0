/**
 * Where the companion's group commits are written: a worker thread with its own connection to
 * the companion's database, so a commit's fsync (0.2–1 ms, most of it waiting on the disk,
 * several under load) does not stop the event loop that answers DISCOVERs and REGISTERs. The
 * main thread hands a batch over, goes on serving, and sends the batch's answers when the
 * worker says it is committed; one batch is in flight at a time (the group commits), so batches
 * land in order. The DHCP leases (dhcp/lease-writer.ts) and the registrar's bindings
 * (registrar/registration-writer.ts) each have one, differing only in their SQL.
 *
 * The worker's code is a string run with `eval`, not a file: the firmware bundles the whole CLI
 * into one file (scripts/build-firmware.ts), where a worker file would not exist. It needs
 * nothing but node:sqlite: its statements, and the few lines that apply one row with them, come
 * in the `WriterSpec`. A commit is one transaction with synchronous=FULL: on disk when the
 * worker answers.
 *
 * If the worker cannot start or dies, the writer says so once and writes in the main thread
 * from then on (the subject's own `writeBatch`): slower under a storm, never less durable.
 */
import type { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';

export interface BatchWriter<T> {
  /** Writes the batch in one transaction; `done` gets undefined once it is durable, or the error. */
  write(batch: readonly T[], done: (error?: Error) => void): void;
  close(): Promise<void>;
}

/** In the calling thread, synchronously (unit tests, in-memory databases; the fallback). */
export class InlineWriter<T> implements BatchWriter<T> {
  private readonly writeBatch: (batch: readonly T[]) => void;

  constructor(writeBatch: (batch: readonly T[]) => void) {
    this.writeBatch = writeBatch;
  }

  write(batch: readonly T[], done: (error?: Error) => void): void {
    try {
      this.writeBatch(batch);
    } catch (e) {
      return done(e instanceof Error ? e : new Error(String(e)));
    }
    done();
  }

  async close(): Promise<void> {}
}

export interface WriterSpec<T> {
  /** What is written, for the notes: `lease` → "lease writer thread …; writing leases …". */
  what: string;
  /** Pragmas of the worker's connection beyond synchronous=FULL and a busy timeout. */
  pragmas?: string;
  /** SQL statements, prepared once; `apply` sees them as `s[0]`, `s[1]` … */
  statements: readonly string[];
  /** JavaScript source of the body of `(r, s) => { … }`: one row `r` applied with the statements `s`. */
  apply: string;
  /** A batch's entry as the row posted to the thread (structured-clonable). */
  toRow: (entry: T) => unknown;
}

const workerSource = (spec: WriterSpec<unknown>) => `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.path);
db.exec(${JSON.stringify(`PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; ${spec.pragmas ?? ''}`)});
const s = ${JSON.stringify(spec.statements)}.map((sql) => db.prepare(sql));
const apply = (r, s) => { ${spec.apply} };
parentPort.on('message', ({ id, rows }) => {
  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      for (const r of rows) apply(r, s);
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
export class WriterThread<T> implements BatchWriter<T> {
  private worker: Worker | undefined;
  private readonly spec: WriterSpec<T>;
  private readonly inline: BatchWriter<T>;
  private readonly note: (text: string) => void;
  private readonly waiting = new Map<number, (error?: Error) => void>();
  private seq = 0;

  constructor(path: string, spec: WriterSpec<T>, inline: BatchWriter<T>, note: (text: string) => void) {
    this.spec = spec;
    this.inline = inline;
    this.note = note;
    const fallback = `writing ${spec.what}s in the main thread`;
    try {
      const w = new Worker(workerSource(spec as WriterSpec<unknown>), { eval: true, workerData: { path } });
      w.on('message', (m: { id?: number; error?: string }) => {
        if (m.id === undefined) return;
        const done = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (this.waiting.size === 0) w.unref();
        done?.(m.error === undefined ? undefined : new Error(m.error));
      });
      w.on('error', (e) => this.lost(`${spec.what} writer thread failed (${e.message}); ${fallback}`));
      w.on('exit', (code) => this.worker === w && this.lost(`${spec.what} writer thread exited (${code}); ${fallback}`));
      // Idle, the thread does not keep the process alive; a batch in flight does (write()).
      w.unref();
      this.worker = w;
    } catch (e) {
      this.note(`${spec.what} writer thread not started (${(e as Error).message}); ${fallback}`);
    }
  }

  write(batch: readonly T[], done: (error?: Error) => void): void {
    if (!this.worker) return this.inline.write(batch, done);
    const id = ++this.seq;
    if (this.waiting.size === 0) this.worker.ref();
    this.waiting.set(id, done);
    this.worker.postMessage({ id, rows: batch.map(this.spec.toRow) });
  }

  /** The worker is gone: what it had not confirmed is failed (its answers are not sent), the rest goes inline. */
  private lost(text: string): void {
    this.worker = undefined;
    this.note(text);
    const failed = [...this.waiting.values()];
    this.waiting.clear();
    for (const done of failed) done(new Error(`${this.spec.what} writer thread lost`));
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

/** Runs `write` in one IMMEDIATE transaction on `db` (the inline writers' batch): all of it, or none. */
export function inOneTransaction(db: DatabaseSync, write: () => void): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    write();
    db.exec('COMMIT');
  } catch (e) {
    try {
      db.exec('ROLLBACK');
    } catch {
      // the database is gone: the first error is the one to report
    }
    throw e;
  }
}
