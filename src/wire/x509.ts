/**
 * What the trust lists need from an X.509 certificate, read with node:crypto's X509Certificate
 * plus a few lines of DER for the one thing it does not expose (the signature value, which ITL
 * records carry in tag 8). Pure computation, no I/O; both halves use it.
 */
import { type KeyObject, X509Certificate, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { setCapped } from '../common/capped-map.ts';
import { ByteReader } from './bytes.ts';
import { type Result, WireError, catchWire } from './result.ts';
import type { Digest } from './tlv.ts';

export interface CertFacts {
  der: Uint8Array;
  /** RFC 4514-style, comma-joined, in certificate order: "CN=SAST,O=Lab". */
  subject: string;
  issuer: string;
  serial: Uint8Array;
  /** The RSA public key as DER PKCS#1 RSAPublicKey (ITL record tag 7); EC keys as SPKI. */
  publicKey: Uint8Array;
  /** The certificate's own signature bits (ITL record tag 8). */
  signatureValue: Uint8Array;
  /** The RSA modulus in bytes (256 for 2048-bit), 0 for non-RSA keys. */
  modulusBytes: number;
  sha256: string;
  notAfter: Date;
}

const dn = (s: string) => s.split('\n').filter(Boolean).join(',');

/** Reads one DER TLV's header; returns where its content starts and ends. */
function derElement(r: ByteReader, expectTag: number, what: string): { start: number; end: number } {
  const tag = r.u8(`${what} tag`);
  if (tag !== expectTag) r.fail('bad-der', `${what}: tag 0x${tag.toString(16)}, expected 0x${expectTag.toString(16)}`);
  let len = r.u8(`${what} length`);
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) r.fail('bad-der', `${what}: length of ${n} bytes`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + r.u8();
  }
  const start = r.offset;
  r.need(len, what);
  return { start, end: start + len };
}

/**
 * Certificates read once per process. In a fleet every phone reads the same handful of
 * certificates out of the same ITL (thousands of times in a boot storm), and parsing one is
 * most of what checking a signature costs; a certificate's facts and key depend on its bytes
 * alone, so the bytes are the key. Every signature is still checked, per phone.
 */
class ByDer<T> {
  private readonly map = new Map<string, T>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  get(der: Uint8Array, make: () => T): T {
    const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
    let v = this.map.get(key);
    if (v === undefined) {
      v = make();
      setCapped(this.map, key, v, this.max);
    }
    return v;
  }
}

const factsByDer = new ByDer<Result<CertFacts>>(256);
const keysByDer = new ByDer<KeyObject | null>(256);

/** A certificate's facts (memoised by its bytes; callers must not change what it returns). */
export function certFacts(der: Uint8Array): Result<CertFacts> {
  return factsByDer.get(der, () => readCertFacts(der));
}

function readCertFacts(der: Uint8Array): Result<CertFacts> {
  return catchWire(() => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(Buffer.from(der));
    } catch (e) {
      throw new WireError('x509', 'bad-certificate', `not a DER X.509 certificate (${(e as Error).message})`);
    }
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm SEQUENCE, signatureValue BIT STRING }
    const r = new ByteReader('x509', der);
    derElement(r, 0x30, 'certificate');
    r.offset = derElement(r, 0x30, 'tbsCertificate').end;
    r.offset = derElement(r, 0x30, 'signatureAlgorithm').end;
    const bits = derElement(r, 0x03, 'signatureValue');
    const signatureValue = Uint8Array.from(der.subarray(bits.start + 1, bits.end)); // skip the unused-bits byte
    let publicKey: Buffer;
    let modulusBits = 0;
    try {
      const key = cert.publicKey;
      const rsa = key.asymmetricKeyType === 'rsa';
      publicKey = rsa ? key.export({ type: 'pkcs1', format: 'der' }) : key.export({ type: 'spki', format: 'der' });
      if (rsa) modulusBits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    } catch (e) {
      throw new WireError('x509', 'bad-certificate', `unreadable public key (${(e as Error).message})`);
    }
    return {
      der: Uint8Array.from(der),
      subject: dn(cert.subject),
      issuer: dn(cert.issuer),
      serial: Uint8Array.from(Buffer.from(cert.serialNumber.length % 2 ? `0${cert.serialNumber}` : cert.serialNumber, 'hex')),
      publicKey: Uint8Array.from(publicKey),
      signatureValue,
      modulusBytes: modulusBits / 8,
      sha256: cert.fingerprint256.replace(/:/g, '').toLowerCase(),
      notAfter: new Date(cert.validTo),
    };
  });
}

/** RSA PKCS#1 v1.5 (or ECDSA for EC keys) verification with a certificate's key. */
export function verifyWithCertificate(der: Uint8Array, digest: Digest, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    const key = keysByDer.get(der, () => {
      try {
        return new X509Certificate(Buffer.from(der)).publicKey;
      } catch {
        return null;
      }
    });
    return key !== null && cryptoVerify(digest, data, key, signature);
  } catch {
    return false;
  }
}

/** The same with a bare DER PKCS#1 RSA public key (ITL record tag 7, when a record has no certificate). */
export function verifyWithRsaPublicKey(pkcs1: Uint8Array, digest: Digest, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(pkcs1), format: 'der', type: 'pkcs1' });
    return cryptoVerify(digest, data, key, signature);
  } catch {
    return false;
  }
}
