/**
 * Activation codes (reference onboarding-protocol.md §1.3 "Codes"): 16 decimal digits, the
 * 16th a Luhn check digit over the first 15, shown as 4-4-4-4 ("4729-1803-6551-2287"). Cisco
 * does not publish its checksum; ours is Luhn because it lets the phone refuse a typo locally
 * (every single wrong digit, and every swap of two neighbours except 0↔9) before asking the
 * companion, and without telling an attacker anything: the check digit carries no secret.
 *
 * Digits come from bytes by rejection: a byte below 250 gives `byte % 10`, 250..255 are
 * dropped. 250 is the largest multiple of 10 that fits a byte, so each digit has exactly 25
 * bytes behind it; plain `% 10` over 256 values would favour 0–5.
 */
import { createHmac } from 'node:crypto';
import { type Result, WireError, catchWire } from './result.ts';

export const CODE_DIGITS = 16;
/** Both the derivation key and the hash key: the data folder's 32-byte secret. */
export const CODE_SECRET_BYTES = 32;
/** Fixed so the derivation inputs cannot run into each other (see deriveCode). */
export const CODE_SALT_BYTES = 16;
/** Longer than any sensible way of typing 16 digits with separators; checked before any work. */
export const MAX_CODE_INPUT = 64;

const FORMAT = 'activation-code';
const DERIVE_LABEL = Buffer.from('sepi activation code v1', 'ascii');
const HASH_LABEL = Buffer.from('sepi activation code hash v1', 'ascii');
const ACCEPT_BELOW = 250;
/** A fair source drops 6 bytes in 256; failing to collect 15 digits in this many rounds means it is broken. */
const MAX_ROUNDS = 100;
const CANONICAL = /^[0-9]{16}$/;
const DIGITS = /^[0-9]+$/;

/**
 * The Luhn check digit for a string of ASCII digits (any length, so the textbook vectors
 * apply; codes pass 15). From the right, every other digit starting with the last one is
 * doubled, because the check digit will sit to its right in the undoubled position.
 */
export function luhnDigit(fifteen: string): string {
  if (!DIGITS.test(fifteen)) throw new RangeError('luhnDigit takes ASCII digits only');
  let sum = 0;
  for (let i = fifteen.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = fifteen.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

/** Whether the last digit is the Luhn check digit of the rest. False for anything not digits. */
export function luhnValid(sixteen: string): boolean {
  if (sixteen.length < 2 || !DIGITS.test(sixteen)) return false;
  return luhnDigit(sixteen.slice(0, -1)) === sixteen.slice(-1);
}

/** Appends the digits of the accepted bytes to `digits` until it holds `want`. */
function takeDigits(bytes: Uint8Array, digits: number[], want: number): void {
  for (const b of bytes) {
    if (digits.length >= want) return;
    if (b < ACCEPT_BELOW) digits.push(b % 10);
  }
}

const withCheck = (digits: number[]): string => {
  const body = digits.join('');
  return body + luhnDigit(body);
};

/**
 * A fresh code from a cryptographic source. The source is injected (node:crypto randomBytes in
 * the companion, a seeded one in tests); only as many bytes as digits still missing are asked
 * for each round, so none is drawn and thrown away unread.
 */
export function generateCode(randomBytes: (n: number) => Uint8Array): string {
  const digits: number[] = [];
  for (let round = 0; round < MAX_ROUNDS && digits.length < CODE_DIGITS - 1; round++) {
    takeDigits(randomBytes(CODE_DIGITS - 1 - digits.length), digits, CODE_DIGITS - 1);
  }
  if (digits.length < CODE_DIGITS - 1) throw new Error('the random source gave no usable bytes');
  return withCheck(digits);
}

function checkKey(secret: Uint8Array): void {
  if (secret.length !== CODE_SECRET_BYTES) throw new RangeError(`the code secret must be ${CODE_SECRET_BYTES} bytes`);
}

/**
 * A code derived from the data folder's secret and a per-code random salt:
 *
 *   block 0 = HMAC-SHA256(secret, "sepi activation code v1" | salt)
 *   block i = HMAC-SHA256(secret, "sepi activation code v1" | salt | u32be(i))   (i ≥ 1)
 *
 * read by rejection into 15 digits, plus Luhn. Block 0 alone suffices unless 18 of its 32
 * bytes are dropped (odds below 1e-20), but the loop keeps it correct rather than likely. The
 * salt has one fixed length so block 0 of one salt can never be block i of another.
 *
 * Why derived rather than stored: the database keeps only the salt and codeHash(); the
 * companion, which holds the key, can show a code again to its owner (Self-Care, CSV export),
 * while a copy of the database alone (a backup, a bug report) yields neither the codes nor a
 * way to test guesses, since both derivation and hash need the key.
 */
export function deriveCode(secret: Uint8Array, salt: Uint8Array): string {
  checkKey(secret);
  if (salt.length !== CODE_SALT_BYTES) throw new RangeError(`the code salt must be ${CODE_SALT_BYTES} bytes`);
  const digits: number[] = [];
  for (let i = 0; i < MAX_ROUNDS && digits.length < CODE_DIGITS - 1; i++) {
    const h = createHmac('sha256', secret).update(DERIVE_LABEL).update(salt);
    if (i > 0) h.update(Uint8Array.of(i >>> 24, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff));
    takeDigits(h.digest(), digits, CODE_DIGITS - 1);
  }
  if (digits.length < CODE_DIGITS - 1) throw new Error('HMAC output gave no usable bytes');
  return withCheck(digits);
}

/**
 * The lookup key of a code: hex HMAC-SHA256(secret, "sepi activation code hash v1" | code).
 * Takes the canonical 16 digits (normalizeCode's value): hashing "4729-1803-…" would silently
 * give another key, so anything else is a caller's bug and throws.
 */
export function codeHash(secret: Uint8Array, code: string): string {
  checkKey(secret);
  if (!CANONICAL.test(code)) throw new RangeError('codeHash takes the 16 digits normalizeCode returns');
  return createHmac('sha256', secret).update(HASH_LABEL).update(code, 'ascii').digest('hex');
}

/**
 * What a user typed (on the phone, in a form) to the canonical 16 digits. Spaces and dashes
 * are ignored wherever they are; any other character is refused, including digits of other
 * scripts ('١', '４'), which `\d`-style checks in some libraries would let through. Errors:
 * 'length' (over MAX_CODE_INPUT characters, or not 16 digits), 'characters', 'check-digit'.
 */
export function normalizeCode(input: string): Result<string> {
  return catchWire(() => {
    if (input.length > MAX_CODE_INPUT) {
      throw new WireError(FORMAT, 'length', `input of ${input.length} characters is over ${MAX_CODE_INPUT}`);
    }
    let digits = '';
    for (let i = 0; i < input.length; i++) {
      const c = input.charCodeAt(i);
      if (c >= 48 && c <= 57) digits += input[i];
      else if (c !== 32 && c !== 45) {
        // The code point, not the character: the input may be anything and messages reach logs.
        const cp = input.codePointAt(i)!.toString(16).toUpperCase().padStart(4, '0');
        throw new WireError(FORMAT, 'characters', `U+${cp} is not a digit, space or dash`, i);
      }
    }
    if (digits.length !== CODE_DIGITS) throw new WireError(FORMAT, 'length', `${digits.length} digits, not ${CODE_DIGITS}`);
    if (!luhnValid(digits)) throw new WireError(FORMAT, 'check-digit', 'the check digit does not match: a digit is mistyped');
    return digits;
  });
}

/** "4729180365512287" → "4729-1803-6551-2287", the way codes are shown and printed. */
export function formatCode(code: string): string {
  if (!CANONICAL.test(code)) throw new RangeError('formatCode takes 16 digits');
  return `${code.slice(0, 4)}-${code.slice(4, 8)}-${code.slice(8, 12)}-${code.slice(12)}`;
}
