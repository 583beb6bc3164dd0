/**
 * Applying universal templates to a phone (seeds/002): the device template gives the phone its
 * description, device pool and speed dials, the line template gives line 1 its display name,
 * label and external number. Autoregistration applies the templates System > Cisco Unified CM
 * names to every phone it makes; the self-provisioning IVR applies the user profile's to the
 * phone it gives a user. What a phone got is kept with it (applied_templates), so its cnf.xml
 * says it at every boot, whatever happens to the templates afterwards.
 */
import type { CompanionDb, PhoneRecord } from '../db.ts';
import { type AppliedTemplates, DEFAULT_APPLIED, type DeviceTemplate, type LineTemplate, UniversalTemplateStore } from './store.ts';
import { type TokenValues, applyMask, expand, splitName } from './tokens.ts';

export interface DressInput {
  device: DeviceTemplate | undefined;
  line: LineTemplate | undefined;
  phone: { deviceName: string; model: string; dn: string };
  /** The user the phone is for; undefined for an autoregistered phone. */
  user?: { id: string; name: string } | undefined;
}

export interface Dressed {
  /** The phone's description: the device template's, else `fallback`. */
  description: string;
  applied: AppliedTemplates;
}

export function tokenValues(i: Pick<DressInput, 'phone' | 'user'>): TokenValues {
  const { first, last } = splitName(i.user?.name ?? '');
  return {
    FirstName: first, LastName: last, UserID: i.user?.id ?? '',
    // CUCM's product names are "Cisco 8841"; a model the companion could not name stays as it came.
    Product: /^\d/.test(i.phone.model) ? `Cisco ${i.phone.model}` : i.phone.model,
    Protocol: 'SIP', DN: i.phone.dn, DeviceName: i.phone.deviceName,
  };
}

/** What the templates make of this phone; without a template, the defaults (and `fallback` as the description). */
export function dress(i: DressInput, fallback: string): Dressed {
  const v = tokenValues(i);
  const d = i.device;
  const l = i.line;
  const description = d && d.description ? expand(d.description, v) || fallback : fallback;
  return {
    description,
    applied: {
      ...DEFAULT_APPLIED,
      ...(d ? { deviceTemplate: d.name, devicePool: d.devicePool, speedDials: d.speedDials.map((s) => ({ ...s })) } : {}),
      ...(l ? { lineTemplate: l.name, displayName: expand(l.displayName, v), label: expand(l.label, v), externalNumber: applyMask(l.externalMask, i.phone.dn) } : {}),
    },
  };
}

/**
 * Adds an autoregistered phone with the autoregistration templates applied (autoregistration.ts
 * calls this instead of `db.addPhone`): its description from the device template, the rest kept
 * with it; phone and applied values in one transaction. Without templates, the phone as given.
 */
export function addAutoRegistered(db: CompanionDb, phone: PhoneRecord): PhoneRecord {
  const store = new UniversalTemplateStore(db);
  const a = store.autoRegistration();
  const device = a.deviceTemplate ? store.deviceTemplate(a.deviceTemplate) : undefined;
  const line = a.lineTemplate ? store.lineTemplate(a.lineTemplate) : undefined;
  if (!device && !line) {
    db.addPhone(phone);
    return phone;
  }
  const d = dress({ device, line, phone }, phone.description);
  const dressed = { ...phone, description: d.description };
  db.transaction(() => {
    db.addPhone(dressed);
    store.setApplied(phone.deviceName, d.applied);
  });
  return dressed;
}

/** Line 1 as a phone's cnf.xml shows it: the line template's display name and label, else the description and the DN. */
export function lineFace(p: Pick<PhoneRecord, 'dn' | 'description'>, a: AppliedTemplates): { displayName: string; label: string } {
  return { displayName: a.displayName || p.description || p.dn, label: a.label || p.dn };
}
