/**
 * The activation-code onboarding tables (schema version 6, db.ts): Device Defaults per model,
 * end users, outstanding codes and the audit log, over the companion's one SQLite database.
 *
 * A code row holds a random salt and a keyed hash, never the code: the code is derived from the
 * salt with a key of the data folder's own (code.ts), so the companion can show it again to the
 * phone's owner while a copy of the database alone yields no code and no way to test a guess.
 * A row exists only while its code is outstanding; using or releasing a code deletes it.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { CompanionDb } from '../db.ts';

export type OnboardingMethod = 'auto-registration' | 'activation-code';

export interface UserRecord {
  id: string;
  name: string;
  passwordHash: string;
  pinHash: string;
  primaryDn: string;
  admin: boolean;
  createdAt: number;
}

export interface CodeRecord {
  deviceName: string;
  salt: string;
  codeHash: string;
  createdAt: number;
  expiresAt: number;
}

export interface AuditEntry {
  at: number;
  /** Who: `admin`, `user:<id>`, `phone:<MAC>`, `system`. */
  actor: string;
  action: string;
  device: string;
  source: string;
  result: string;
}

type Row = Record<string, unknown>;

const userFrom = (r: Row): UserRecord => ({
  id: String(r['id']), name: String(r['name']), passwordHash: String(r['password_hash']), pinHash: String(r['pin_hash']),
  primaryDn: String(r['primary_dn']), admin: Number(r['admin']) === 1, createdAt: Number(r['created_at']),
});

const codeFrom = (r: Row): CodeRecord => ({
  deviceName: String(r['device_name']), salt: String(r['salt']), codeHash: String(r['code_hash']), createdAt: Number(r['created_at']), expiresAt: Number(r['expires_at']),
});

export class ActivationStore {
  private readonly db: DatabaseSync;
  private readonly companion: CompanionDb;

  constructor(companion: CompanionDb) {
    this.companion = companion;
    this.db = companion.handle;
  }

  // ---- Device Defaults ------------------------------------------------------------------------

  onboarding(model: string): OnboardingMethod {
    const r = this.db.prepare('SELECT onboarding FROM device_defaults WHERE model = ?').get(model) as Row | undefined;
    return r ? (String(r['onboarding']) as OnboardingMethod) : 'auto-registration';
  }

  deviceDefaults(): Array<{ model: string; onboarding: OnboardingMethod }> {
    return (this.db.prepare('SELECT model, onboarding FROM device_defaults ORDER BY model').all() as Row[]).map((r) => ({ model: String(r['model']), onboarding: String(r['onboarding']) as OnboardingMethod }));
  }

  setOnboarding(model: string, method: OnboardingMethod): void {
    this.db.prepare('INSERT INTO device_defaults (model, onboarding) VALUES (?, ?) ON CONFLICT(model) DO UPDATE SET onboarding = excluded.onboarding').run(model, method);
  }

  // ---- users ----------------------------------------------------------------------------------

  user(id: string): UserRecord | undefined {
    const r = this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined;
    return r && userFrom(r);
  }

  users(): UserRecord[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY id').all() as Row[]).map(userFrom);
  }

  addUser(u: UserRecord): void {
    this.db.prepare('INSERT INTO users (id, name, password_hash, pin_hash, primary_dn, admin, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(u.id, u.name, u.passwordHash, u.pinHash, u.primaryDn, u.admin ? 1 : 0, u.createdAt);
  }

  // ---- phones: what onboarding adds to them ---------------------------------------------------

  /** Owner and whether the phone waits for a code; undefined for an unknown device. */
  phoneOnboarding(deviceName: string): { owner: string | null; requiresCode: boolean } | undefined {
    const r = this.db.prepare('SELECT owner, requires_code FROM phones WHERE device_name = ?').get(deviceName) as Row | undefined;
    return r && { owner: r['owner'] === null ? null : String(r['owner']), requiresCode: Number(r['requires_code']) === 1 };
  }

  setPhoneOnboarding(deviceName: string, o: { owner?: string | null; requiresCode?: boolean }): void {
    if (o.owner !== undefined) this.db.prepare('UPDATE phones SET owner = ? WHERE device_name = ?').run(o.owner, deviceName);
    if (o.requiresCode !== undefined) this.db.prepare('UPDATE phones SET requires_code = ? WHERE device_name = ?').run(o.requiresCode ? 1 : 0, deviceName);
  }

  phonesOwnedBy(userId: string): string[] {
    return (this.db.prepare('SELECT device_name FROM phones WHERE owner = ? ORDER BY device_name').all(userId) as Row[]).map((r) => String(r['device_name']));
  }

  // ---- codes ----------------------------------------------------------------------------------

  code(deviceName: string): CodeRecord | undefined {
    const r = this.db.prepare('SELECT * FROM activation_codes WHERE device_name = ?').get(deviceName) as Row | undefined;
    return r && codeFrom(r);
  }

  codeByHash(hash: string): CodeRecord | undefined {
    const r = this.db.prepare('SELECT * FROM activation_codes WHERE code_hash = ?').get(hash) as Row | undefined;
    return r && codeFrom(r);
  }

  codes(): CodeRecord[] {
    return (this.db.prepare('SELECT * FROM activation_codes ORDER BY device_name').all() as Row[]).map(codeFrom);
  }

  /** A new code for the device, replacing any it had. */
  putCode(c: CodeRecord): void {
    this.db.prepare('INSERT INTO activation_codes (device_name, salt, code_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(device_name) DO UPDATE SET salt = excluded.salt, code_hash = excluded.code_hash, created_at = excluded.created_at, expires_at = excluded.expires_at')
      .run(c.deviceName, c.salt, c.codeHash, c.createdAt, c.expiresAt);
  }

  releaseCode(deviceName: string): boolean {
    return Number(this.db.prepare('DELETE FROM activation_codes WHERE device_name = ?').run(deviceName).changes) > 0;
  }

  /**
   * Uses a code, in one transaction: the code row goes (only one of two phones racing with it
   * can delete it), the device becomes `SEP<MAC>` with the MAC recorded (its sealed password
   * re-sealed under the new name) and waits for no code any more. False when the code was
   * already gone.
   */
  consume(code: CodeRecord, mac: string, versionStamp: string): { deviceName: string } | undefined {
    const newName = `SEP${mac}`;
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const gone = this.db.prepare('DELETE FROM activation_codes WHERE device_name = ? AND code_hash = ?').run(code.deviceName, code.codeHash);
      if (Number(gone.changes) !== 1) {
        this.db.exec('ROLLBACK');
        return undefined;
      }
      const phone = this.companion.phone(code.deviceName);
      if (!phone) throw new Error(`${code.deviceName} vanished`);
      if (newName !== code.deviceName) {
        const sealed = this.companion.secrets.seal(phone.password, newName);
        this.db.prepare('UPDATE phones SET device_name = ?, mac = ?, password = ? WHERE device_name = ?').run(newName, mac, sealed, code.deviceName);
      }
      this.db.prepare('UPDATE phones SET requires_code = 0, version_stamp = ? WHERE device_name = ?').run(versionStamp, newName);
      this.db.exec('COMMIT');
      return { deviceName: newName };
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
  }

  // ---- audit ----------------------------------------------------------------------------------

  audit(e: AuditEntry): void {
    this.db.prepare('INSERT INTO audit (at, actor, action, device, source, result) VALUES (?, ?, ?, ?, ?, ?)').run(e.at, e.actor, e.action, e.device, e.source, e.result);
  }

  auditLog(limit = 500): AuditEntry[] {
    return (this.db.prepare('SELECT * FROM audit ORDER BY id DESC LIMIT ?').all(limit) as Row[]).map((r) => ({
      at: Number(r['at']), actor: String(r['actor']), action: String(r['action']), device: String(r['device']), source: String(r['source']), result: String(r['result']),
    }));
  }
}
