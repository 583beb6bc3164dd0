/**
 * What the self-provisioning IVR keeps: its system settings (the CTI route point's extension,
 * the authentication mode, the administrators' authentication code — hashed — and the template
 * applied to a provisioned phone) in the settings table, and per user the profile's "Allow End
 * User to Provision their own phones", its limit and the count provisioned (schema 11). The
 * provisioning itself — the phone given to the user on the user's primary DN, the count up — is
 * one transaction here.
 */
import type { CompanionDb } from '../db.ts';
import { DEFAULT_PHONE_LIMIT, type IvrUser } from './decide.ts';
import type { AuthMode } from './script.ts';

export interface IvrSettings {
  /** The CTI route point's directory number; undefined: no IVR. */
  extension: string | undefined;
  auth: AuthMode;
  /** scrypt hash of the authentication code (users-and-admins); undefined when none is set. */
  authCodeHash: string | undefined;
  /** A phone template (`sepi cm template add`) named as the universal device template: recorded, not applied yet. */
  template: string | undefined;
}

const KEY = 'ivr.settings';

export class IvrStore {
  private readonly db: CompanionDb;

  constructor(db: CompanionDb) {
    this.db = db;
  }

  settings(): IvrSettings {
    const raw = this.db.setting(KEY);
    const v = raw ? (JSON.parse(raw) as Partial<IvrSettings>) : {};
    return { extension: v.extension || undefined, auth: v.auth ?? 'users', authCodeHash: v.authCodeHash || undefined, template: v.template || undefined };
  }

  setSettings(s: IvrSettings): void {
    this.db.setSetting(KEY, JSON.stringify(s));
  }

  user(id: string): IvrUser | undefined {
    const r = this.db.handle.prepare('SELECT id, primary_dn, pin_hash, password_hash, self_provisioning, provision_limit, provisioned FROM users WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    if (!r) return undefined;
    return {
      id: String(r['id']), primaryDn: String(r['primary_dn']) || undefined, pinHash: String(r['pin_hash']) || undefined, passwordHash: String(r['password_hash']) || undefined,
      selfProvisioning: Number(r['self_provisioning']) === 1, limit: Number(r['provision_limit']), provisioned: Number(r['provisioned']),
    };
  }

  /** The user profile's self-provisioning flag and limit (default 10); false when there is no such user. */
  setUser(id: string, o: { selfProvisioning?: boolean; limit?: number; provisioned?: number }): boolean {
    const u = this.user(id);
    if (!u) return false;
    this.db.handle
      .prepare('UPDATE users SET self_provisioning = ?, provision_limit = ?, provisioned = ? WHERE id = ?')
      .run((o.selfProvisioning ?? u.selfProvisioning) ? 1 : 0, o.limit ?? u.limit, o.provisioned ?? u.provisioned, id);
    return true;
  }

  /**
   * The phone becomes the user's: owner, the user's primary DN as its line (the DN it had goes
   * back to the autoregistration range, no phone holding it any more), no longer autoregistered,
   * the user's count up. A phone already on that DN keeps it: the caller checks first. Throws when
   * the DN is taken by another phone (the UNIQUE constraint), and then nothing is written.
   */
  provision(deviceName: string, userId: string, dn: string, versionStamp: string): void {
    this.db.transaction(() => {
      const h = this.db.handle;
      h.prepare('UPDATE phones SET dn = ?, owner = ?, autoregistered = 0, description = ?, version_stamp = ? WHERE device_name = ?')
        .run(dn, userId, `${userId} ${dn}`, versionStamp, deviceName);
      h.prepare('UPDATE users SET provisioned = provisioned + 1 WHERE id = ?').run(userId);
    });
  }
}

export { DEFAULT_PHONE_LIMIT };
