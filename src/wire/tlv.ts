/**
 * The signed-file format shared by ITL and CTL trust lists, `.sgn` provisioning files, the
 * headers of `.enc.sgn` files and firmware `.loads` (reference cisco-boot-protocol.md §5).
 *
 *   TLV      tag u8 | length u16 BE | value            (tag 13, padding, is one byte, no length)
 *   header   1 version{maj,min} | 2 header length u16 | [28 signer version] |
 *            3 signer { 4 name\0 | 5 serial | 6 issuer\0 } |
 *            7 signature info { 8 digest | 9 { 10 algorithm | 11 modulus index } } |
 *            12 signature | 14 filename\0 | [15 timestamp u32] | [16..27 encryption] | 13…
 *   body     from `header length` on: trust-list records or the signed payload
 *   record   1 record length u16 (the whole record, this TLV included) | 2 DNS name | 3 subject |
 *            4 role u16 | 5 issuer | 6 serial | 7 public key | 8 cert signature | 9 certificate |
 *            10 IP | 11 cert hash | 12 hash algorithm
 *
 * The signature is RSA PKCS#1 v1.5 over the whole file with the signature TLV (its three tag and
 * length bytes and its value) cut out; the header length still counts it. Unknown tags are kept
 * and shown, never a crash. Pure: no I/O, no keys — signing and verifying take functions.
 */
import { ByteReader, ByteWriter, ascii, text } from './bytes.ts';
import { type Result, WireError, catchWire } from './result.ts';

export const TLV_MAX_FILE = 4 * 1024 * 1024;
/** CUCM's limit: phones fail to load an ITL over 64 KiB (about 39 certificates). */
export const TRUST_LIST_MAX = 64 * 1024;

export const Role = {
  SAST: 0,
  CCM: 1,
  CCM_TFTP: 2,
  TFTP: 3,
  CAPF: 4,
  APP_SERVER: 7,
  TVS: 21,
} as const;

const ROLE_NAMES: Record<number, string> = { 0: 'SAST', 1: 'CCM', 2: 'CCM+TFTP', 3: 'TFTP', 4: 'CAPF', 7: 'APP-SERVER', 21: 'TVS' };
export const roleName = (r: number): string => ROLE_NAMES[r] ?? `role ${r}`;

export type Digest = 'sha1' | 'sha256' | 'sha512';
const DIGEST_CODES: Record<number, Digest> = { 1: 'sha1', 2: 'sha256', 3: 'sha512' };
const DIGEST_TAG: Record<Digest, number> = { sha1: 1, sha256: 2, sha512: 3 };
const MODULUS_BYTES = [64, 128, 256, 512];

export interface RawTlv {
  tag: number;
  value: Uint8Array;
  /** Offset of the tag byte in the file. */
  at: number;
}

export interface SignedHeader {
  version: [number, number];
  headerLength: number;
  signerVersion: [number, number] | undefined;
  signerName: string;
  signerSerial: Uint8Array;
  signerIssuer: string;
  digest: Digest;
  signatureAlgorithm: number;
  /** Bytes of the RSA modulus, from tag 11 (64, 128, 256 or 512). */
  modulusBytes: number;
  signature: Uint8Array;
  filename: string;
  timestamp: number | undefined;
  /** Tags 16–27 of `.enc.sgn` files, kept as they are. */
  encryption: RawTlv[];
  /** Tags this codec does not know, kept in file order. */
  unknown: RawTlv[];
  /** Offset of the signature TLV's tag byte; the signed bytes skip 3 + signature.length from here. */
  signatureAt: number;
  padding: number;
}

export interface TrustRecord {
  dnsName: string | undefined;
  subject: string | undefined;
  role: number | undefined;
  issuer: string | undefined;
  serial: Uint8Array | undefined;
  publicKey: Uint8Array | undefined;
  certSignature: Uint8Array | undefined;
  /** DER X.509. */
  certificate: Uint8Array | undefined;
  ip: Uint8Array | undefined;
  certHash: Uint8Array | undefined;
  hashAlgorithm: number | undefined;
  unknown: RawTlv[];
  at: number;
}

export interface SignedFile {
  header: SignedHeader;
  body: Uint8Array;
}

export interface TrustList extends SignedFile {
  records: TrustRecord[];
}

// ---- reading --------------------------------------------------------------------------------

const FORMAT = 'tlv';
const CONTAINERS = new Set([3, 7, 9, 16, 17, 21]);

function readTlvs(r: ByteReader, end: number, out: RawTlv[], depth: number): void {
  while (r.offset < end) {
    const at = r.offset;
    const tag = r.u8('tag');
    if (tag === 13) {
      out.push({ tag, value: new Uint8Array(), at });
      continue;
    }
    const len = r.u16(`length of tag ${tag}`);
    if (r.offset + len > end) r.fail('truncated', `tag ${tag} says ${len} bytes, ${end - r.offset} left`, at);
    if (CONTAINERS.has(tag) && depth < 3) {
      out.push({ tag, value: r.buf.subarray(r.offset, r.offset + len), at });
      readTlvs(r, r.offset + len, out, depth + 1);
    } else {
      out.push({ tag, value: Uint8Array.from(r.bytes(len)), at });
    }
  }
}

const cstr = (t: RawTlv, what: string): string => {
  const v = t.value;
  if (v.length === 0 || v[v.length - 1] !== 0) throw new WireError(FORMAT, 'bad-string', `${what} is not NUL-terminated`, t.at);
  const s = text(v.subarray(0, v.length - 1));
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(s)) throw new WireError(FORMAT, 'bad-string', `${what} has control characters`, t.at);
  return s;
};

const pair = (t: RawTlv, what: string): [number, number] => {
  if (t.value.length !== 2) throw new WireError(FORMAT, 'bad-length', `${what} must be 2 bytes`, t.at);
  return [t.value[0]!, t.value[1]!];
};

const byte = (t: RawTlv, what: string): number => {
  if (t.value.length !== 1) throw new WireError(FORMAT, 'bad-length', `${what} must be 1 byte`, t.at);
  return t.value[0]!;
};

const u16 = (t: RawTlv, what: string): number => {
  if (t.value.length !== 2) throw new WireError(FORMAT, 'bad-length', `${what} must be 2 bytes`, t.at);
  return (t.value[0]! << 8) | t.value[1]!;
};

function readHeader(buf: Uint8Array): SignedHeader {
  const r = new ByteReader(FORMAT, buf);
  if (buf.length > TLV_MAX_FILE) r.fail('oversized', `file of ${buf.length} bytes exceeds ${TLV_MAX_FILE}`, 0);
  // The first two TLVs are always version and header length.
  const first: RawTlv[] = [];
  const t1 = r.u8('first tag');
  if (t1 !== 1) r.fail('bad-header', `file starts with tag ${t1}, not 1 (version)`, 0);
  const l1 = r.u16();
  first.push({ tag: 1, value: Uint8Array.from(r.bytes(l1, 'version')), at: 0 });
  const t2at = r.offset;
  const t2 = r.u8();
  if (t2 !== 2) r.fail('bad-header', `second tag is ${t2}, not 2 (header length)`, t2at);
  const l2 = r.u16();
  const lenTlv: RawTlv = { tag: 2, value: Uint8Array.from(r.bytes(l2, 'header length')), at: t2at };
  const headerLength = u16(lenTlv, 'header length');
  if (headerLength < r.offset || headerLength > buf.length) r.fail('bad-header', `header length ${headerLength} outside ${r.offset}..${buf.length}`, t2at);
  const rest: RawTlv[] = [];
  readTlvs(r, headerLength, rest, 0);
  const all = [...first, lenTlv, ...rest];
  const find = (tag: number, what: string) => {
    const t = all.find((x) => x.tag === tag);
    if (!t) throw new WireError(FORMAT, 'missing', `header has no ${what} (tag ${tag})`);
    return t;
  };
  const digestCode = byte(find(8, 'digest algorithm'), 'digest algorithm');
  const digest = DIGEST_CODES[digestCode];
  if (!digest) throw new WireError(FORMAT, 'bad-value', `digest algorithm ${digestCode} is not 1, 2 or 3`, find(8, '').at);
  const modIndex = byte(find(11, 'signature modulus'), 'signature modulus');
  const modulusBytes = MODULUS_BYTES[modIndex];
  if (modulusBytes === undefined) throw new WireError(FORMAT, 'bad-value', `modulus index ${modIndex} is not 0..3`, find(11, '').at);
  const sig = find(12, 'signature');
  if (sig.value.length !== modulusBytes) throw new WireError(FORMAT, 'bad-value', `signature of ${sig.value.length} bytes for a ${modulusBytes * 8}-bit key`, sig.at);
  const ts = all.find((x) => x.tag === 15);
  if (ts && ts.value.length !== 4) throw new WireError(FORMAT, 'bad-length', 'timestamp must be 4 bytes', ts.at);
  const sv = all.find((x) => x.tag === 28);
  const known = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 28]);
  return {
    version: pair(first[0]!, 'version'),
    headerLength,
    signerVersion: sv ? pair(sv, 'signer version') : undefined,
    signerName: cstr(find(4, 'signer name'), 'signer name'),
    signerSerial: find(5, 'signer serial').value,
    signerIssuer: cstr(find(6, 'signer issuer'), 'signer issuer'),
    digest,
    signatureAlgorithm: byte(find(10, 'signature algorithm'), 'signature algorithm'),
    modulusBytes,
    signature: sig.value,
    filename: cstr(find(14, 'filename'), 'filename'),
    timestamp: ts ? new DataView(ts.value.buffer, ts.value.byteOffset, 4).getUint32(0) : undefined,
    encryption: all.filter((x) => x.tag >= 16 && x.tag <= 27 && !CONTAINERS.has(x.tag)),
    unknown: all.filter((x) => !known.has(x.tag) && !(x.tag >= 16 && x.tag <= 27)),
    signatureAt: sig.at,
    padding: all.filter((x) => x.tag === 13).length,
  };
}

function readRecords(buf: Uint8Array, start: number): TrustRecord[] {
  const r = new ByteReader(FORMAT, buf, start);
  const out: TrustRecord[] = [];
  while (r.remaining > 0) {
    const at = r.offset;
    const tag = r.u8('record tag');
    if (tag !== 1) r.fail('bad-record', `record starts with tag ${tag}, not 1 (record length)`, at);
    const l = r.u16();
    if (l !== 2) r.fail('bad-record', 'record length field must be 2 bytes', at);
    const recordLength = r.u16('record length');
    if (recordLength < 5 || at + recordLength > buf.length) r.fail('bad-record', `record length ${recordLength} outside 5..${buf.length - at}`, at);
    const fields: RawTlv[] = [];
    readTlvs(r, at + recordLength, fields, 3);
    const get = (t: number) => fields.find((f) => f.tag === t);
    const role = get(4);
    const hashAlg = get(12);
    out.push({
      dnsName: get(2) ? cstr(get(2)!, 'DNS name') : undefined,
      subject: get(3) ? cstr(get(3)!, 'subject') : undefined,
      role: role ? u16(role, 'role') : undefined,
      issuer: get(5) ? cstr(get(5)!, 'issuer') : undefined,
      serial: get(6)?.value,
      publicKey: get(7)?.value,
      certSignature: get(8)?.value,
      certificate: get(9)?.value,
      ip: get(10)?.value,
      certHash: get(11)?.value,
      hashAlgorithm: hashAlg ? byte(hashAlg, 'hash algorithm') : undefined,
      unknown: fields.filter((f) => f.tag < 2 || f.tag > 12),
      at,
    });
  }
  return out;
}

/** Any signed file: header and the bytes after it. */
export function parseSignedFile(buf: Uint8Array): Result<SignedFile> {
  return catchWire(() => {
    const header = readHeader(buf);
    return { header, body: buf.subarray(header.headerLength) };
  });
}

/** An ITL or CTL: header and records. */
export function parseTrustList(buf: Uint8Array): Result<TrustList> {
  return catchWire(() => {
    if (buf.length > TRUST_LIST_MAX) throw new WireError(FORMAT, 'oversized', `trust list of ${buf.length} bytes exceeds ${TRUST_LIST_MAX} (phones refuse it)`, 0);
    const header = readHeader(buf);
    return { header, body: buf.subarray(header.headerLength), records: readRecords(buf, header.headerLength) };
  });
}

/** The bytes the signature covers: everything but the signature TLV. */
export function signedBytes(buf: Uint8Array, h: SignedHeader): Buffer {
  const end = h.signatureAt + 3 + h.signature.length;
  return Buffer.concat([buf.subarray(0, h.signatureAt), buf.subarray(end)]);
}

/** Verifies a signed file with a verifier (node:crypto behind it); never throws on bad input. */
export function verifySignedFile(buf: Uint8Array, h: SignedHeader, verify: (digest: Digest, data: Uint8Array, signature: Uint8Array) => boolean): boolean {
  if (h.signatureAlgorithm !== 0) return false;
  try {
    return verify(h.digest, signedBytes(buf, h), h.signature);
  } catch {
    return false;
  }
}

// ---- writing --------------------------------------------------------------------------------

export interface SignerInfo {
  name: string;
  serial: Uint8Array;
  issuer: string;
  modulusBytes: number;
}

export interface BuildOptions {
  version: [number, number];
  signerVersion?: [number, number];
  signer: SignerInfo;
  digest: Digest;
  filename: string;
  timestamp?: number;
  /** Header TLVs written after the filename and timestamp (the encryption fields of an .enc.sgn). */
  extraHeader?: Uint8Array;
  body: Uint8Array;
  /** Signs the given bytes with the signer's key (RSA PKCS#1 v1.5 with `digest`). */
  sign: (digest: Digest, data: Uint8Array) => Uint8Array;
}

const tlv = (w: ByteWriter, tag: number, value: Uint8Array) => {
  if (value.length > 0xffff) throw new RangeError(`tag ${tag} value of ${value.length} bytes is too long`);
  w.u8(tag).u16(value.length).bytes(value);
};
const z = (s: string) => Buffer.concat([ascii(s), Buffer.of(0)]);

/** Builds a signed file: header in Cisco's order, padded to 4 bytes, then signed. */
export function buildSignedFile(o: BuildOptions): Buffer {
  const modIndex = MODULUS_BYTES.indexOf(o.signer.modulusBytes);
  if (modIndex < 0) throw new RangeError(`no modulus index for ${o.signer.modulusBytes}-byte keys`);
  const signer = new ByteWriter();
  tlv(signer, 4, z(o.signer.name));
  tlv(signer, 5, o.signer.serial);
  tlv(signer, 6, z(o.signer.issuer));
  const algo = new ByteWriter();
  tlv(algo, 10, Uint8Array.of(0));
  tlv(algo, 11, Uint8Array.of(modIndex));
  const info = new ByteWriter();
  tlv(info, 8, Uint8Array.of(DIGEST_TAG[o.digest]));
  tlv(info, 9, algo.finish());
  const before = new ByteWriter(); // after tags 1 and 2, up to the signature
  if (o.signerVersion) tlv(before, 28, Uint8Array.from(o.signerVersion));
  tlv(before, 3, signer.finish());
  tlv(before, 7, info.finish());
  const after = new ByteWriter(); // after the signature
  tlv(after, 14, z(o.filename));
  if (o.timestamp !== undefined) tlv(after, 15, Uint8Array.of(o.timestamp >>> 24, (o.timestamp >>> 16) & 0xff, (o.timestamp >>> 8) & 0xff, o.timestamp & 0xff));
  if (o.extraHeader) after.bytes(o.extraHeader);
  const unpadded = 5 + 5 + before.length + 3 + o.signer.modulusBytes + after.length;
  const padding = (4 - (unpadded % 4)) % 4;
  for (let i = 0; i < padding; i++) after.u8(13);
  const headerLength = unpadded + padding;
  if (headerLength > 0xffff) throw new RangeError('header too long');
  const head = new ByteWriter();
  tlv(head, 1, Uint8Array.from(o.version));
  tlv(head, 2, Uint8Array.of(headerLength >>> 8, headerLength & 0xff));
  head.bytes(before.finish());
  const pre = head.finish();
  const post = after.finish();
  const signature = o.sign(o.digest, Buffer.concat([pre, post, o.body]));
  if (signature.length !== o.signer.modulusBytes) throw new RangeError(`signature of ${signature.length} bytes for a ${o.signer.modulusBytes}-byte key`);
  const sig = new ByteWriter();
  tlv(sig, 12, signature);
  return Buffer.concat([pre, sig.finish(), post, o.body]);
}

export interface RecordInput {
  role: number;
  dnsName?: string;
  subject: string;
  issuer: string;
  serial: Uint8Array;
  publicKey: Uint8Array;
  certSignature: Uint8Array;
  certificate: Uint8Array;
  ip?: Uint8Array;
}

export function buildRecord(r: RecordInput): Buffer {
  const w = new ByteWriter();
  if (r.dnsName) tlv(w, 2, z(r.dnsName));
  tlv(w, 3, z(r.subject));
  tlv(w, 4, Uint8Array.of(r.role >>> 8, r.role & 0xff));
  tlv(w, 5, z(r.issuer));
  tlv(w, 6, r.serial);
  tlv(w, 7, r.publicKey);
  tlv(w, 8, r.certSignature);
  tlv(w, 9, r.certificate);
  if (r.ip) tlv(w, 10, r.ip);
  const inner = w.finish();
  const total = 5 + inner.length;
  if (total > 0xffff) throw new RangeError('record too long');
  const out = new ByteWriter();
  out.u8(1).u16(2).u16(total).bytes(inner);
  return out.finish();
}

export const sameBytes = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean =>
  !!a && !!b && a.length === b.length && Buffer.from(a).equals(Buffer.from(b));

/** Serial numbers compare without leading zero bytes (DER may add one). */
export const sameSerial = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean => {
  const strip = (x: Uint8Array) => {
    let i = 0;
    while (i < x.length - 1 && x[i] === 0) i++;
    return Buffer.from(x.subarray(i));
  };
  return !!a && !!b && strip(a).equals(strip(b));
};
