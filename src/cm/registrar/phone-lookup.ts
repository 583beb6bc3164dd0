/**
 * The phone a REGISTER names, from memory while the phones table is unchanged. Finding it in
 * SQLite (a prepared SELECT, a row object, the password opened with AES-GCM) was the largest
 * single cost of a REGISTER after the binding's write went to group commit.
 *
 * The cache is checked against `phones_version` (schema 13): a counter that triggers on the
 * phones table move at every INSERT, UPDATE or DELETE, made on whichever connection — the
 * companion's own, or an administrator's sqlite3 shell editing the file by hand (a cache keyed
 * on the companion's own connection, as this one was, kept serving a phone changed that way).
 * An unchanged counter means no phone changed; any change empties the cache. Reading it is one
 * row of a one-row table. Under a storm of refreshes the writer threads commit bindings and
 * leases, which leave the counter alone, and every lookup after the first is a map read.
 *
 * It holds the phones' opened passwords, as the registrar did for each REGISTER anyway, for as
 * long as nothing changes; at most MAX_ENTRIES of them.
 */
import type { StatementSync } from 'node:sqlite';
import type { CompanionDb, PhoneRecord } from '../db.ts';

const MAX_ENTRIES = 50_000;

export class PhoneLookup {
  private readonly db: CompanionDb;
  private readonly changes: StatementSync;
  private seen = -1;
  private readonly found = new Map<string, PhoneRecord | null>();

  constructor(db: CompanionDb) {
    this.db = db;
    this.changes = db.handle.prepare('SELECT n FROM phones_version WHERE id = 1');
  }

  /** A device registering with its name (SEP…) and MAC: known by the name, or by the MAC (added before it was seen). */
  byDevice(device: string, mac: string): PhoneRecord | undefined {
    return this.cached(`d:${device}`, () => this.db.phone(device) ?? this.db.phoneByMac(mac));
  }

  /** A line by its DN (third-party clients). */
  byDn(dn: string): PhoneRecord | undefined {
    return this.cached(`n:${dn}`, () => this.db.phoneByDn(dn));
  }

  private cached(key: string, read: () => PhoneRecord | undefined): PhoneRecord | undefined {
    // A counter row deleted by hand reads as changed every time (NaN equals nothing): slower, never stale.
    const n = Number((this.changes.get() as { n: number | bigint } | undefined)?.n ?? NaN);
    if (n !== this.seen || this.found.size >= MAX_ENTRIES) {
      this.found.clear();
      this.seen = n;
    }
    const hit = this.found.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const p = read();
    this.found.set(key, p ?? null);
    return p;
  }
}
