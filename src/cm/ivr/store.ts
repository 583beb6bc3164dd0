/**
 * What the self-provisioning IVR keeps: its system settings (the CTI route point's extension,
 * the authentication mode, the administrators' authentication code — hashed) in the settings
 * table, and per user the self-provisioning flag, limit and templates of the user's profile —
 * a named one (`sepi cm user-profile`, schema 12), or, for a user with none, the implicit
 * profile of the flag and limit kept with the user (schema 11) and no templates. The
 * provisioning itself — the phone given to the user on the user's primary DN, the profile's
 * templates applied, the count up — is one transaction here.
 */
import type { CompanionDb } from '../db.ts';
import type { Dressed } from '../templates/apply.ts';
import { UniversalTemplateStore } from '../templates/store.ts';
import { DEFAULT_PHONE_LIMIT, type IvrUser } from './decide.ts';
import type { AuthMode } from './script.ts';

export interface IvrSettings {
  /** The CTI route point's directory number; undefined: no IVR. */
  extension: string | undefined;
  auth: AuthMode;
  /** scrypt hash of the authentication code (users-and-admins); undefined when none is set. */
  authCodeHash: string | undefined;
}

/** A user as the IVR needs them: the effective flag and limit (profile's, else the user's own) and the profile's templates. */
export interface IvrUserRecord extends IvrUser {
  name: string;
  /** The named profile; undefined: the implicit one. */
  profile: string | undefined;
  deviceTemplate: string | undefined;
  lineTemplate: string | undefined;
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
    // A version-1 `template` (a BAT template name, never applied) may still be in the JSON: ignored.
    return { extension: v.extension || undefined, auth: v.auth ?? 'users', authCodeHash: v.authCodeHash || undefined };
  }

  setSettings(s: IvrSettings): void {
    this.db.setSetting(KEY, JSON.stringify(s));
  }

  user(id: string): IvrUserRecord | undefined {
    const r = this.db.handle.prepare(`SELECT u.id, u.name, u.primary_dn, u.pin_hash, u.password_hash, u.self_provisioning, u.provision_limit, u.provisioned, u.profile,
                                             p.self_provisioning AS p_self_provisioning, p.provision_limit AS p_limit, p.device_template, p.line_template
                                      FROM users u LEFT JOIN user_profiles p ON p.name = u.profile WHERE u.id = ?`).get(id) as Record<string, unknown> | undefined;
    if (!r) return undefined;
    const named = r['profile'] !== null;
    const text = (k: string) => (r[k] === null ? undefined : String(r[k]) || undefined);
    return {
      id: String(r['id']), name: String(r['name']), primaryDn: text('primary_dn'), pinHash: text('pin_hash'), passwordHash: text('password_hash'),
      // A named profile wins over the flag and limit kept with the user (docs/protocols/ivr.md §5).
      selfProvisioning: Number(r[named ? 'p_self_provisioning' : 'self_provisioning']) === 1, limit: Number(r[named ? 'p_limit' : 'provision_limit']), provisioned: Number(r['provisioned']),
      profile: named ? String(r['profile']) : undefined, deviceTemplate: text('device_template'), lineTemplate: text('line_template'),
    };
  }

  /** The flag and limit kept with the user (the implicit profile's), whatever profile the user has. */
  own(id: string): { selfProvisioning: boolean; limit: number } | undefined {
    const r = this.db.handle.prepare('SELECT self_provisioning, provision_limit FROM users WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r && { selfProvisioning: Number(r['self_provisioning']) === 1, limit: Number(r['provision_limit']) };
  }

  /** The implicit profile's flag and limit (default 10), and the count; false when there is no such user. */
  setUser(id: string, o: { selfProvisioning?: boolean; limit?: number; provisioned?: number }): boolean {
    const u = this.own(id);
    const n = this.user(id);
    if (!u || !n) return false;
    this.db.handle
      .prepare('UPDATE users SET self_provisioning = ?, provision_limit = ?, provisioned = ? WHERE id = ?')
      .run((o.selfProvisioning ?? u.selfProvisioning) ? 1 : 0, o.limit ?? u.limit, o.provisioned ?? n.provisioned, id);
    return true;
  }

  /**
   * The phone becomes the user's: owner, the user's primary DN as its line (the DN it had goes
   * back to the autoregistration range, no phone holding it any more), the profile's templates
   * applied (`dressed`: description, device pool, speed dials, line 1's name, label and external
   * number), no longer autoregistered, the user's count up. A phone already on that DN keeps
   * it: the caller checks first. Throws when the DN is taken by another phone (the UNIQUE
   * constraint), and then nothing is written.
   */
  provision(deviceName: string, userId: string, dn: string, versionStamp: string, dressed: Dressed): void {
    const templates = new UniversalTemplateStore(this.db);
    this.db.transaction(() => {
      const h = this.db.handle;
      h.prepare('UPDATE phones SET dn = ?, owner = ?, autoregistered = 0, description = ?, version_stamp = ? WHERE device_name = ?')
        .run(dn, userId, dressed.description, versionStamp, deviceName);
      templates.setApplied(deviceName, dressed.applied);
      h.prepare('UPDATE users SET provisioned = provisioned + 1 WHERE id = ?').run(userId);
    });
  }
}

export { DEFAULT_PHONE_LIMIT };
