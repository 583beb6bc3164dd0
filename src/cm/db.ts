/**
 * The companion's store: one SQLite database (node:sqlite) in the data folder. WAL mode with
 * synchronous=FULL so a committed change survives a power cut; the schema version lives in
 * PRAGMA user_version and migrations run forward on open, each in one transaction.
 *
 * Devices are keyed by device name (`SEP<MAC>`, or `BAT…` for one provisioned without a MAC,
 * see device-name.ts); the MAC is unique when known. Leases stay keyed by MAC: DHCP knows
 * nothing else. Registrations are keyed by the device name the phone registered with.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { join } from 'node:path';
import { SECRETS_KEY_FILE, SecretBox } from './secrets.ts';
import { RegistrationBook } from './registrar/registration-book.ts';

export interface PhoneRecord {
  /** `SEP<MAC>` or `BAT…` (device-name.ts). */
  deviceName: string;
  /** 12 upper-case hex digits; null for a BAT device. */
  mac: string | null;
  model: string;
  dn: string;
  description: string;
  /** Digest password for the line; empty means the registrar does not challenge. */
  password: string;
  autoregistered: boolean;
  createdAt: string;
  versionStamp: string;
}

/** What CAPF does for a phone at its next session (reference cisco-boot-protocol.md §7). */
export type CertificateOperation = 'none' | 'install' | 'delete';
/** How the phone proves itself to CAPF: an authentication string typed on it, nothing, or the LSC it has. */
export type CapfAuth = 'string' | 'null-string' | 'lsc';

export interface PhoneCertificate {
  operation: CertificateOperation;
  auth: CapfAuth;
  /** scrypt hash of the authentication string (common/password-hash.ts); empty unless auth is `string`. */
  authStringHash: string;
  keySize: number;
  /** The locally significant certificate CAPF issued, PEM; empty when none. */
  lsc: string;
  /** Serve the full configuration only encrypted for the LSC (TFTP Encrypted Config). */
  encryptedConfig: boolean;
  /**
   * An LSC sent to the phone whose "stored" answer never came (a power cut, a dropped
   * connection): the phone may hold it, so it is accepted as proof next time, and then recorded.
   */
  lscPending: string;
}

export interface LeaseRecord {
  mac: string;
  address: string;
  state: 'bound' | 'released';
  expiresAt: number;
  vendorClass: string;
}

export interface RegistrationRecord {
  device: string;
  mac: string;
  user: string;
  contact: string;
  callId: string;
  source: string;
  modelCode: number;
  activeLoad: string;
  member: string;
  registeredAt: number;
  expiresAt: number;
}

/** Every schema version's migration, in order (exported for the migration tests, which build an older database with them). */
export const MIGRATIONS = [
  `CREATE TABLE phones (
     mac TEXT PRIMARY KEY CHECK (length(mac) = 12),
     model TEXT NOT NULL,
     dn TEXT NOT NULL UNIQUE,
     description TEXT NOT NULL DEFAULT '',
     password TEXT NOT NULL DEFAULT '',
     autoregistered INTEGER NOT NULL DEFAULT 0,
     created_at TEXT NOT NULL,
     version_stamp TEXT NOT NULL
   );
   CREATE TABLE leases (
     mac TEXT PRIMARY KEY,
     address TEXT NOT NULL UNIQUE,
     state TEXT NOT NULL,
     expires_at INTEGER NOT NULL,
     vendor_class TEXT NOT NULL DEFAULT ''
   );
   CREATE TABLE registrations (
     device TEXT PRIMARY KEY,
     mac TEXT NOT NULL,
     user TEXT NOT NULL,
     contact TEXT NOT NULL,
     call_id TEXT NOT NULL,
     source TEXT NOT NULL,
     model_code INTEGER NOT NULL,
     active_load TEXT NOT NULL,
     member TEXT NOT NULL,
     registered_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );`,
  `CREATE TABLE settings (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );`,
  // 3: phones keyed by device name, MAC nullable (BAT devices) and unique when present.
  `CREATE TABLE phones_by_name (
     device_name TEXT PRIMARY KEY CHECK (length(device_name) = 15 AND substr(device_name, 1, 3) IN ('SEP', 'BAT')),
     mac TEXT UNIQUE CHECK (mac IS NULL OR length(mac) = 12),
     model TEXT NOT NULL,
     dn TEXT NOT NULL UNIQUE,
     description TEXT NOT NULL DEFAULT '',
     password TEXT NOT NULL DEFAULT '',
     autoregistered INTEGER NOT NULL DEFAULT 0,
     created_at TEXT NOT NULL,
     version_stamp TEXT NOT NULL
   );
   INSERT INTO phones_by_name (device_name, mac, model, dn, description, password, autoregistered, created_at, version_stamp)
     SELECT 'SEP' || upper(mac), upper(mac), model, dn, description, password, autoregistered, created_at, version_stamp FROM phones;
   DROP TABLE phones;
   ALTER TABLE phones_by_name RENAME TO phones;`,
  // 4: when an autoregistered phone first registered on its own file; one that never does is
  // let go after a while, so a flood of made-up MACs cannot hold the DN range for good. Phones
  // carried forward from version 3 count as settled.
  `ALTER TABLE phones ADD COLUMN own_file_at INTEGER;
   UPDATE phones SET own_file_at = 0;`,
  // 5: CAPF (the operation pending, how the phone authenticates, the LSC issued) and TFTP
  // Encrypted Config, per phone as CUCM keeps them in the phone's security profile.
  `ALTER TABLE phones ADD COLUMN capf_operation TEXT NOT NULL DEFAULT 'none' CHECK (capf_operation IN ('none', 'install', 'delete'));
   ALTER TABLE phones ADD COLUMN capf_auth TEXT NOT NULL DEFAULT 'null-string' CHECK (capf_auth IN ('string', 'null-string', 'lsc'));
   ALTER TABLE phones ADD COLUMN capf_auth_string TEXT NOT NULL DEFAULT '';
   ALTER TABLE phones ADD COLUMN capf_key_size INTEGER NOT NULL DEFAULT 2048;
   ALTER TABLE phones ADD COLUMN lsc TEXT NOT NULL DEFAULT '';
   ALTER TABLE phones ADD COLUMN encrypted_config INTEGER NOT NULL DEFAULT 0;`,
  // 6: activation-code onboarding (src/cm/activation/): Device Defaults per model, end users
  // owning phones, outstanding codes (a salt and a keyed hash, never the code), the audit log.
  `CREATE TABLE device_defaults (
     model TEXT PRIMARY KEY,
     onboarding TEXT NOT NULL CHECK (onboarding IN ('auto-registration', 'activation-code'))
   );
   CREATE TABLE users (
     id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
     name TEXT NOT NULL DEFAULT '',
     password_hash TEXT NOT NULL,
     pin_hash TEXT NOT NULL DEFAULT '',
     primary_dn TEXT NOT NULL DEFAULT '',
     admin INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL
   );
   ALTER TABLE phones ADD COLUMN owner TEXT REFERENCES users(id) ON DELETE SET NULL;
   ALTER TABLE phones ADD COLUMN requires_code INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE activation_codes (
     device_name TEXT PRIMARY KEY REFERENCES phones(device_name) ON DELETE CASCADE ON UPDATE CASCADE,
     salt TEXT NOT NULL,
     code_hash TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE TABLE audit (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     actor TEXT NOT NULL,
     action TEXT NOT NULL,
     device TEXT NOT NULL DEFAULT '',
     source TEXT NOT NULL DEFAULT '',
     result TEXT NOT NULL DEFAULT ''
   );`,
  // 7: BAT phone templates (Bulk Administration > Phones > Phone Template).
  `CREATE TABLE phone_templates (
     name TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
     model TEXT NOT NULL,
     device_pool TEXT NOT NULL DEFAULT 'Default',
     requires_code INTEGER NOT NULL DEFAULT 0,
     owner TEXT REFERENCES users(id) ON DELETE SET NULL
   );`,
  // 8: the LSC sent and not yet confirmed by the phone (capf-server.ts).
  `ALTER TABLE phones ADD COLUMN lsc_pending TEXT NOT NULL DEFAULT '';`,
  // 9: Multiplatform phones (src/cm/edos/): the EDOS stand-in's answer per MAC or per model, and
  // per MAC an uploaded flat profile merged over the generated one and its --key (sealed).
  `CREATE TABLE edos_rules (
     scope TEXT NOT NULL CHECK (scope IN ('mac', 'model')),
     target TEXT NOT NULL CHECK (length(target) BETWEEN 1 AND 12),
     kind TEXT NOT NULL CHECK (kind IN ('redirect', 'none', 'fault')),
     value TEXT NOT NULL DEFAULT '',
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (scope, target)
   );
   CREATE TABLE mpp_profiles (
     mac TEXT PRIMARY KEY CHECK (length(mac) = 12),
     profile TEXT NOT NULL DEFAULT '',
     profile_key TEXT NOT NULL DEFAULT '',
     updated_at INTEGER NOT NULL
   );`,
  // 10: firmware loads (src/cm/loads.ts): Device Defaults' load per device type (the default
  // file's loadInformationNNN, over the configuration file's map) and a phone's own load.
  `CREATE TABLE default_loads (
     code INTEGER PRIMARY KEY,
     model TEXT NOT NULL,
     load TEXT NOT NULL CHECK (length(load) BETWEEN 1 AND 128),
     updated_at INTEGER NOT NULL
   );
   ALTER TABLE phones ADD COLUMN load_information TEXT NOT NULL DEFAULT '' CHECK (length(load_information) <= 128);`,
  // 11: the self-provisioning IVR (src/cm/ivr/): the user profile's "Allow End User to Provision
  // their own phones", its limit, and how many phones the user provisioned through the IVR.
  `ALTER TABLE users ADD COLUMN self_provisioning INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE users ADD COLUMN provision_limit INTEGER NOT NULL DEFAULT 10 CHECK (provision_limit BETWEEN 0 AND 10000);
   ALTER TABLE users ADD COLUMN provisioned INTEGER NOT NULL DEFAULT 0;`,
  // 12: universal device and line templates, user profiles naming them (src/cm/templates/), and
  // per phone what the templates gave it when they were applied (autoregistration, the IVR):
  // its device pool, speed dials and line 1's display name, label and external number. A user
  // without a profile keeps the self-provisioning flag and limit of version 11 (its implicit
  // profile); a user with one takes them from the profile.
  `CREATE TABLE device_templates (
     name TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
     description TEXT NOT NULL DEFAULT '',
     device_pool TEXT NOT NULL DEFAULT 'Default',
     speed_dials TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(speed_dials))
   );
   CREATE TABLE line_templates (
     name TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
     display_name TEXT NOT NULL DEFAULT '',
     label TEXT NOT NULL DEFAULT '',
     external_mask TEXT NOT NULL DEFAULT ''
   );
   CREATE TABLE user_profiles (
     name TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
     device_template TEXT REFERENCES device_templates(name),
     line_template TEXT REFERENCES line_templates(name),
     self_provisioning INTEGER NOT NULL DEFAULT 0,
     provision_limit INTEGER NOT NULL DEFAULT 10 CHECK (provision_limit BETWEEN 0 AND 10000)
   );
   ALTER TABLE users ADD COLUMN profile TEXT REFERENCES user_profiles(name);
   CREATE TABLE applied_templates (
     device_name TEXT PRIMARY KEY REFERENCES phones(device_name) ON DELETE CASCADE ON UPDATE CASCADE,
     device_template TEXT NOT NULL DEFAULT '',
     line_template TEXT NOT NULL DEFAULT '',
     device_pool TEXT NOT NULL DEFAULT 'Default',
     speed_dials TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(speed_dials)),
     display_name TEXT NOT NULL DEFAULT '',
     line_label TEXT NOT NULL DEFAULT '',
     external_number TEXT NOT NULL DEFAULT ''
   );`,
  // 13: a counter of changes to the phones table, kept by triggers whichever connection makes
  // them — the companion's, its admin tools', or the sqlite3 shell of an administrator editing
  // by hand. The registrar keeps the phones it looked up while the counter stands still
  // (registrar/phone-lookup.ts); the writer threads' commits of leases and bindings leave it.
  `CREATE TABLE phones_version (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
   INSERT INTO phones_version (id, n) VALUES (1, 0);
   CREATE TRIGGER phones_version_insert AFTER INSERT ON phones BEGIN UPDATE phones_version SET n = n + 1 WHERE id = 1; END;
   CREATE TRIGGER phones_version_update AFTER UPDATE ON phones BEGIN UPDATE phones_version SET n = n + 1 WHERE id = 1; END;
   CREATE TRIGGER phones_version_delete AFTER DELETE ON phones BEGIN UPDATE phones_version SET n = n + 1 WHERE id = 1; END;`,
];

/** The schema this code writes (PRAGMA user_version). */
export const SCHEMA_VERSION = MIGRATIONS.length;

type Row = Record<string, unknown>;

/** A phone row as stored: its password still sealed (secrets.ts). */
const phoneFrom = (r: Row): PhoneRecord => ({
  deviceName: String(r['device_name']), mac: r['mac'] === null ? null : String(r['mac']), model: String(r['model']), dn: String(r['dn']), description: String(r['description']),
  password: String(r['password']), autoregistered: Number(r['autoregistered']) === 1, createdAt: String(r['created_at']), versionStamp: String(r['version_stamp']),
});

/**
 * What phoneFrom reads: the lookups made on every REGISTER fetch only these, not the whole row
 * (an LSC and its pending copy are kilobytes of PEM each).
 */
const PHONE_COLUMNS = 'device_name, mac, model, dn, description, password, autoregistered, created_at, version_stamp';

const leaseFrom = (r: Row): LeaseRecord => ({
  mac: String(r['mac']), address: String(r['address']), state: String(r['state']) as LeaseRecord['state'], expiresAt: Number(r['expires_at']), vendorClass: String(r['vendor_class']),
});

export class CompanionDb {
  private readonly db: DatabaseSync;
  private readonly box: SecretBox;
  private book: RegistrationBook | undefined;
  /** Lookups the registrar makes on every REGISTER, prepared once: preparing costs more than running them. */
  private readonly statements = new Map<string, StatementSync>();

  constructor(dataDir: string) {
    this.db = new DatabaseSync(join(dataDir, 'companion.sqlite'));
    // secure_delete: what is deleted or overwritten (a password before it was sealed) is zeroed,
    // not left in free pages for whoever copies the file.
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA secure_delete = ON;');
    const version = this.version;
    if (version > MIGRATIONS.length) {
      this.db.close();
      throw new Error(`${join(dataDir, 'companion.sqlite')} has schema version ${version}; this sepi knows versions up to ${MIGRATIONS.length}`);
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.exec('BEGIN');
      try {
        this.db.exec(MIGRATIONS[v]!);
        this.db.exec(`PRAGMA user_version = ${v + 1}`);
        this.db.exec('COMMIT');
      } catch (e) {
        this.db.exec('ROLLBACK');
        throw e;
      }
    }
    this.box = SecretBox.open(dataDir);
    this.sealPlainPasswords();
  }

  /**
   * Passwords written by a release that stored them plain are sealed now, in one transaction. A
   * key made just now cannot open passwords sealed under another: refuse to run rather than
   * serve configuration files with garbage passwords.
   */
  private sealPlainPasswords(): void {
    const rows = this.db.prepare("SELECT device_name, password FROM phones WHERE password <> ''").all() as Row[];
    if (this.box.fresh && rows.some((r) => SecretBox.isSealed(String(r['password'])))) {
      this.db.close();
      throw new Error(`the database holds sealed passwords but ${SECRETS_KEY_FILE} was missing (a new one was made): restore the data folder's ${SECRETS_KEY_FILE}`);
    }
    const plain = rows.filter((r) => !SecretBox.isSealed(String(r['password'])));
    if (plain.length === 0) return;
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const update = this.db.prepare('UPDATE phones SET password = ? WHERE device_name = ?');
      for (const r of plain) update.run(this.box.seal(String(r['password']), String(r['device_name'])), String(r['device_name']));
      this.db.exec('COMMIT');
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
    // The plain values' old pages go from the WAL into the file, zeroed, and the WAL is emptied.
    this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  }

  private cached(sql: string): StatementSync {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /** A phone as the companion uses it: its password open. */
  private opened(r: Row): PhoneRecord {
    const p = phoneFrom(r);
    return { ...p, password: this.box.open(p.password, p.deviceName) };
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` in one transaction: all of it is written, or none of it (a thrown error rolls back). */
  transaction<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const v = fn();
      this.db.exec('COMMIT');
      return v;
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
  }

  /**
   * Gives a device another name — `BAT…` → `SEP<MAC>` when an admin types its MAC, `SEP…` →
   * `BAT…` when the MAC is blanked (a damaged phone replaced) — re-sealing its password under the
   * new name. Its outstanding code follows (ON UPDATE CASCADE); a registration under the old
   * name is dropped.
   */
  renamePhone(from: string, to: string, mac: string | null, versionStamp: string): void {
    const p = this.phone(from);
    if (!p) throw new Error(`no phone ${from}`);
    this.transaction(() => {
      this.db.prepare('UPDATE phones SET device_name = ?, mac = ?, password = ?, version_stamp = ? WHERE device_name = ?').run(to, mac, this.box.seal(p.password, to), versionStamp, from);
      this.db.prepare('DELETE FROM registrations WHERE device = ?').run(from);
    });
    this.forgetRegistration(from);
  }

  /** The open database, for the stores of other subjects (activation/store.ts) that share it. */
  get handle(): DatabaseSync {
    return this.db;
  }

  /** The data folder's secrets (a store seals with it or derives its own key from it). */
  get secrets(): SecretBox {
    return this.box;
  }

  // ---- phones -------------------------------------------------------------------------------

  phones(): PhoneRecord[] {
    return (this.db.prepare('SELECT * FROM phones ORDER BY dn').all() as Row[]).map((r) => this.opened(r));
  }

  /** The schema version of the open database. */
  get version(): number {
    return Number((this.db.prepare('PRAGMA user_version').get() as Row)['user_version']);
  }

  phone(deviceName: string): PhoneRecord | undefined {
    const r = this.cached(`SELECT ${PHONE_COLUMNS} FROM phones WHERE device_name = ?`).get(deviceName) as Row | undefined;
    return r && this.opened(r);
  }

  phoneByMac(mac: string): PhoneRecord | undefined {
    const r = this.cached(`SELECT ${PHONE_COLUMNS} FROM phones WHERE mac = ?`).get(mac) as Row | undefined;
    return r && this.opened(r);
  }

  phoneByDn(dn: string): PhoneRecord | undefined {
    const r = this.cached(`SELECT ${PHONE_COLUMNS} FROM phones WHERE dn = ?`).get(dn) as Row | undefined;
    return r && this.opened(r);
  }

  addPhone(p: PhoneRecord): void {
    this.db
      .prepare('INSERT INTO phones (device_name, mac, model, dn, description, password, autoregistered, created_at, version_stamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(p.deviceName, p.mac, p.model, p.dn, p.description, this.box.seal(p.password, p.deviceName), p.autoregistered ? 1 : 0, p.createdAt, p.versionStamp);
  }

  /** The phone registered with its own line: it is no longer an autoregistration in progress. */
  markOwnFile(deviceName: string, at: number): void {
    this.db.prepare('UPDATE phones SET own_file_at = ? WHERE device_name = ? AND own_file_at IS NULL').run(at, deviceName);
  }

  /** Removes autoregistered phones created before `createdBefore` that never registered on their own file. */
  removeAbandoned(createdBefore: string): string[] {
    const gone = (this.db.prepare('SELECT device_name FROM phones WHERE autoregistered = 1 AND own_file_at IS NULL AND created_at < ?').all(createdBefore) as Row[]).map((r) => String(r['device_name']));
    for (const name of gone) this.removePhone(name);
    return gone;
  }

  removePhone(deviceName: string): boolean {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const r = this.db.prepare('DELETE FROM phones WHERE device_name = ?').run(deviceName);
      this.db.prepare('DELETE FROM registrations WHERE device = ?').run(deviceName);
      this.db.exec('COMMIT');
      this.forgetRegistration(deviceName);
      return Number(r.changes) > 0;
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
  }

  /** The first DN of the range not taken by any phone. */
  nextFreeDn(first: string, last: string): string | undefined {
    const width = first.length;
    const used = new Set((this.db.prepare('SELECT dn FROM phones').all() as Row[]).map((r) => String(r['dn'])));
    for (let n = Number(first); n <= Number(last); n++) {
      const dn = String(n).padStart(width, '0');
      if (!used.has(dn)) return dn;
    }
    return undefined;
  }

  certificate(deviceName: string): PhoneCertificate | undefined {
    const r = this.db.prepare('SELECT capf_operation, capf_auth, capf_auth_string, capf_key_size, lsc, encrypted_config, lsc_pending FROM phones WHERE device_name = ?').get(deviceName) as Row | undefined;
    if (!r) return undefined;
    return {
      operation: String(r['capf_operation']) as CertificateOperation, auth: String(r['capf_auth']) as CapfAuth, authStringHash: String(r['capf_auth_string']),
      keySize: Number(r['capf_key_size']), lsc: String(r['lsc']), encryptedConfig: Number(r['encrypted_config']) === 1, lscPending: String(r['lsc_pending']),
    };
  }

  /** Schedules (or cancels) a CAPF operation and sets encrypted configuration; the LSC is kept. */
  setCertificate(deviceName: string, c: Omit<PhoneCertificate, 'lsc' | 'lscPending'>, versionStamp: string): void {
    this.db
      .prepare('UPDATE phones SET capf_operation = ?, capf_auth = ?, capf_auth_string = ?, capf_key_size = ?, encrypted_config = ?, version_stamp = ? WHERE device_name = ?')
      .run(c.operation, c.auth, c.authStringHash, c.keySize, c.encryptedConfig ? 1 : 0, versionStamp, deviceName);
  }

  /**
   * CAPF finished: the phone holds `lsc` (empty after a delete) and nothing is pending — written
   * only if the settings are still the ones the session began with (`expect`): an operation the
   * admin cancelled or changed meanwhile, or another session that finished first, wins. False
   * when nothing was written.
   */
  storeLsc(deviceName: string, lsc: string, versionStamp: string, expect: PhoneCertificate): boolean {
    const r = this.db
      .prepare("UPDATE phones SET lsc = ?, lsc_pending = '', capf_operation = 'none', capf_auth_string = '', version_stamp = ? WHERE device_name = ? AND capf_operation = ? AND capf_auth = ? AND capf_auth_string = ? AND lsc = ?")
      .run(lsc, versionStamp, deviceName, expect.operation, expect.auth, expect.authStringHash, expect.lsc);
    return Number(r.changes) === 1;
  }

  /** The LSC about to be sent to the phone, recorded first (see PhoneCertificate.lscPending). */
  setPendingLsc(deviceName: string, pem: string): void {
    this.db.prepare('UPDATE phones SET lsc_pending = ? WHERE device_name = ?').run(pem, deviceName);
  }

  /** The phone proved it holds the pending LSC: it is the phone's LSC on record now. */
  adoptPendingLsc(deviceName: string, pem: string, versionStamp: string): boolean {
    const r = this.db.prepare("UPDATE phones SET lsc = lsc_pending, lsc_pending = '', version_stamp = ? WHERE device_name = ? AND lsc_pending = ? AND lsc_pending <> ''").run(versionStamp, deviceName, pem);
    return Number(r.changes) === 1;
  }

  /** Too many wrong authentication strings: the operation is cancelled until the admin schedules it again. */
  cancelCapf(deviceName: string, versionStamp: string): void {
    this.db.prepare("UPDATE phones SET capf_operation = 'none', capf_auth_string = '', version_stamp = ? WHERE device_name = ?").run(versionStamp, deviceName);
  }

  // ---- leases -------------------------------------------------------------------------------

  lease(mac: string): LeaseRecord | undefined {
    const r = this.db.prepare('SELECT * FROM leases WHERE mac = ?').get(mac) as Row | undefined;
    return r && leaseFrom(r);
  }

  leases(): LeaseRecord[] {
    return (this.db.prepare('SELECT * FROM leases ORDER BY address').all() as Row[]).map(leaseFrom);
  }

  leaseAt(address: string): LeaseRecord | undefined {
    const r = this.db.prepare('SELECT * FROM leases WHERE address = ?').get(address) as Row | undefined;
    return r && leaseFrom(r);
  }

  saveLease(l: LeaseRecord): void {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      // An address handed to a new MAC is taken back from the expired lease that held it.
      this.db.prepare('DELETE FROM leases WHERE address = ? AND mac <> ?').run(l.address, l.mac);
      this.db
        .prepare('INSERT INTO leases (mac, address, state, expires_at, vendor_class) VALUES (?, ?, ?, ?, ?) ON CONFLICT(mac) DO UPDATE SET address = excluded.address, state = excluded.state, expires_at = excluded.expires_at, vendor_class = excluded.vendor_class')
        .run(l.mac, l.address, l.state, l.expiresAt, l.vendorClass);
      this.db.exec('COMMIT');
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
  }

  // ---- settings changed at run time (admin API) --------------------------------------------

  setting(key: string): string | undefined {
    const r = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as Row | undefined;
    return r ? String(r['value']) : undefined;
  }

  setSetting(key: string, value: string): void {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  // ---- registrations ------------------------------------------------------------------------
  // In memory (registrar/registration-book.ts), read from the table on first use; the registrar
  // queues its changes there and group-commits them (group-commit.ts), so what
  // these return may be a few milliseconds ahead of the table — never behind it.

  /**
   * A device renamed or removed: its binding goes from memory too, and its removal is queued
   * behind any write of it the registrar's writer thread may still land after the DELETE above.
   */
  private forgetRegistration(device: string): void {
    if (this.book?.get(device)) this.book.remove(device);
  }

  /** The bindings, loaded on first use. */
  get registrationBook(): RegistrationBook {
    return (this.book ??= new RegistrationBook(this.db));
  }

  registration(device: string): RegistrationRecord | undefined {
    return this.registrationBook.get(device);
  }

  registrations(): RegistrationRecord[] {
    return this.registrationBook.all();
  }
}
