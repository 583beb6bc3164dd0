/**
 * Universal templates applied to a phone (seeds/002). The tokens of their patterns, as CUCM's
 * templates spell them (`#FirstName# #LastName# (#Product#)`): checked when a template is saved
 * (an unknown token is refused then, naming it, rather than printed on a phone later) and
 * expanded when the template is applied; the external phone number mask (`408555XXXX` + DN 2101
 * → `4085552101`); the speed dials a device template carries. Then the application: the device
 * template gives the phone its description, device pool and speed dials, the line template
 * gives line 1 its display name, label and external number. Autoregistration applies the
 * templates System > Cisco Unified CM names to every phone it makes; the self-provisioning IVR
 * applies the user profile's to the phone it gives a user. What a phone got is kept with it
 * (applied_templates), so its cnf.xml says it at every boot, whatever happens to the templates
 * afterwards. Everything above `dress` is pure, so the tests can take every case.
 */
import type { CompanionDb, PhoneRecord } from '../db.ts';
import { type AppliedTemplates, DEFAULT_APPLIED, type DeviceTemplate, type LineTemplate, UniversalTemplateStore } from './store.ts';

/** The tokens a pattern may hold; anything else between two `#` that looks like a word is refused. */
export const TOKENS = ['FirstName', 'LastName', 'UserID', 'Product', 'Protocol', 'DN', 'DeviceName'] as const;
export type Token = (typeof TOKENS)[number];

/** What the tokens stand for on one phone (user values are '' for an autoregistered phone). */
export type TokenValues = Record<Token, string>;

/** A pattern is at most this long, and so is what it expands to (the phone record's description limit). */
export const MAX_PATTERN = 128;
export const MAX_SPEED_DIALS = 8;
export const MAX_SPEED_DIAL_LABEL = 30;

const TOKEN = /#([A-Za-z]+)#/g;
// Control characters would break a log line or an LCD row; a pattern has no use for them.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why the pattern cannot be saved, or undefined when it can. */
export function patternProblem(pattern: string): string | undefined {
  if (pattern.length > MAX_PATTERN) return `at most ${MAX_PATTERN} characters`;
  if (CONTROL.test(pattern)) return 'no control characters';
  for (const m of pattern.matchAll(TOKEN)) {
    if (!(TOKENS as readonly string[]).includes(m[1]!)) return `unknown token #${m[1]}# (known: ${TOKENS.map((t) => `#${t}#`).join(' ')})`;
  }
  return undefined;
}

/**
 * The pattern with each token replaced; runs of spaces collapsed and the ends trimmed, so a
 * token with no value (a user without a first name, a phone without a user) leaves no gap.
 */
export function expand(pattern: string, v: TokenValues): string {
  const out = pattern.replace(TOKEN, (whole, name: string) => ((TOKENS as readonly string[]).includes(name) ? v[name as Token] : whole));
  return out.replace(/ {2,}/g, ' ').trim().slice(0, MAX_PATTERN);
}

/**
 * A user's one name field split the way the tokens need it: the last word is the last name,
 * the words before it the first name ("Ada King Lovelace" → "Ada King", "Lovelace"); one word
 * is a last name, as CUCM requires a last name and not a first one.
 */
export function splitName(name: string): { first: string; last: string } {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return { first: '', last: '' };
  return { first: words.slice(0, -1).join(' '), last: words.at(-1)! };
}

/** The external phone number mask: digits, `+`, `*`, `#`, and `X` where the DN's digits go. */
export const MASK = /^\+?[0-9X*#]{0,24}$/;

/**
 * The line's external number: each `X` of the mask, from the right, takes the DN's digit from
 * the right; `X`s left over when the DN is shorter are dropped. A mask without an `X` is the
 * number itself; an empty mask gives no external number.
 */
export function applyMask(mask: string, dn: string): string {
  const digits = dn.split('');
  const out: string[] = [];
  for (let i = mask.length - 1; i >= 0; i--) {
    const c = mask[i]!;
    if (c !== 'X') out.push(c);
    else if (digits.length) out.push(digits.pop()!);
  }
  return out.reverse().join('');
}

export interface SpeedDial {
  /** What the button dials: the seed's tip is the self-provisioning IVR's extension. */
  number: string;
  label: string;
}

const DIALABLE = /^[0-9*#+]{1,24}$/;

/**
 * `NUMBER` or `NUMBER=LABEL` (the command line's `--speed-dial 8999=Self-provisioning`): the
 * label is the number when none is given.
 */
export function parseSpeedDial(s: string): SpeedDial | string {
  const eq = s.indexOf('=');
  const number = (eq < 0 ? s : s.slice(0, eq)).trim();
  const label = eq < 0 ? number : s.slice(eq + 1).trim();
  return speedDialProblem({ number, label }) ?? { number, label };
}

/** `8999=Self-provisioning,1000`: the speed dials, or why not; '' is none. */
export function parseSpeedDials(s: string): SpeedDial[] | string {
  if (s.trim() === '') return [];
  const out: SpeedDial[] = [];
  for (const part of s.split(',')) {
    const d = parseSpeedDial(part);
    if (typeof d === 'string') return d;
    out.push(d);
  }
  return out;
}

/** Why a speed dial cannot be saved, or undefined. */
export function speedDialProblem(d: SpeedDial): string | undefined {
  if (!DIALABLE.test(d.number)) return `speed dial "${d.number}" is not a number a phone can dial (digits, *, #, +)`;
  if (d.label.length > MAX_SPEED_DIAL_LABEL || CONTROL.test(d.label)) return `speed dial label "${d.label}": at most ${MAX_SPEED_DIAL_LABEL} characters, no control characters`;
  return undefined;
}

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

/** One store (its statements prepared once) per open database, for autoregistration's every phone. */
const stores = new WeakMap<CompanionDb, UniversalTemplateStore>();
function storeOf(db: CompanionDb): UniversalTemplateStore {
  let s = stores.get(db);
  if (!s) stores.set(db, (s = new UniversalTemplateStore(db)));
  return s;
}

/**
 * Adds an autoregistered phone with the autoregistration templates applied (autoregistration.ts
 * calls this instead of `db.addPhone`): its description from the device template, the rest kept
 * with it; phone and applied values in one transaction. Without templates, the phone as given.
 */
export function addAutoRegistered(db: CompanionDb, phone: PhoneRecord): PhoneRecord {
  const store = storeOf(db);
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
