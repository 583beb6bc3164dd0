/**
 * Universal device templates, universal line templates, user profiles and the autoregistration
 * templates, as the companion keeps them (schema 12, db.ts), and per phone what the templates
 * gave it when they were applied. Templates are read when they are applied (autoregistration,
 * the IVR): a template changed later changes no phone already made, as in CUCM.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { CompanionDb } from '../db.ts';
import type { SpeedDial } from './apply.ts';

export interface DeviceTemplate {
  name: string;
  /** A pattern (apply.ts) for the phone's description. */
  description: string;
  devicePool: string;
  speedDials: SpeedDial[];
}

export interface LineTemplate {
  name: string;
  /** A pattern for the line's display (alerting) name: the From display name of its calls. */
  displayName: string;
  /** A pattern for the line text label (the cnf.xml featureLabel). */
  label: string;
  /** The external phone number mask (apply.ts applyMask). */
  externalMask: string;
}

export interface UserProfile {
  name: string;
  deviceTemplate: string | null;
  lineTemplate: string | null;
  /** "Allow End User to Provision their own phones". */
  selfProvisioning: boolean;
  limit: number;
}

/** What templates gave one phone; a phone without a row has the defaults (`DEFAULT_APPLIED`). */
export interface AppliedTemplates {
  deviceTemplate: string;
  lineTemplate: string;
  devicePool: string;
  speedDials: SpeedDial[];
  displayName: string;
  label: string;
  externalNumber: string;
}

export const DEFAULT_DEVICE_POOL = 'Default';
export const DEFAULT_APPLIED: AppliedTemplates = { deviceTemplate: '', lineTemplate: '', devicePool: DEFAULT_DEVICE_POOL, speedDials: [], displayName: '', label: '', externalNumber: '' };

/** System > Cisco Unified CM: the templates given to autoregistered phones (the DN range is in the configuration file). */
export interface AutoRegistrationTemplates {
  deviceTemplate: string | null;
  lineTemplate: string | null;
}

const AUTOREGISTRATION_KEY = 'autoregistration.templates';

type Row = Record<string, unknown>;
const nullable = (v: unknown) => (v === null || v === undefined ? null : String(v));
const dials = (v: unknown) => JSON.parse(String(v)) as SpeedDial[];

const deviceFrom = (r: Row): DeviceTemplate => ({ name: String(r['name']), description: String(r['description']), devicePool: String(r['device_pool']), speedDials: dials(r['speed_dials']) });
const lineFrom = (r: Row): LineTemplate => ({ name: String(r['name']), displayName: String(r['display_name']), label: String(r['label']), externalMask: String(r['external_mask']) });
const profileFrom = (r: Row): UserProfile => ({
  name: String(r['name']), deviceTemplate: nullable(r['device_template']), lineTemplate: nullable(r['line_template']),
  selfProvisioning: Number(r['self_provisioning']) === 1, limit: Number(r['provision_limit']),
});

export class UniversalTemplateStore {
  private readonly cdb: CompanionDb;
  private readonly db: DatabaseSync;

  constructor(db: CompanionDb) {
    this.cdb = db;
    this.db = db.handle;
  }

  // ---- universal device templates -----------------------------------------------------------

  deviceTemplate(name: string): DeviceTemplate | undefined {
    const r = this.db.prepare('SELECT * FROM device_templates WHERE name = ?').get(name) as Row | undefined;
    return r && deviceFrom(r);
  }

  deviceTemplates(): DeviceTemplate[] {
    return (this.db.prepare('SELECT * FROM device_templates ORDER BY name').all() as Row[]).map(deviceFrom);
  }

  putDeviceTemplate(t: DeviceTemplate): void {
    this.db.prepare(`INSERT INTO device_templates (name, description, device_pool, speed_dials) VALUES (?, ?, ?, ?)
                     ON CONFLICT(name) DO UPDATE SET description = excluded.description, device_pool = excluded.device_pool, speed_dials = excluded.speed_dials`)
      .run(t.name, t.description, t.devicePool, JSON.stringify(t.speedDials));
  }

  // ---- universal line templates -------------------------------------------------------------

  lineTemplate(name: string): LineTemplate | undefined {
    const r = this.db.prepare('SELECT * FROM line_templates WHERE name = ?').get(name) as Row | undefined;
    return r && lineFrom(r);
  }

  lineTemplates(): LineTemplate[] {
    return (this.db.prepare('SELECT * FROM line_templates ORDER BY name').all() as Row[]).map(lineFrom);
  }

  putLineTemplate(t: LineTemplate): void {
    this.db.prepare(`INSERT INTO line_templates (name, display_name, label, external_mask) VALUES (?, ?, ?, ?)
                     ON CONFLICT(name) DO UPDATE SET display_name = excluded.display_name, label = excluded.label, external_mask = excluded.external_mask`)
      .run(t.name, t.displayName, t.label, t.externalMask);
  }

  /** Removes a template; false when there is none. The caller checks it is not in use first (the foreign keys refuse otherwise). */
  removeTemplate(kind: 'device' | 'line', name: string): boolean {
    return Number(this.db.prepare(`DELETE FROM ${kind === 'device' ? 'device_templates' : 'line_templates'} WHERE name = ?`).run(name).changes) > 0;
  }

  /** Who names the template: profiles, and "autoregistration" when System > Cisco Unified CM does. */
  templateUsers(kind: 'device' | 'line', name: string): string[] {
    const column = kind === 'device' ? 'device_template' : 'line_template';
    const profiles = (this.db.prepare(`SELECT name FROM user_profiles WHERE ${column} = ? ORDER BY name`).all(name) as Row[]).map((r) => `user profile ${String(r['name'])}`);
    const a = this.autoRegistration();
    return [...profiles, ...((kind === 'device' ? a.deviceTemplate : a.lineTemplate) === name ? ['autoregistration'] : [])];
  }

  // ---- user profiles ------------------------------------------------------------------------

  profile(name: string): UserProfile | undefined {
    const r = this.db.prepare('SELECT * FROM user_profiles WHERE name = ?').get(name) as Row | undefined;
    return r && profileFrom(r);
  }

  profiles(): UserProfile[] {
    return (this.db.prepare('SELECT * FROM user_profiles ORDER BY name').all() as Row[]).map(profileFrom);
  }

  putProfile(p: UserProfile): void {
    this.db.prepare(`INSERT INTO user_profiles (name, device_template, line_template, self_provisioning, provision_limit) VALUES (?, ?, ?, ?, ?)
                     ON CONFLICT(name) DO UPDATE SET device_template = excluded.device_template, line_template = excluded.line_template,
                       self_provisioning = excluded.self_provisioning, provision_limit = excluded.provision_limit`)
      .run(p.name, p.deviceTemplate, p.lineTemplate, p.selfProvisioning ? 1 : 0, p.limit);
  }

  removeProfile(name: string): boolean {
    return Number(this.db.prepare('DELETE FROM user_profiles WHERE name = ?').run(name).changes) > 0;
  }

  /** The users assigned the profile. */
  profileMembers(name: string): string[] {
    return (this.db.prepare('SELECT id FROM users WHERE profile = ? ORDER BY id').all(name) as Row[]).map((r) => String(r['id']));
  }

  /** The user's profile name, null for none (the implicit profile), undefined when there is no such user. */
  userProfile(userId: string): string | null | undefined {
    const r = this.db.prepare('SELECT profile FROM users WHERE id = ?').get(userId) as Row | undefined;
    return r ? nullable(r['profile']) : undefined;
  }

  setUserProfile(userId: string, profile: string | null): boolean {
    return Number(this.db.prepare('UPDATE users SET profile = ? WHERE id = ?').run(profile, userId).changes) > 0;
  }

  // ---- autoregistration ---------------------------------------------------------------------

  /** Read for every phone autoregistration makes (a boot storm makes thousands a second): prepared once. */
  private settingQuery: ReturnType<DatabaseSync['prepare']> | undefined;

  autoRegistration(): AutoRegistrationTemplates {
    this.settingQuery ??= this.db.prepare('SELECT value FROM settings WHERE key = ?');
    const row = this.settingQuery.get(AUTOREGISTRATION_KEY) as Row | undefined;
    const raw = row ? String(row['value']) : undefined;
    const v = raw ? (JSON.parse(raw) as Partial<AutoRegistrationTemplates>) : {};
    return { deviceTemplate: v.deviceTemplate ?? null, lineTemplate: v.lineTemplate ?? null };
  }

  setAutoRegistration(a: AutoRegistrationTemplates): void {
    this.cdb.setSetting(AUTOREGISTRATION_KEY, JSON.stringify(a));
  }

  // ---- per phone ----------------------------------------------------------------------------

  /** Read for every cnf.xml served: the statement is prepared once. */
  private appliedQuery: ReturnType<DatabaseSync['prepare']> | undefined;

  applied(deviceName: string): AppliedTemplates {
    this.appliedQuery ??= this.db.prepare('SELECT * FROM applied_templates WHERE device_name = ?');
    const r = this.appliedQuery.get(deviceName) as Row | undefined;
    if (!r) return DEFAULT_APPLIED;
    return {
      deviceTemplate: String(r['device_template']), lineTemplate: String(r['line_template']), devicePool: String(r['device_pool']), speedDials: dials(r['speed_dials']),
      displayName: String(r['display_name']), label: String(r['line_label']), externalNumber: String(r['external_number']),
    };
  }

  /** Records what the templates gave the phone (inside the caller's transaction when there is one). */
  setApplied(deviceName: string, a: AppliedTemplates): void {
    this.db.prepare(`INSERT INTO applied_templates (device_name, device_template, line_template, device_pool, speed_dials, display_name, line_label, external_number)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT(device_name) DO UPDATE SET device_template = excluded.device_template, line_template = excluded.line_template, device_pool = excluded.device_pool,
                       speed_dials = excluded.speed_dials, display_name = excluded.display_name, line_label = excluded.line_label, external_number = excluded.external_number`)
      .run(deviceName, a.deviceTemplate, a.lineTemplate, a.devicePool, JSON.stringify(a.speedDials), a.displayName, a.label, a.externalNumber);
  }
}
