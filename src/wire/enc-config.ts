/**
 * TFTP Encrypted Config: `SEP<MAC>.cnf.xml.enc.sgn` (reference cisco-boot-protocol.md §5.6).
 * A signed file (header version 2.0, signed by the TFTP-role key like any .sgn) whose header
 * carries, after the filename and timestamp,
 *
 *   16 encryption info {
 *        17 { 18 = 0 (meaning not public), 19 = IV (16 bytes), 20 = pad count u16 }
 *        21 { 22 = 0 (meaning not public), 23 = key bits u16, 24 = 1 (AES), 25 = AES key wrapped
 *             with the phone certificate's RSA public key, PKCS#1 v1.5 } }
 *   26 digest algorithm of the plain file (1 SHA-1, 2 SHA-256, 3 SHA-512)
 *   27 digest of the plain file
 *
 * and whose body is AES-128-CBC over the configuration file padded with carriage returns to a
 * whole block (1..16 of them, never 0: a file that fills its blocks gets a block of padding).
 * Carriage returns, not PKCS#7: the phone's XML parser reads them as white space.
 *
 * Key wrapping and unwrapping are injected (the companion has the phone's certificate, the
 * phone its private key); AES and the digests are node:crypto, which are pure computations.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ByteWriter } from './bytes.ts';
import { type Result, WireError, catchWire } from './result.ts';
import { type Digest, type SignedFile, type SignerInfo, buildSignedFile, parseSignedFile } from './tlv.ts';

const FORMAT = 'enc.sgn';
const BLOCK = 16;
const DIGEST_CODE: Record<Digest, number> = { sha1: 1, sha256: 2, sha512: 3 };
const CODE_DIGEST: Record<number, Digest> = { 1: 'sha1', 2: 'sha256', 3: 'sha512' };
const AES_FOR_KEY_BYTES: Record<number, string> = { 16: 'aes-128-cbc', 32: 'aes-256-cbc' };

export interface EncryptOptions {
  /** The plain configuration file. */
  plain: Uint8Array;
  /** The name the phone asks for, e.g. `SEP001122334455.cnf.xml.enc.sgn`. */
  filename: string;
  signer: SignerInfo;
  digest: Digest;
  timestamp: number;
  /** Wraps the AES key for the phone (RSA PKCS#1 v1.5 with its certificate's public key). */
  wrapKey: (key: Uint8Array) => Uint8Array;
  sign: (digest: Digest, data: Uint8Array) => Uint8Array;
  /** For tests: the AES key and IV; random otherwise. */
  key?: Uint8Array;
  iv?: Uint8Array;
}

const tlv = (w: ByteWriter, tag: number, value: Uint8Array) => w.u8(tag).u16(value.length).bytes(value);

export function buildEncryptedConfig(o: EncryptOptions): Buffer {
  const key = o.key ?? randomBytes(16);
  const iv = o.iv ?? randomBytes(BLOCK);
  const pad = BLOCK - (o.plain.length % BLOCK);
  const padded = Buffer.concat([o.plain, Buffer.alloc(pad, 0x0d)]);
  const cipher = createCipheriv(AES_FOR_KEY_BYTES[key.length] ?? 'aes-128-cbc', key, iv).setAutoPadding(false);
  const body = Buffer.concat([cipher.update(padded), cipher.final()]);
  const wrapped = o.wrapKey(key);
  const ivInfo = new ByteWriter();
  tlv(ivInfo, 18, Uint8Array.of(0));
  tlv(ivInfo, 19, iv);
  tlv(ivInfo, 20, Uint8Array.of(pad >>> 8, pad & 0xff));
  const keyInfo = new ByteWriter();
  tlv(keyInfo, 22, Uint8Array.of(0));
  tlv(keyInfo, 23, Uint8Array.of((key.length * 8) >>> 8, (key.length * 8) & 0xff));
  tlv(keyInfo, 24, Uint8Array.of(1));
  tlv(keyInfo, 25, wrapped);
  const info = new ByteWriter();
  tlv(info, 17, ivInfo.finish());
  tlv(info, 21, keyInfo.finish());
  const extra = new ByteWriter();
  tlv(extra, 16, info.finish());
  tlv(extra, 26, Uint8Array.of(DIGEST_CODE[o.digest]));
  tlv(extra, 27, createHash(o.digest).update(o.plain).digest());
  return buildSignedFile({ version: [2, 0], signer: o.signer, digest: o.digest, filename: o.filename, timestamp: o.timestamp, extraHeader: extra.finish(), body, sign: o.sign });
}

export interface EncryptedConfig {
  file: SignedFile;
  iv: Uint8Array;
  pad: number;
  wrappedKey: Uint8Array;
  digest: Digest;
  hash: Uint8Array;
}

/** Reads the header of an .enc.sgn; the signature is checked by the caller (its trust list). */
export function parseEncryptedConfig(buf: Uint8Array): Result<EncryptedConfig> {
  const parsed = parseSignedFile(buf);
  if (!parsed.ok) return parsed;
  return catchWire(() => {
    const file = parsed.value;
    const get = (tag: number, what: string): Uint8Array => {
      const t = file.header.encryption.find((x) => x.tag === tag);
      if (!t) throw new WireError(FORMAT, 'missing', `header has no ${what} (tag ${tag})`);
      return t.value;
    };
    const iv = get(19, 'IV');
    if (iv.length !== BLOCK) throw new WireError(FORMAT, 'bad-value', `IV of ${iv.length} bytes, not 16`);
    const padField = get(20, 'pad count');
    if (padField.length !== 2) throw new WireError(FORMAT, 'bad-length', 'pad count must be 2 bytes');
    const pad = (padField[0]! << 8) | padField[1]!;
    const body = file.body;
    if (body.length === 0 || body.length % BLOCK !== 0) throw new WireError(FORMAT, 'bad-length', `encrypted body of ${body.length} bytes is not whole 16-byte blocks`);
    if (pad < 1 || pad > BLOCK || pad > body.length) throw new WireError(FORMAT, 'bad-value', `pad count ${pad} is not 1..16`);
    const wrappedKey = get(25, 'wrapped key');
    if (wrappedKey.length === 0 || wrappedKey.length > 512) throw new WireError(FORMAT, 'bad-length', `wrapped key of ${wrappedKey.length} bytes`);
    const algField = get(26, 'digest algorithm');
    const digest = algField.length === 1 ? CODE_DIGEST[algField[0]!] : undefined;
    if (!digest) throw new WireError(FORMAT, 'bad-value', 'digest algorithm is not 1, 2 or 3');
    const hash = get(27, 'digest');
    if (hash.length !== createHash(digest).digest().length) throw new WireError(FORMAT, 'bad-length', `${digest} digest of ${hash.length} bytes`);
    return { file, iv, pad, wrappedKey, digest, hash };
  });
}

/**
 * Decrypts with the key `unwrapKey` recovers (undefined when this phone's key cannot): the
 * plain file, or an error saying why not. A wrong key cannot pass: the digest must match.
 */
export function openEncryptedConfig(e: EncryptedConfig, unwrapKey: (wrapped: Uint8Array) => Uint8Array | undefined): Result<Buffer> {
  return catchWire(() => {
    let key: Uint8Array | undefined;
    try {
      key = unwrapKey(e.wrappedKey);
    } catch {
      // RSA refuses a block larger than its modulus outright: wrapped for another, bigger key.
      key = undefined;
    }
    const algorithm = key ? AES_FOR_KEY_BYTES[key.length] : undefined;
    if (!key || !algorithm) throw new WireError(FORMAT, 'wrong-key', 'the file key does not open with this phone\'s certificate key (encrypted for another certificate?)');
    const decipher = createDecipheriv(algorithm, key, e.iv).setAutoPadding(false);
    const padded = Buffer.concat([decipher.update(e.file.body), decipher.final()]);
    const plain = padded.subarray(0, padded.length - e.pad);
    if (!createHash(e.digest).update(plain).digest().equals(e.hash)) {
      throw new WireError(FORMAT, 'wrong-key', 'decrypted file does not match its digest (encrypted for another certificate, or altered)');
    }
    return plain;
  });
}

/** The certificate hash a short configuration file names (`<certHash>`): MD5 of the DER, lower-case hex. */
export const configCertHash = (der: Uint8Array): string => createHash('md5').update(der).digest('hex');
