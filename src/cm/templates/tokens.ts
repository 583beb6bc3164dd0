/**
 * The tokens of universal device and line templates, as CUCM's templates spell them
 * (`#FirstName# #LastName# (#Product#)`): a pattern is checked when a template is saved (an
 * unknown token is refused then, naming it, rather than printed on a phone later) and expanded
 * when the template is applied to a phone. Also the external phone number mask
 * (`408555XXXX` + DN 2101 → `4085552101`) and the speed-dial entries a device template carries.
 * Pure: no database, so the tests can take every case.
 */

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
