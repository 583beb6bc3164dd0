/**
 * RTP data packets (RFC 3550 §5.1) and the RFC 4733 telephone-event payload, for the phone's
 * media path (G.711 audio, DTMF out of band).
 *
 *   offset size
 *   0      1    V=2 (2 bits) | P padding | X extension | CC CSRC count (4 bits)
 *   1      1    M marker | PT payload type (7 bits)
 *   2      2    sequence number
 *   4      4    timestamp
 *   8      4    SSRC
 *   12     4·CC CSRC list
 *   …      4+4n header extension when X: profile u16 | length u16 in 32-bit words | data
 *   …      …    payload
 *   …      P    padding when P: zeros, the last octet counting every padding octet, itself included
 *
 * The decoder keeps the padding count rather than the padding bytes: senders pad for block
 * ciphers (SRTP) or fixed sizes, and the count is all a receiver needs to strip it.
 */
import { ByteReader, ByteWriter } from './bytes.ts';
import { type Result, catchWire } from './result.ts';

export const RTP_VERSION = 2;
export const RTP_HEADER_BYTES = 12;
const FORMAT = 'rtp';

export interface RtpExtension {
  /** The "defined by profile" 16 bits that tell receivers how to read the data. */
  profile: number;
  /** Whole 32-bit words: its length is a multiple of 4. */
  data: Uint8Array;
}

export interface RtpPacket {
  marker: boolean;
  /** 0–127; the SDP's rtpmap (or RFC 3551's static table) says which codec. */
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  /** Contributing sources (a mixer's inputs), at most 15. */
  csrcs: number[];
  extension?: RtpExtension;
  payload: Uint8Array;
  /** Padding octets after the payload, the count octet included; 0 for none. */
  padding: number;
}

export function rtpEncodingLength(p: RtpPacket): number {
  const ext = p.extension ? 4 + p.extension.data.length : 0;
  return RTP_HEADER_BYTES + 4 * p.csrcs.length + ext + p.payload.length + p.padding;
}

export function decodeRtp(buf: Uint8Array): Result<RtpPacket> {
  return catchWire(() => {
    const r = new ByteReader(FORMAT, buf);
    const b0 = r.u8('first header octet');
    const version = b0 >>> 6;
    if (version !== RTP_VERSION) r.fail('bad-version', `version ${version} is not 2`, 0);
    const padded = (b0 & 0x20) !== 0;
    const extended = (b0 & 0x10) !== 0;
    const cc = b0 & 0x0f;
    const b1 = r.u8('marker and payload type');
    const sequence = r.u16('sequence number');
    const timestamp = r.u32('timestamp');
    const ssrc = r.u32('SSRC');
    const csrcs: number[] = [];
    for (let i = 0; i < cc; i++) csrcs.push(r.u32(`CSRC ${i + 1} of ${cc}`));
    let extension: RtpExtension | undefined;
    if (extended) {
      const profile = r.u16('extension profile');
      const words = r.u16('extension length');
      extension = { profile, data: Uint8Array.from(r.bytes(4 * words, `extension of ${words} words`)) };
    }
    let end = buf.length;
    let padding = 0;
    if (padded) {
      // The count sits in the packet's last octet and covers bytes after the headers only.
      if (r.remaining === 0) r.fail('bad-padding', 'padding bit set but no octet follows the headers', r.offset);
      padding = buf[buf.length - 1]!;
      if (padding === 0) r.fail('bad-padding', 'padding count 0 (it must count itself)', buf.length - 1);
      if (padding > r.remaining) r.fail('bad-padding', `padding count ${padding} exceeds the ${r.remaining} bytes after the headers`, buf.length - 1);
      end -= padding;
    }
    const payload = Uint8Array.from(buf.subarray(r.offset, end));
    const packet: RtpPacket = { marker: (b1 & 0x80) !== 0, payloadType: b1 & 0x7f, sequence, timestamp, ssrc, csrcs, payload, padding };
    if (extension) packet.extension = extension;
    return packet;
  });
}

/** Throws RangeError on a packet no sender should build (a bug in the caller, not hostile input). */
export function encodeRtp(p: RtpPacket): Buffer {
  const uint = (v: number, max: number, what: string) => {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`RTP ${what} ${v} outside 0..${max}`);
  };
  uint(p.payloadType, 0x7f, 'payload type');
  uint(p.sequence, 0xffff, 'sequence number');
  uint(p.timestamp, 0xffffffff, 'timestamp');
  uint(p.ssrc, 0xffffffff, 'SSRC');
  uint(p.padding, 0xff, 'padding');
  uint(p.csrcs.length, 15, 'CSRC count');
  for (const c of p.csrcs) uint(c, 0xffffffff, 'CSRC');
  const w = new ByteWriter();
  w.u8((RTP_VERSION << 6) | (p.padding ? 0x20 : 0) | (p.extension ? 0x10 : 0) | p.csrcs.length);
  w.u8((p.marker ? 0x80 : 0) | p.payloadType).u16(p.sequence).u32(p.timestamp).u32(p.ssrc);
  for (const c of p.csrcs) w.u32(c);
  if (p.extension) {
    const { profile, data } = p.extension;
    uint(profile, 0xffff, 'extension profile');
    if (data.length % 4 !== 0 || data.length / 4 > 0xffff) throw new RangeError(`RTP extension of ${data.length} bytes is not 0..65535 whole words`);
    w.u16(profile).u16(data.length / 4).bytes(data);
  }
  w.bytes(p.payload);
  if (p.padding) w.zeros(p.padding - 1).u8(p.padding);
  return w.finish();
}

// ---- RFC 4733 telephone-event payload ------------------------------------------------------

/**
 *    0                   1                   2                   3
 *   |     event     |E|R| volume    |          duration             |
 *
 * E marks the last packet(s) of an event (sent three times, RFC 4733 §2.5.1.4); R is reserved,
 * sent 0 and ignored on receipt. Volume is the tone's power as -dBm0, 0–63. Duration is in
 * timestamp units (samples at 8 kHz) since the event began, in a packet stamped at its start.
 */
export interface TelephoneEvent {
  event: number;
  end: boolean;
  volume: number;
  duration: number;
}

export const TELEPHONE_EVENT_BYTES = 4;

export function encodeTelephoneEvent(e: TelephoneEvent): Buffer {
  const uint = (v: number, max: number, what: string) => {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`telephone-event ${what} ${v} outside 0..${max}`);
  };
  uint(e.event, 0xff, 'event');
  uint(e.volume, 63, 'volume');
  uint(e.duration, 0xffff, 'duration');
  return new ByteWriter().u8(e.event).u8((e.end ? 0x80 : 0) | e.volume).u16(e.duration).finish();
}

export function decodeTelephoneEvent(payload: Uint8Array): Result<TelephoneEvent> {
  return catchWire(() => {
    const r = new ByteReader('telephone-event', payload);
    // One event per packet: several in one payload only travel as RFC 2198 redundancy, its own PT.
    if (payload.length !== TELEPHONE_EVENT_BYTES) r.fail('bad-length', `payload of ${payload.length} bytes is not 4`, 0);
    const event = r.u8('event');
    const flags = r.u8('end bit and volume');
    const duration = r.u16('duration');
    return { event, end: (flags & 0x80) !== 0, volume: flags & 0x3f, duration };
  });
}

/** DTMF digits and their RFC 4733 §3.2 event codes. */
export const DTMF_EVENTS: Readonly<Record<string, number>> = Object.freeze({
  '0': 0, '1': 1, '2': 2, '3': 3, '4': 4, '5': 5, '6': 6, '7': 7, '8': 8, '9': 9,
  '*': 10, '#': 11, A: 12, B: 13, C: 14, D: 15,
});

/** The reverse: event code → digit, for codes 0–15. */
export const DTMF_DIGITS: readonly string[] = Object.freeze(Object.keys(DTMF_EVENTS).sort((a, b) => DTMF_EVENTS[a]! - DTMF_EVENTS[b]!));

export const dtmfEvent = (digit: string): number | undefined => (Object.hasOwn(DTMF_EVENTS, digit) ? DTMF_EVENTS[digit] : undefined);
export const dtmfDigit = (event: number): string | undefined => DTMF_DIGITS[event];
