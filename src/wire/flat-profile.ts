/**
 * The flat profile of Cisco Multiplatform ("3PCC") phones (reference onboarding-protocol.md
 * §3.1): `<flat-profile>` elements whose children are parameters named after the web fields
 * (`Resync_Periodic`, `Proxy_1_`), each with an optional `ua="na|ro|rw"` user-access attribute.
 *
 * A profile is a partial update: parameters it does not mention keep their value, so the result
 * is a name → value map of what the file says, nothing more. Unknown names are kept too (the
 * phone picks the ones it knows; a companion tool may want to show the rest). The last
 * occurrence of a name wins, across every `<flat-profile>` in the document, in document order.
 *
 * The file may arrive gzip-compressed (recognised by its 1f 8b header, not by a name or a
 * Content-Type) and/or encrypted the way `openssl enc -aes-256-cbc -k <secret>` does it:
 * "Salted__", an 8-byte salt, then AES-256-CBC with key and IV from EVP_BytesToKey (one
 * iteration). OpenSSL 1.1+ derives with SHA-256 unless told `-md md5`, older releases with MD5;
 * a wrong digest and a wrong key look the same, so the digest is a parameter, not a guess.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { type XmlElement, parseXml } from './xml.ts';
import { type Result, WireError, catchWire, err } from './result.ts';

const FORMAT = 'flat-profile';
const SALTED = Buffer.from('Salted__', 'latin1');
const SALT_BYTES = 8;
const BLOCK = 16;
/** Decompressed, decrypted and raw sizes are all held to this unless the caller says otherwise. */
export const FLAT_PROFILE_MAX_BYTES = 4 * 1024 * 1024;
/** Parameter elements in one file. A full 8851 profile has a few thousand. */
export const FLAT_PROFILE_MAX_PARAMS = 10_000;
const MAX_NAME = 128;
const MAX_VALUE = 64 * 1024;
// Web field names with spaces and [ ] ( ) / made `_`; XML names cannot start with a digit.
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type UserAccess = 'na' | 'ro' | 'rw';
export type ProfileDigest = 'md5' | 'sha256';

export interface FlatParam {
  /**
   * The element's text exactly as written (after XML's own line-end normalisation): not
   * trimmed, because for some fields (display names, dial plans) spaces are the value, and
   * each consumer knows its field's syntax better than a generic reader does.
   */
  value: string;
  ua?: UserAccess;
}

export interface FlatProfile {
  params: Map<string, FlatParam>;
  /** How the file arrived, so a caller that asked for `--key` can insist it was encrypted. */
  encrypted: boolean;
  gzipped: boolean;
}

export interface FlatProfileReadOptions {
  key?: string;
  digest?: ProfileDigest;
  maxBytes?: number;
}

const fail = (code: string, message: string, at?: number | string): never => {
  throw new WireError(FORMAT, code, message, at);
};

// ---- openssl enc compatibility ------------------------------------------------------------

/** EVP_BytesToKey with one iteration: D_i = H(D_{i-1} ‖ password ‖ salt), until 32 + 16 bytes. */
function deriveKeyIv(password: string, salt: Uint8Array, digest: ProfileDigest): { key: Buffer; iv: Buffer } {
  const pass = Buffer.from(password, 'utf8');
  const parts: Buffer[] = [];
  let have = 0;
  let prev = Buffer.alloc(0);
  while (have < 32 + BLOCK) {
    prev = createHash(digest).update(prev).update(pass).update(salt).digest();
    parts.push(prev);
    have += prev.length;
  }
  const all = Buffer.concat(parts);
  return { key: all.subarray(0, 32), iv: all.subarray(32, 32 + BLOCK) };
}

/** What `openssl enc -aes-256-cbc -k <key> [-md md5]` writes. `salt` is for tests; random otherwise. */
export function encryptOpensslCompatible(data: Uint8Array, key: string, digest: ProfileDigest = 'sha256', salt?: Uint8Array): Buffer {
  const s = salt ?? randomBytes(SALT_BYTES);
  if (s.length !== SALT_BYTES) throw new RangeError(`salt must be ${SALT_BYTES} bytes, not ${s.length}`);
  const { key: k, iv } = deriveKeyIv(key, s, digest);
  const cipher = createCipheriv('aes-256-cbc', k, iv);
  return Buffer.concat([SALTED, s, cipher.update(data), cipher.final()]);
}

/**
 * What `openssl enc -d -aes-256-cbc -k <key> [-md md5]` reads back. CBC has no integrity check:
 * a wrong key is caught by the padding only most of the time, so callers that expect a document
 * should also check that what comes out looks like one (parseFlatProfile does).
 */
export function decryptOpensslCompatible(data: Uint8Array, key: string, digest: ProfileDigest = 'sha256'): Result<Buffer> {
  return catchWire(() => decrypt(Buffer.from(data.buffer, data.byteOffset, data.byteLength), key, digest));
}

function decrypt(data: Buffer, key: string, digest: ProfileDigest): Buffer {
  if (!isSalted(data)) fail('not-encrypted', 'no "Salted__" header', 0);
  const body = data.subarray(SALTED.length + SALT_BYTES);
  if (body.length === 0 || body.length % BLOCK !== 0) fail('wrong-key', `wrong key or damaged: ${body.length} encrypted bytes are not whole 16-byte blocks`, SALTED.length + SALT_BYTES);
  const { key: k, iv } = deriveKeyIv(key, data.subarray(SALTED.length, SALTED.length + SALT_BYTES), digest);
  const decipher = createDecipheriv('aes-256-cbc', k, iv);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    // node:crypto reports bad padding by throwing; that is this input's fault, not a bug.
    return fail('wrong-key', 'wrong key or damaged (bad padding)');
  }
}

const isSalted = (b: Uint8Array) => b.length >= SALTED.length + SALT_BYTES && SALTED.equals(b.subarray(0, SALTED.length));
const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** After a BOM and white space, an XML document starts with `<`; garbage from a wrong key rarely does. */
function looksLikeXml(b: Uint8Array): boolean {
  let i = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++;
  return b[i] === 0x3c;
}

function gunzip(data: Buffer, maxBytes: number): Buffer {
  try {
    return gunzipSync(data, { maxOutputLength: maxBytes });
  } catch (e) {
    // zlib throws for corrupt or oversized input; both are this file's fault.
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return fail('oversized', `gzip expands beyond ${maxBytes} bytes`);
    return fail('bad-gzip', `gzip data is damaged (${(e as Error).message})`);
  }
}

// ---- reading ------------------------------------------------------------------------------

/** Peels the transport layers (at most one encryption and one gzip, in either order). */
function unwrap(bytes: Uint8Array, o: FlatProfileReadOptions, maxBytes: number): { data: Buffer; encrypted: boolean; gzipped: boolean } {
  let data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let encrypted = false;
  let gzipped = false;
  for (;;) {
    if (isSalted(data) && !encrypted) {
      if (o.key === undefined) fail('no-key', 'encrypted profile and no key');
      data = decrypt(data, o.key!, o.digest ?? 'sha256');
      encrypted = true;
      if (!isGzip(data) && !looksLikeXml(data)) fail('wrong-key', 'wrong key or damaged (the decrypted data is neither gzip nor XML)');
    } else if (isGzip(data) && !gzipped) {
      data = gunzip(data, maxBytes);
      gzipped = true;
    } else return { data, encrypted, gzipped };
  }
}

function checkEncoding(data: Buffer): void {
  if ((data[0] === 0xff && data[1] === 0xfe) || (data[0] === 0xfe && data[1] === 0xff)) fail('bad-encoding', 'UTF-16 is not accepted, only UTF-8', 0);
  // A declaration naming another encoding is a file its author did not write as UTF-8.
  const head = data.subarray(0, 200).toString('latin1');
  const m = /^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?\bencoding\s*=\s*["']([^"']*)["']/.exec(head);
  if (m && !/^utf-?8$/i.test(m[1]!)) fail('bad-encoding', `declared encoding "${m[1]!.slice(0, 40)}", only UTF-8 is accepted`, 0);
}

function readParam(e: XmlElement, params: Map<string, FlatParam>): void {
  if (e.name.length > MAX_NAME || !NAME.test(e.name)) fail('bad-name', `"${e.name.slice(0, 40)}" is not a parameter name (letters, digits, underscores, no leading digit)`, e.path);
  if (e.children.length) fail('bad-element', 'a parameter holds text, not elements', e.path);
  if (e.text.length > MAX_VALUE) fail('oversized', `value longer than ${MAX_VALUE} characters`, e.path);
  const ua = e.attrs['ua'];
  if (ua !== undefined && ua !== 'na' && ua !== 'ro' && ua !== 'rw') fail('bad-attribute', `ua="${ua.slice(0, 20)}" is not na, ro or rw`, e.path);
  // A later occurrence replaces the value; its access level only if it states one ("not
  // mentioned keeps its value" applies to the attribute as well).
  const before = params.get(e.name)?.ua;
  const access = (ua as UserAccess | undefined) ?? before;
  params.set(e.name, access === undefined ? { value: e.text } : { value: e.text, ua: access });
}

/** Visits every `<flat-profile>` in document order; one nested in another is read where it stands. */
function collect(e: XmlElement, params: Map<string, FlatParam>, count: { n: number; profiles: number }): void {
  if (e.name !== 'flat-profile') {
    for (const c of e.children) collect(c, params, count);
    return;
  }
  count.profiles++;
  for (const c of e.children) {
    if (c.name === 'flat-profile') collect(c, params, count);
    else {
      if (++count.n > FLAT_PROFILE_MAX_PARAMS) fail('oversized', `more than ${FLAT_PROFILE_MAX_PARAMS} parameters`, c.path);
      readParam(c, params);
    }
  }
}

/** Reads a flat profile as served: possibly encrypted, possibly gzipped, UTF-8 XML inside. */
export function parseFlatProfile(bytes: Uint8Array, o: FlatProfileReadOptions = {}): Result<FlatProfile> {
  const maxBytes = o.maxBytes ?? FLAT_PROFILE_MAX_BYTES;
  if (bytes.length > maxBytes) return err(new WireError(FORMAT, 'oversized', `${bytes.length} bytes exceeds ${maxBytes}`));
  const layers = catchWire(() => unwrap(bytes, o, maxBytes));
  if (!layers.ok) return layers;
  const { data, encrypted, gzipped } = layers.value;
  const enc = catchWire(() => checkEncoding(data));
  if (!enc.ok) return enc;
  const doc = parseXml(data, FORMAT, { maxBytes, maxDepth: 32, maxElements: 2 * FLAT_PROFILE_MAX_PARAMS });
  if (!doc.ok) return doc;
  return catchWire(() => {
    const params = new Map<string, FlatParam>();
    const count = { n: 0, profiles: 0 };
    collect(doc.value, params, count);
    if (count.profiles === 0) fail('missing', 'no <flat-profile> element', doc.value.path);
    return { params, encrypted, gzipped };
  });
}

// ---- writing ------------------------------------------------------------------------------

export interface FlatProfileWriteOptions {
  /** Compress before encrypting: ciphertext does not compress. */
  gzip?: boolean;
  key?: string;
  digest?: ProfileDigest;
  /** For tests: a fixed 8-byte salt. */
  salt?: Uint8Array;
}

// XML 1.0 cannot carry these at all, not even as character references.
const UNWRITABLE = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/;

/** Escapes so that the reader gets the exact text back: `\r` would otherwise become `\n`. */
const escapeText = (s: string): string =>
  s.replace(/[&<>\r]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' })[c]!);

/**
 * Writes parameters as one `<flat-profile>`. Names and values come from the caller's own code or
 * from a profile it read, so an unwritable one is a bug there and throws a RangeError.
 */
export function writeFlatProfile(params: Iterable<readonly [string, FlatParam]>, o: FlatProfileWriteOptions = {}): Buffer {
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<flat-profile>'];
  for (const [name, p] of params) {
    if (name.length > MAX_NAME || !NAME.test(name)) throw new RangeError(`parameter name "${name}" is not letters, digits and underscores (no leading digit)`);
    if (UNWRITABLE.test(p.value)) throw new RangeError(`value of ${name} has characters XML cannot carry`);
    if (p.ua !== undefined && p.ua !== 'na' && p.ua !== 'ro' && p.ua !== 'rw') throw new RangeError(`ua "${String(p.ua)}" of ${name}`);
    const ua = p.ua ? ` ua="${p.ua}"` : '';
    lines.push(`  <${name}${ua}>${escapeText(p.value)}</${name}>`);
  }
  lines.push('</flat-profile>', '');
  let out: Buffer = Buffer.from(lines.join('\n'), 'utf8');
  if (o.gzip) out = gzipSync(out);
  if (o.key !== undefined) out = encryptOpensslCompatible(out, o.key, o.digest ?? 'sha256', o.salt);
  return out;
}

/** A plain object of the values, for callers that only want name → text. */
export const flatValues = (p: FlatProfile): Record<string, string> => Object.fromEntries([...p.params].map(([k, v]) => [k, v.value]));
