/**
 * DHCPv4 message codec (RFC 2131 layout, RFC 2132 options, RFC 3396 long options, option
 * overload). Pure: bytes <-> DhcpMessage. Used by the phone's own DHCP client; the option
 * accessors below give typed values for what a Cisco phone reads (1, 3, 6, 51, 54, 58, 59,
 * 66, 150) and what it sends (50, 55, 60, 61).
 *
 *   0       1       2       3
 *   op      htype   hlen    hops
 *   xid (4)
 *   secs (2)        flags (2)         flags bit 0x8000 = BROADCAST
 *   ciaddr yiaddr siaddr giaddr (4 each)
 *   chaddr (16)  sname (64)  file (128)
 *   magic cookie 99.130.83.99, then options: code, len, value … 255
 */
import { ByteReader, ascii, text } from './bytes.ts';
import { bytesToIpv4 } from './ipv4.ts';
import { type Result, WireError, catchWire, err, ok } from './result.ts';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
export const BROADCAST_FLAG = 0x8000;
const MAGIC = 0x63825363;
const HEADER_BYTES = 236;
/** Largest message accepted: a full Ethernet frame's worth and then some; anything more is hostile. */
export const DHCP_MAX_MESSAGE = 4096;
/** BOOTP relays drop shorter messages, so encoders pad to this size (RFC 1542 §2.1). */
const MIN_MESSAGE = 300;

export const DhcpMessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type DhcpMessageTypeCode = (typeof DhcpMessageType)[keyof typeof DhcpMessageType];
const TYPE_NAMES = ['', 'DISCOVER', 'OFFER', 'REQUEST', 'DECLINE', 'ACK', 'NAK', 'RELEASE', 'INFORM'];
export const dhcpTypeName = (t: number): string => TYPE_NAMES[t] ?? `type-${t}`;

export const DhcpOption = {
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOST_NAME: 12,
  DOMAIN_NAME: 15,
  VENDOR_SPECIFIC: 43,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_T1: 58,
  REBINDING_T2: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER_NAME: 66,
  TFTP_SERVERS: 150,
} as const;

export interface DhcpMessage {
  op: 1 | 2;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The first hlen bytes of the 16-byte chaddr field. */
  chaddr: Uint8Array;
  sname: string;
  file: string;
  /** Option code -> value; repeated options are concatenated (RFC 3396). Insertion order is wire order. */
  options: Map<number, Uint8Array>;
}

function cString(b: Uint8Array): string {
  const nul = b.indexOf(0);
  if (nul === 0) return '';
  return text(nul < 0 ? b : b.subarray(0, nul));
}

function readOptions(r: ByteReader, end: number, into: Map<number, Uint8Array>, area: string): boolean {
  while (r.offset < end) {
    // The reads below cannot run past `end` (checked first), so their labels are never shown:
    // constants, not a string built per option of every message.
    const code = r.u8('option code');
    if (code === 0) continue; // pad: a single byte with no length
    if (code === 255) return true;
    if (r.offset >= end) r.fail('truncated', `${area} option ${code} has no length byte`);
    const len = r.u8('option length');
    if (r.offset + len > end) r.fail('truncated', `option ${code} says ${len} bytes, ${end - r.offset} left in ${area}`);
    const value = r.bytes(len, 'option value');
    const prev = into.get(code);
    into.set(code, prev ? Buffer.concat([prev, value]) : Uint8Array.from(value));
  }
  return false;
}

export function decodeDhcp(buf: Uint8Array): Result<DhcpMessage> {
  return catchWire(() => {
    if (buf.length > DHCP_MAX_MESSAGE) {
      throw new WireError('dhcp', 'oversized', `message of ${buf.length} bytes exceeds ${DHCP_MAX_MESSAGE}`, 0);
    }
    const r = new ByteReader('dhcp', buf);
    if (buf.length < HEADER_BYTES + 4) r.fail('truncated', `message of ${buf.length} bytes is shorter than ${HEADER_BYTES + 4}`, 0);
    const op = r.u8();
    if (op !== 1 && op !== 2) r.fail('bad-op', `op ${op} is neither BOOTREQUEST nor BOOTREPLY`, 0);
    const htype = r.u8();
    const hlen = r.u8();
    if (hlen > 16) r.fail('bad-hlen', `hardware address length ${hlen} exceeds 16`, 2);
    const hops = r.u8();
    const xid = r.u32();
    const secs = r.u16();
    const flags = r.u16();
    const ipField = r.bytes(16);
    const chaddrField = r.bytes(16);
    const snameField = r.bytes(64);
    const fileField = r.bytes(128);
    const magic = r.u32('magic cookie');
    if (magic !== MAGIC) r.fail('bad-magic', `magic cookie 0x${magic.toString(16)} is not 0x63825363`, HEADER_BYTES);
    const options = new Map<number, Uint8Array>();
    const ended = readOptions(r, buf.length, options, 'options');
    if (!ended) r.fail('truncated', 'options end without the END option (255)');
    let sname = cString(snameField);
    let file = cString(fileField);
    const overload = options.get(DhcpOption.OVERLOAD);
    if (overload) {
      if (overload.length !== 1 || overload[0]! < 1 || overload[0]! > 3) r.fail('bad-option', 'option 52 (overload) must be 1, 2 or 3');
      // RFC 2131 §4.1: file is read before sname.
      if (overload[0]! & 1) {
        readOptions(new ByteReader('dhcp', fileField), 128, options, 'file field');
        file = '';
      }
      if (overload[0]! & 2) {
        readOptions(new ByteReader('dhcp', snameField), 64, options, 'sname field');
        sname = '';
      }
    }
    return {
      op: op as 1 | 2, htype, hlen, hops, xid, secs, flags,
      ciaddr: bytesToIpv4(ipField, 0), yiaddr: bytesToIpv4(ipField, 4), siaddr: bytesToIpv4(ipField, 8), giaddr: bytesToIpv4(ipField, 12),
      chaddr: Uint8Array.from(chaddrField.subarray(0, hlen)),
      sname, file, options,
    };
  });
}

/**
 * A dotted quad as a number, accepting what ipv4ToBytes accepts (no leading zeros, each part at
 * most 255) and throwing the same RangeError otherwise, without a regular expression or arrays:
 * the companion's DHCP server encodes five addresses per reply, thousands of replies a second
 * (docs/scale.md).
 */
function quadInt(ip: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || parts === 4) break;
      n = n * 256 + part;
      parts++;
      part = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39 && !(digits > 0 && part === 0)) {
      part = part * 10 + (c - 0x30);
      if (++digits > 3 || part > 255) break;
    } else {
      break;
    }
    if (i === ip.length && parts === 4) return n;
  }
  throw new RangeError(`not an IPv4 address: ${ip}`);
}

const quadBytes = (ip: string): Uint8Array => {
  const n = quadInt(ip);
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
};

/**
 * One buffer of the exact size, written in place: no growing writer, no intermediate arrays —
 * the companion's DHCP server encodes a reply per request (docs/scale.md). Errors as before:
 * a RangeError for an address, a chaddr, an sname/file or an option code that cannot be encoded.
 */
export function encodeDhcp(m: DhcpMessage): Buffer {
  const ciaddr = quadInt(m.ciaddr);
  const yiaddr = quadInt(m.yiaddr);
  const siaddr = quadInt(m.siaddr);
  const giaddr = quadInt(m.giaddr);
  if (m.chaddr.length > 16) throw new RangeError('chaddr longer than 16 bytes');
  const sname = m.sname === '' ? undefined : ascii(m.sname);
  if (sname && sname.length >= 64) throw new RangeError('field longer than 63 bytes');
  const file = m.file === '' ? undefined : ascii(m.file);
  if (file && file.length >= 128) throw new RangeError('field longer than 127 bytes');
  let size = HEADER_BYTES + 4 + 1;
  for (const [code, value] of m.options) {
    if (code <= 0 || code >= 255) throw new RangeError(`option code ${code} cannot be encoded`);
    // RFC 3396: values longer than 255 bytes go out as consecutive instances of the option.
    size += value.length + 2 * Math.max(1, Math.ceil(value.length / 255));
  }
  // From Node's pool of small buffers (no allocation of its own), zeroed: padding is zeros.
  const b = Buffer.allocUnsafe(Math.max(size, MIN_MESSAGE)).fill(0);
  b[0] = m.op & 0xff;
  b[1] = m.htype & 0xff;
  b[2] = m.hlen & 0xff;
  b[3] = m.hops & 0xff;
  b.writeUInt32BE(m.xid >>> 0, 4);
  b.writeUInt16BE(m.secs & 0xffff, 8);
  b.writeUInt16BE(m.flags & 0xffff, 10);
  b.writeUInt32BE(ciaddr, 12);
  b.writeUInt32BE(yiaddr, 16);
  b.writeUInt32BE(siaddr, 20);
  b.writeUInt32BE(giaddr, 24);
  b.set(m.chaddr, 28);
  if (sname) b.set(sname, 44);
  if (file) b.set(file, 108);
  b.writeUInt32BE(MAGIC, HEADER_BYTES);
  let at = HEADER_BYTES + 4;
  for (const [code, value] of m.options) {
    if (value.length <= 255) {
      b[at++] = code & 0xff;
      b[at++] = value.length;
      b.set(value, at);
      at += value.length;
      continue;
    }
    let from = 0;
    do {
      const chunk = value.subarray(from, from + 255);
      b[at++] = code & 0xff;
      b[at++] = chunk.length;
      b.set(chunk, at);
      at += chunk.length;
      from += 255;
    } while (from < value.length);
  }
  b[at] = 255;
  return b;
}

// ---- typed option values -------------------------------------------------------------------

const optErr = (code: number, message: string) => new WireError('dhcp', 'bad-option', `option ${code}: ${message}`);

export const u32Option = (v: number): Uint8Array => Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
export const ipListOption = (ips: readonly string[]): Uint8Array => (ips.length === 1 ? quadBytes(ips[0]!) : Buffer.concat(ips.map(quadBytes)));

export function readIpList(m: DhcpMessage, code: number): Result<string[] | undefined> {
  const v = m.options.get(code);
  if (v === undefined) return ok(undefined);
  if (v.length === 0 || v.length % 4 !== 0) return err(optErr(code, `length ${v.length} is not a non-zero multiple of 4`));
  const out: string[] = [];
  for (let i = 0; i < v.length; i += 4) out.push(bytesToIpv4(v, i));
  return ok(out);
}

export function readU32(m: DhcpMessage, code: number): Result<number | undefined> {
  const v = m.options.get(code);
  if (v === undefined) return ok(undefined);
  if (v.length !== 4) return err(optErr(code, `length ${v.length}, expected 4`));
  return ok(new DataView(v.buffer, v.byteOffset, 4).getUint32(0));
}

/** A text option; a trailing NUL (common in option 60/66) is not part of the value. */
export function readText(m: DhcpMessage, code: number): Result<string | undefined> {
  const v = m.options.get(code);
  if (v === undefined) return ok(undefined);
  const s = cString(v);
  if (s.length === 0) return err(optErr(code, 'empty text'));
  if (/[\x00-\x1f\x7f]/.test(s)) return err(optErr(code, 'control characters in text'));
  return ok(s);
}

export function readMessageType(m: DhcpMessage): Result<number> {
  const v = m.options.get(DhcpOption.MESSAGE_TYPE);
  if (!v || v.length !== 1) return err(optErr(53, 'missing or not one byte'));
  if (v[0]! < 1 || v[0]! > 8) return err(optErr(53, `unknown message type ${v[0]}`));
  return ok(v[0]!);
}

/** Option 61 as RFC 2132 §9.14 wants it for Ethernet: hardware type 1, then the 6-byte MAC. */
export const clientIdOption = (mac: Uint8Array): Uint8Array => Uint8Array.of(1, ...mac);
