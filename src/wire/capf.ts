/**
 * Certificate Authority Proxy Function messages (TLS on TCP 3804; reference
 * cisco-boot-protocol.md §7). The server speaks first; every message is
 *
 *   offset size
 *   0      1    protocol id 0x55
 *   1      1    command (CapfCommand)
 *   2      4    session id (chosen by the server; the phone echoes it)
 *   6      2    payload length
 *   8      …    elements: tag u8 | length u16 | value
 *
 * An install, as a phone sees it:
 *
 *   server AUTH_REQUEST          VERSION 3, AUTH_TYPE
 *   phone  AUTH_RESPONSE         VERSION, DEVICE_NAME "SEP…\0", PASSWORD "…\0" | CERTIFICATE + SIGNED_DATA + SHA2_SIGNED_DATA
 *   server KEY_GENERATE_REQUEST  KEY_TYPE 0 (RSA) + KEY_SIZE, or KEY_TYPE 1 (EC) + CURVE
 *   phone  REQUEST_IN_PROGRESS   (optional, while the key is made)
 *   phone  KEY_GENERATE_RESPONSE PUBLIC_KEY (DER SubjectPublicKeyInfo)
 *   server STORE_CERTIFICATE_REQUEST CERTIFICATE_TYPE 1 (LSC), CERTIFICATE
 *   phone  STORE_CERTIFICATE_RESPONSE REASON 1
 *   server END_SESSION           REASON 1 (updated) | 0 (nothing to do) | 7 (invalid) | 9 (unknown device)
 *
 * The codec keeps elements as bytes by tag; the helpers below give the few structured ones
 * (strings, the wrapped certificate, the SHA-2 signature) their shape. Element layouts follow
 * what usecallmanager's capfd and capfc exchange, which e2e tests run against.
 */
import { ByteReader, ByteWriter, ascii, text } from './bytes.ts';
import { type Result, WireError, catchWire } from './result.ts';

export const CAPF_PORT = 3804;
export const CAPF_PROTOCOL_VERSION = 3;
const PROTOCOL = 0x55;
export const CAPF_HEADER_BYTES = 8;
/** A certificate and two RSA-4096 signatures fit in 8 KiB; nothing legitimate comes near 16. */
export const CAPF_MAX_PAYLOAD = 16 * 1024;

export const CapfCommand = {
  AUTH_REQUEST: 1,
  AUTH_RESPONSE: 2,
  KEY_GENERATE_REQUEST: 3,
  KEY_GENERATE_RESPONSE: 4,
  STORE_CERTIFICATE_REQUEST: 9,
  STORE_CERTIFICATE_RESPONSE: 10,
  FETCH_CERTIFICATE_REQUEST: 11,
  FETCH_CERTIFICATE_RESPONSE: 12,
  DELETE_CERTIFICATE_REQUEST: 13,
  DELETE_CERTIFICATE_RESPONSE: 14,
  END_SESSION: 15,
  REQUEST_IN_PROGRESS: 17,
} as const;

export const CapfElement = {
  REASON: 1,
  REASON_INFO: 2,
  CERTIFICATE_TYPE: 3,
  CERTIFICATE: 4,
  SIGNED_DATA: 6,
  VERSION: 7,
  AUTH_TYPE: 8,
  PUBLIC_KEY: 9,
  KEY_SIZE: 10,
  PASSWORD: 11,
  DEVICE_NAME: 13,
  SUDI_DATA: 16,
  KEY_TYPE: 17,
  CURVE: 18,
  SHA2_SIGNED_DATA: 20,
} as const;

/** END_SESSION and response reasons. */
export const CapfReason = { NO_ACTION: 0, UPDATE_CERTIFICATE: 1, INVALID_ELEMENT: 7, UNKNOWN_DEVICE: 9 } as const;

/** How the phone proves itself (the `capfAuthMode` of its configuration file uses the same numbers). */
export const CapfAuthType = { NONE: 0, PASSWORD: 1, NO_PASSWORD: 2, LSC: 3, MIC: 4 } as const;

export const CapfCertificateType = { LSC: 1, MIC: 2 } as const;
export const CapfKeyType = { RSA: 0, EC: 1 } as const;
export const CapfHash = { SHA1: 1, SHA256: 2, SHA512: 3 } as const;

const KNOWN_COMMANDS = new Set<number>(Object.values(CapfCommand));
const KNOWN_ELEMENTS = new Set<number>(Object.values(CapfElement));

export interface CapfMessage {
  command: number;
  session: number;
  /** Element values by tag; each tag at most once. */
  elements: Map<number, Uint8Array>;
}

const FORMAT = 'capf';

/** How many bytes a complete message occupies, once its header has arrived; undefined before. */
export function capfMessageLength(buf: Uint8Array): number | undefined {
  if (buf.length < CAPF_HEADER_BYTES) return undefined;
  return CAPF_HEADER_BYTES + ((buf[6]! << 8) | buf[7]!);
}

export function decodeCapf(buf: Uint8Array): Result<CapfMessage> {
  return catchWire(() => {
    const r = new ByteReader(FORMAT, buf);
    const proto = r.u8('protocol id');
    if (proto !== PROTOCOL) r.fail('bad-protocol', `protocol id 0x${proto.toString(16)} is not 0x55`, 0);
    const command = r.u8('command');
    if (!KNOWN_COMMANDS.has(command)) r.fail('bad-command', `command ${command} is not one this client or server speaks`, 1);
    const session = r.u32('session id');
    const length = r.u16('payload length');
    if (length > CAPF_MAX_PAYLOAD) r.fail('oversized', `payload of ${length} bytes exceeds ${CAPF_MAX_PAYLOAD}`, 6);
    if (r.remaining !== length) r.fail('bad-length', `payload length says ${length}, ${r.remaining} bytes follow`, 6);
    const elements = new Map<number, Uint8Array>();
    while (r.remaining > 0) {
      const at = r.offset;
      const tag = r.u8('element tag');
      const len = r.u16(`length of element ${tag}`);
      const value = Uint8Array.from(r.bytes(len, `element ${tag}`));
      if (!KNOWN_ELEMENTS.has(tag)) r.fail('bad-element', `unknown element ${tag}`, at);
      if (elements.has(tag)) r.fail('bad-element', `element ${tag} given twice`, at);
      elements.set(tag, value);
    }
    return { command, session, elements };
  });
}

export function encodeCapf(m: CapfMessage): Buffer {
  const body = new ByteWriter();
  for (const [tag, value] of m.elements) {
    if (value.length > 0xffff) throw new RangeError(`element ${tag} of ${value.length} bytes`);
    body.u8(tag).u16(value.length).bytes(value);
  }
  const payload = body.finish();
  if (payload.length > CAPF_MAX_PAYLOAD) throw new RangeError('CAPF payload too large');
  // One buffer, one write: a phone's CAPF client stalls when a message arrives in two.
  return new ByteWriter().u8(PROTOCOL).u8(m.command).u32(m.session >>> 0).u16(payload.length).bytes(payload).finish();
}

// ---- element values -------------------------------------------------------------------------

export const byteValue = (v: number): Uint8Array => Uint8Array.of(v & 0xff);
export const u16Value = (v: number): Uint8Array => Uint8Array.of((v >>> 8) & 0xff, v & 0xff);
/** Strings (device name, password) travel NUL-terminated. */
export const cstringValue = (s: string): Uint8Array => Buffer.concat([ascii(s), Buffer.of(0)]);

export function readByte(m: CapfMessage, tag: number, what: string): number | undefined {
  const v = m.elements.get(tag);
  if (v === undefined) return undefined;
  if (v.length !== 1) throw new WireError(FORMAT, 'bad-element', `${what} (element ${tag}) must be 1 byte`);
  return v[0];
}

export function readU16(m: CapfMessage, tag: number, what: string): number | undefined {
  const v = m.elements.get(tag);
  if (v === undefined) return undefined;
  if (v.length !== 2) throw new WireError(FORMAT, 'bad-element', `${what} (element ${tag}) must be 2 bytes`);
  return (v[0]! << 8) | v[1]!;
}

export function readCstring(m: CapfMessage, tag: number, what: string, max = 128): string | undefined {
  const v = m.elements.get(tag);
  if (v === undefined) return undefined;
  if (v.length === 0 || v[v.length - 1] !== 0) throw new WireError(FORMAT, 'bad-string', `${what} (element ${tag}) is not NUL-terminated`);
  if (v.length - 1 > max) throw new WireError(FORMAT, 'oversized', `${what} of ${v.length - 1} bytes exceeds ${max}`);
  const s = text(v.subarray(0, v.length - 1));
  if (/[\x00-\x1f\x7f]/.test(s)) throw new WireError(FORMAT, 'bad-string', `${what} has control characters`);
  return s;
}

/**
 * The CERTIFICATE element wraps the DER: `01 | u16 length (DER + 2) | 00 | certificate type | DER`.
 * The leading 01 and 00 are what both ends send; their meaning is not public.
 */
export function certificateValue(der: Uint8Array, type: number = CapfCertificateType.LSC): Uint8Array {
  return new ByteWriter().u8(1).u16(der.length + 2).u8(0).u8(type).bytes(der).finish();
}

export function readCertificate(m: CapfMessage): { type: number; der: Uint8Array } | undefined {
  const v = m.elements.get(CapfElement.CERTIFICATE);
  if (v === undefined) return undefined;
  const r = new ByteReader(FORMAT, v);
  r.u8('certificate wrapper');
  const len = r.u16('certificate wrapper length');
  if (len !== v.length - 3 || len < 3) r.fail('bad-element', `certificate wrapper says ${len} bytes, ${v.length - 3} follow`, 1);
  r.u8('certificate wrapper');
  const type = r.u8('certificate type');
  return { type, der: v.subarray(5) };
}

/** SHA2_SIGNED_DATA: `hash algorithm u8 | u16 length | signature`. */
export function sha2SignedValue(hash: number, signature: Uint8Array): Uint8Array {
  return new ByteWriter().u8(hash).u16(signature.length).bytes(signature).finish();
}

export function readSha2Signed(m: CapfMessage): { hash: number; signature: Uint8Array } | undefined {
  const v = m.elements.get(CapfElement.SHA2_SIGNED_DATA);
  if (v === undefined) return undefined;
  const r = new ByteReader(FORMAT, v);
  const hash = r.u8('hash algorithm');
  const len = r.u16('signature length');
  if (len !== r.remaining) r.fail('bad-element', `signature length says ${len}, ${r.remaining} bytes follow`, 1);
  return { hash, signature: v.subarray(3) };
}

/** The RSA key sizes a CAPF key request may name. */
export const CAPF_RSA_KEY_SIZES: ReadonlySet<number> = new Set([1024, 2048, 3072, 4096]);

/** What an LSC's holder signs to prove it (SIGNED_DATA SHA-1, SHA2_SIGNED_DATA SHA-512): device name, NUL, the certificate's DER. */
export const capfAuthData = (deviceName: string, der: Uint8Array): Buffer => Buffer.concat([ascii(deviceName), Buffer.of(0), der]);

export function capfMessage(command: number, session: number, elements: Array<[number, Uint8Array]> = []): CapfMessage {
  return { command, session, elements: new Map(elements) };
}

/** Reads a structured element, turning a WireError into a Result for callers at the edge. */
export const readElements = <T>(read: () => T): Result<T> => catchWire(read);
