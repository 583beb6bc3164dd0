/**
 * The registrar's bindings in memory, the database as their record (issue 12; the same shape
 * as the DHCP leases, docs/scale.md "Group commit"). Every binding is read once from the
 * `registrations` table on first use into a map by device name; a REGISTER then costs a map
 * lookup, and its write is queued here for the next group commit (../group-commit.ts)
 * instead of a synchronous SQLite statement and fsync of its own — that write was 58 % of the
 * companion's CPU per REGISTER.
 *
 * The queue is by device: a second change to the same device before the commit replaces the
 * first (rows of different devices are independent, so their order does not matter), which is
 * what a storm of refreshes, or of connections closing, needs. A removal is queued as well, so
 * that it lands after any write of the same device still in flight in the writer thread.
 */
import { inOneTransaction } from '../writer-thread.ts';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { RegistrationRecord } from '../db.ts';

export const UPSERT_REGISTRATION_SQL = `INSERT INTO registrations (device, mac, user, contact, call_id, source, model_code, active_load, member, registered_at, expires_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT(device) DO UPDATE SET mac = excluded.mac, user = excluded.user, contact = excluded.contact, call_id = excluded.call_id,
    source = excluded.source, model_code = excluded.model_code, active_load = excluded.active_load, member = excluded.member,
    registered_at = excluded.registered_at, expires_at = excluded.expires_at`;
export const DELETE_REGISTRATION_SQL = 'DELETE FROM registrations WHERE device = ?';

/** One queued change as the writer takes it: a row to upsert (in UPSERT's column order), or a device name to delete. */
export type RegistrationWrite = [device: string, mac: string, user: string, contact: string, callId: string, source: string, modelCode: number, activeLoad: string, member: string, registeredAt: number, expiresAt: number] | [device: string];

type Row = Record<string, unknown>;

const fromRow = (r: Row): RegistrationRecord => ({
  device: String(r['device']), mac: String(r['mac']), user: String(r['user']), contact: String(r['contact']), callId: String(r['call_id']),
  source: String(r['source']), modelCode: Number(r['model_code']), activeLoad: String(r['active_load']), member: String(r['member']),
  registeredAt: Number(r['registered_at']), expiresAt: Number(r['expires_at']),
});

const toWrite = (r: RegistrationRecord): RegistrationWrite => [r.device, r.mac, r.user, r.contact, r.callId, r.source, r.modelCode, r.activeLoad, r.member, r.registeredAt, r.expiresAt];

export class RegistrationBook {
  private readonly db: DatabaseSync;
  private readonly byDevice = new Map<string, RegistrationRecord>();
  private queued = new Map<string, RegistrationWrite>();
  private statements: { upsert: StatementSync; remove: StatementSync } | undefined;
  /** Told of every change queued (the registrar's commit schedules itself from it). */
  onQueued: (() => void) | undefined;

  constructor(db: DatabaseSync) {
    this.db = db;
    for (const r of db.prepare('SELECT * FROM registrations').all() as Row[]) {
      const reg = fromRow(r);
      this.byDevice.set(reg.device, reg);
    }
  }

  get(device: string): RegistrationRecord | undefined {
    return this.byDevice.get(device);
  }

  /** Every binding, by device name. */
  all(): RegistrationRecord[] {
    return [...this.byDevice.values()].sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
  }

  /** How many bindings expire after `now` (status). */
  current(now: number): number {
    let n = 0;
    for (const r of this.byDevice.values()) if (r.expiresAt > now) n++;
    return n;
  }

  /** Binds now (the next REGISTER sees it); durable at the next commit. */
  put(r: RegistrationRecord): void {
    this.byDevice.set(r.device, r);
    this.queued.set(r.device, toWrite(r));
    this.onQueued?.();
  }

  /** Forgets now; the row goes at the next commit. */
  remove(device: string): void {
    this.byDevice.delete(device);
    this.queued.set(device, [device]);
    this.onQueued?.();
  }

  /** Changes queued and not yet handed to a commit. */
  get pending(): number {
    return this.queued.size;
  }

  /** What is queued, handed over to be written (registration-writer.ts); the queue is empty after. */
  take(): RegistrationWrite[] {
    const batch = [...this.queued.values()];
    this.queued = new Map();
    return batch;
  }

  /** One batch in one transaction, in this thread (tests, and the fallback when the writer thread is gone). Throws after rolling back. */
  writeBatch(batch: readonly RegistrationWrite[]): void {
    const s = (this.statements ??= { upsert: this.db.prepare(UPSERT_REGISTRATION_SQL), remove: this.db.prepare(DELETE_REGISTRATION_SQL) });
    inOneTransaction(this.db, () => {
      for (const w of batch) {
        if (w.length === 1) s.remove.run(w[0]);
        else s.upsert.run(...w);
      }
    });
  }
}
