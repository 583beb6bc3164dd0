/**
 * Secrets that are only ever compared — a CAPF authentication string, user passwords and PINs,
 * the phone web page's admin password — are kept as scrypt hashes:
 * `scrypt$<N>$<salt b64>$<hash b64>`. The cost is in the string, so a later release can raise
 * it and still check old hashes. Both halves use it (the companion and the phone): the
 * synchronous pair where a request already waits on the database, the asynchronous pair where
 * the event loop must keep running (a phone drawing its LCD while a sign-in is checked).
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

const N = 16384;
const KEY_BYTES = 32;
const FORMAT = /^scrypt\$(\d{4,7})\$([A-Za-z0-9+/=]{8,64})\$([A-Za-z0-9+/=]{16,128})$/;

const encode = (n: number, salt: Buffer, hash: Buffer) => `scrypt$${n}$${salt.toString('base64')}$${hash.toString('base64')}`;

/** The parts of a stored hash, or undefined when it is malformed or its cost is out of bounds. */
function parse(stored: string): { n: number; salt: Buffer; expected: Buffer } | undefined {
  const m = FORMAT.exec(stored);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (n > 1 << 20 || (n & (n - 1)) !== 0) return undefined;
  return { n, salt: Buffer.from(m[2]!, 'base64'), expected: Buffer.from(m[3]!, 'base64') };
}

const options = (n: number) => ({ N: n, r: 8, p: 1, maxmem: 256 * n * 8 });

export function hashSecret(secret: string): string {
  const salt = randomBytes(16);
  return encode(N, salt, scryptSync(secret, salt, KEY_BYTES, options(N)));
}

/** True when `secret` is the one hashed; false for anything else, a malformed hash included. */
export function verifySecret(secret: string, stored: string): boolean {
  const p = parse(stored);
  if (!p) return false;
  return timingSafeEqual(scryptSync(secret, p.salt, p.expected.length, options(p.n)), p.expected);
}

const derive = (secret: string, salt: Buffer, bytes: number, n: number) =>
  new Promise<Buffer>((resolve, reject) => scrypt(secret, salt, bytes, options(n), (e, key) => (e ? reject(e) : resolve(key))));

/** hashSecret off the event loop. */
export async function hashSecretAsync(secret: string): Promise<string> {
  const salt = randomBytes(16);
  return encode(N, salt, await derive(secret, salt, KEY_BYTES, N));
}

/** verifySecret off the event loop. */
export async function verifySecretAsync(secret: string, stored: string): Promise<boolean> {
  const p = parse(stored);
  if (!p) return false;
  return timingSafeEqual(await derive(secret, p.salt, p.expected.length, p.n), p.expected);
}
