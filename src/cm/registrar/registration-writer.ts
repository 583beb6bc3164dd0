/**
 * Where the registrar's batches of bindings are written: the companion's writer thread
 * (../writer-thread.ts, as the DHCP leases are) with registration-book.ts's SQL, or, for
 * in-memory databases, tests and the fallback, the book itself in the main thread. Why a thread
 * and not batched transactions in the event loop: a commit is one fsync of the WAL, and in the
 * event loop that wait would stop every REGISTER, call and keep-alive behind it; in a thread
 * the loop goes on parsing and binding the next batch while the disk works, and the batch grows
 * with the load. The thread's connection leaves secure_delete off (the companion's own
 * connection has it on, for passwords): a binding holds no secret, and zeroing every page a
 * refresh overwrites would double the writes of a storm.
 */
import { type BatchWriter, InlineWriter, WriterThread } from '../writer-thread.ts';
import { DELETE_REGISTRATION_SQL, type RegistrationBook, type RegistrationWrite, UPSERT_REGISTRATION_SQL } from './registration-book.ts';

export type RegistrationWriter = BatchWriter<RegistrationWrite>;

/** In the calling thread, synchronously. */
export class InlineRegistrationWriter extends InlineWriter<RegistrationWrite> {
  constructor(book: RegistrationBook) {
    super((batch) => book.writeBatch(batch));
  }
}

/** In the writer thread, with its own connection to `path`; `inline` if the thread fails. */
export class WorkerRegistrationWriter extends WriterThread<RegistrationWrite> {
  constructor(path: string, inline: InlineRegistrationWriter, note: (text: string) => void) {
    super(path, {
      what: 'registration',
      statements: [UPSERT_REGISTRATION_SQL, DELETE_REGISTRATION_SQL],
      // A row to upsert in UPSERT's column order, or [device] to delete.
      apply: 'if (r.length === 1) s[1].run(r[0]); else s[0].run(...r);',
      toRow: (w) => w,
    }, inline, note);
  }
}
