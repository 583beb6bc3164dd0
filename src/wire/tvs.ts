/**
 * Trust Verification Service messages (TLS on TCP 2445; reference cisco-boot-protocol.md §6).
 *
 *   offset size
 *   0      1    protocol id 0x57
 *   1      1    version 1
 *   2      1    command: 1 VERIFY_REQUEST, 2 VERIFY_RESPONSE (3/4 QUERY: not public)
 *   3      1    reserved 0
 *   4      4    session id (a response echoes its request's)
 *   8      2    payload length
 *   10     …    elements: tag u8 | length u16 | value
 *
 *   request elements  1 DEVICE_NAME = 0x01 + "CP-<model>-SEP<MAC>",  2 CERTIFICATE = DER
 *   response elements 7 STATUS (0 valid, 1 invalid), 8 ROLES (one byte each), 9 TTL u32 seconds
 */
import { ByteReader, ByteWriter, ascii, text } from './bytes.ts';
import { type Result, WireError, catchWire } from './result.ts';

export const TVS_PORT = 2445;
const PROTOCOL = 0x57;
const VERSION = 1;
export const TVS_HEADER_BYTES = 10;
/** A certificate chain element is at most a few KiB; refuse anything near the u16 limit. */
export const TVS_MAX_PAYLOAD = 16 * 1024;

export const TvsCommand = { VERIFY_REQUEST: 1, VERIFY_RESPONSE: 2, QUERY_REQUEST: 3, QUERY_RESPONSE: 4 } as const;

export type TvsMessage =
  | { kind: 'verify-request'; session: number; deviceName: string; certificate: Uint8Array }
  | { kind: 'verify-response'; session: number; valid: boolean; roles: number[]; ttlSecs: number };

const FORMAT = 'tvs';

/** How many bytes a complete message occupies, once its header has arrived; undefined before. */
export function tvsMessageLength(buf: Uint8Array): number | undefined {
  if (buf.length < TVS_HEADER_BYTES) return undefined;
  return TVS_HEADER_BYTES + ((buf[8]! << 8) | buf[9]!);
}

export function decodeTvs(buf: Uint8Array): Result<TvsMessage> {
  return catchWire(() => {
    const r = new ByteReader(FORMAT, buf);
    const proto = r.u8('protocol id');
    if (proto !== PROTOCOL) r.fail('bad-protocol', `protocol id 0x${proto.toString(16)} is not 0x57`, 0);
    const version = r.u8('version');
    if (version !== VERSION) r.fail('bad-version', `version ${version} is not 1`, 1);
    const command = r.u8('command');
    r.u8('reserved');
    const session = r.u32('session id');
    const length = r.u16('payload length');
    if (length > TVS_MAX_PAYLOAD) r.fail('oversized', `payload of ${length} bytes exceeds ${TVS_MAX_PAYLOAD}`, 8);
    if (r.remaining !== length) r.fail('bad-length', `payload length says ${length}, ${r.remaining} bytes follow`, 8);
    const elements = new Map<number, Uint8Array>();
    while (r.remaining > 0) {
      const at = r.offset;
      const tag = r.u8('element tag');
      const len = r.u16(`length of element ${tag}`);
      const value = Uint8Array.from(r.bytes(len, `element ${tag}`));
      if (elements.has(tag)) r.fail('bad-element', `element ${tag} given twice`, at);
      elements.set(tag, value);
    }
    if (command === TvsCommand.VERIFY_REQUEST) {
      const name = elements.get(1);
      const cert = elements.get(2);
      if (!name || name.length < 2) r.fail('missing', 'VERIFY_REQUEST without a device name (element 1)', 10);
      if (!cert || cert.length === 0) r.fail('missing', 'VERIFY_REQUEST without a certificate (element 2)', 10);
      const deviceName = text(name!.subarray(1));
      if (!/^CP-[0-9]{4}-SEP[0-9A-F]{12}$/.test(deviceName)) r.fail('bad-element', `device name "${deviceName.slice(0, 40)}" is not CP-<model>-SEP<MAC>`, 10);
      return { kind: 'verify-request', session, deviceName, certificate: cert! };
    }
    if (command === TvsCommand.VERIFY_RESPONSE) {
      const status = elements.get(7);
      if (!status || status.length !== 1) r.fail('missing', 'VERIFY_RESPONSE without a one-byte status (element 7)', 10);
      const valid = status![0] === 0;
      const ttl = elements.get(9);
      if (ttl && ttl.length !== 4) r.fail('bad-element', 'TTL (element 9) must be 4 bytes', 10);
      return {
        kind: 'verify-response', session, valid,
        roles: valid ? [...(elements.get(8) ?? [])] : [],
        ttlSecs: valid && ttl ? new DataView(ttl.buffer, ttl.byteOffset, 4).getUint32(0) : 0,
      };
    }
    return r.fail('bad-command', `command ${command} is not VERIFY_REQUEST or VERIFY_RESPONSE`, 2);
  });
}

export function encodeTvs(m: TvsMessage): Buffer {
  const body = new ByteWriter();
  const el = (tag: number, v: Uint8Array) => body.u8(tag).u16(v.length).bytes(v);
  let command: number;
  if (m.kind === 'verify-request') {
    command = TvsCommand.VERIFY_REQUEST;
    // The leading 0x01 of the device name is what phones send; its meaning is not public.
    el(1, Buffer.concat([Buffer.of(1), ascii(m.deviceName)]));
    el(2, m.certificate);
  } else {
    command = TvsCommand.VERIFY_RESPONSE;
    el(7, Uint8Array.of(m.valid ? 0 : 1));
    if (m.valid) {
      el(8, Uint8Array.from(m.roles));
      el(9, Uint8Array.of(m.ttlSecs >>> 24, (m.ttlSecs >>> 16) & 0xff, (m.ttlSecs >>> 8) & 0xff, m.ttlSecs & 0xff));
    }
  }
  const payload = body.finish();
  if (payload.length > TVS_MAX_PAYLOAD) throw new RangeError('TVS payload too large');
  const w = new ByteWriter();
  w.u8(PROTOCOL).u8(VERSION).u8(command).u8(0).u32(m.session >>> 0).u16(payload.length).bytes(payload);
  return w.finish();
}

export const tvsDeviceName = (model: string, deviceName: string): string => `CP-${model.padStart(4, '0').slice(-4)}-${deviceName}`;

