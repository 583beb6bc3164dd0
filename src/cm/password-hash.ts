/**
 * Secrets the companion only ever compares — a CAPF authentication string now, user passwords
 * and PINs later — are kept as scrypt hashes: `scrypt$<N>$<salt b64>$<hash b64>`. The cost is
 * in the string, so a later release can raise it and still check old hashes.
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

const N = 16384;
const KEY_BYTES = 32;

export function hashSecret(secret: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(secret, salt, KEY_BYTES, { N, r: 8, p: 1 });
  return `scrypt$${N}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** True when `secret` is the one hashed; false for anything else, a malformed hash included. */
export function verifySecret(secret: string, stored: string): boolean {
  const m = /^scrypt\$(\d{4,7})\$([A-Za-z0-9+/=]{8,64})\$([A-Za-z0-9+/=]{16,128})$/.exec(stored);
  if (!m) return false;
  const n = Number(m[1]);
  if (n > 1 << 20 || (n & (n - 1)) !== 0) return false;
  const expected = Buffer.from(m[3]!, 'base64');
  const got = scryptSync(secret, Buffer.from(m[2]!, 'base64'), expected.length, { N: n, r: 8, p: 1, maxmem: 256 * n * 8 });
  return timingSafeEqual(got, expected);
}
