import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  DTMF_DIGITS, DTMF_EVENTS, type RtpPacket, decodeRtp, decodeTelephoneEvent, dtmfDigit, dtmfEvent, encodeRtp, encodeTelephoneEvent,
  rtpEncodingLength,
} from '../../src/wire/rtp.ts';
import { WireError } from '../../src/wire/result.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const bytes = (s: string) => Uint8Array.from(hex(s));

test('a header with marker, two CSRCs and 4 octets of padding, byte for byte', () => {
  const p: RtpPacket = {
    marker: true, payloadType: 0, sequence: 0x1234, timestamp: 0xdeadbeef, ssrc: 0x01020304,
    csrcs: [0x0a0b0c0d, 0x11223344], payload: bytes('ff ff 7f ff'), padding: 4,
  };
  // V=2 P=1 X=0 CC=2 → a2; M=1 PT=0 → 80; padding is zeros ending in its count.
  const wire = hex('a2 80 1234 deadbeef 01020304 0a0b0c0d 11223344 ffff7fff 00000004');
  assert.equal(encodeRtp(p), wire);
  assert.is(rtpEncodingLength(p), wire.length);
  assert.equal(decodeRtp(wire), { ok: true, value: p });
});

test('a header extension keeps its profile and whole words', () => {
  const p: RtpPacket = {
    marker: false, payloadType: 8, sequence: 65535, timestamp: 0, ssrc: 0xffffffff, csrcs: [],
    extension: { profile: 0xbede, data: bytes('10 aa 00 00') }, payload: bytes('d5 d5'), padding: 0,
  };
  const wire = hex('90 08 ffff 00000000 ffffffff bede 0001 10aa0000 d5d5');
  assert.equal(encodeRtp(p), wire);
  assert.equal(decodeRtp(wire), { ok: true, value: p });
});

test("RFC 4733: the end packet of DTMF '5' at volume 10 after 800 samples", () => {
  const payload = encodeTelephoneEvent({ event: DTMF_EVENTS['5']!, end: true, volume: 10, duration: 800 });
  // event 5 | E=1 R=0 volume 10 → 8a | duration 0x0320.
  assert.equal(payload, hex('05 8a 0320'));
  const wire = encodeRtp({ marker: false, payloadType: 101, sequence: 1000, timestamp: 160000, ssrc: 0x12345678, csrcs: [], payload, padding: 0 });
  assert.equal(wire, hex('80 65 03e8 00027100 12345678 058a0320'));
  const back = decodeRtp(wire);
  if (!back.ok) return assert.unreachable(back.error.message);
  assert.equal(decodeTelephoneEvent(back.value.payload), { ok: true, value: { event: 5, end: true, volume: 10, duration: 800 } });
  // The reserved bit is ignored on receipt.
  assert.equal(decodeTelephoneEvent(bytes('05 ca 0320')), { ok: true, value: { event: 5, end: true, volume: 10, duration: 800 } });
  assert.equal(decodeTelephoneEvent(bytes('0b 00 00a0')), { ok: true, value: { event: 11, end: false, volume: 0, duration: 160 } });
});

test('telephone-event payloads are exactly 4 bytes', () => {
  for (const b of ['', '05', '058a03', '058a032000']) {
    const d = decodeTelephoneEvent(bytes(b));
    assert.ok(!d.ok && d.error.code === 'bad-length' && d.error.at === 0, b);
  }
});

test('DTMF digits map to events 0–15 and back', () => {
  assert.equal(DTMF_DIGITS, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D']);
  for (let e = 0; e < 16; e++) {
    assert.is(dtmfEvent(dtmfDigit(e)!), e);
    assert.is(DTMF_EVENTS[DTMF_DIGITS[e]!], e);
  }
  assert.is(DTMF_EVENTS['*'], 10);
  assert.is(DTMF_EVENTS['#'], 11);
  assert.is(DTMF_EVENTS['D'], 15);
  assert.is(dtmfEvent('E'), undefined);
  assert.is(dtmfEvent('toString'), undefined);
  assert.is(dtmfDigit(16), undefined);
  assert.is(dtmfDigit(-1), undefined);
});

test('bad packets are typed errors that say where', () => {
  const cases: Array<[string, string, number]> = [
    ['40 00 0001 00000001 00000001', 'bad-version', 0],
    ['c0 00 0001 00000001 00000001', 'bad-version', 0],
    ['80 00 0001 00000001 000000', 'truncated', 8],
    ['83 00 0001 00000001 00000001 00000002 00000003', 'truncated', 20],
    ['90 00 0001 00000001 00000001 bede 0002 00000000', 'truncated', 16],
    ['90 00 0001 00000001 00000001 be', 'truncated', 12],
    ['a0 00 0001 00000001 00000001', 'bad-padding', 12],
    ['a0 00 0001 00000001 00000001 ff00', 'bad-padding', 13],
    ['a0 00 0001 00000001 00000001 ff 03', 'bad-padding', 13],
    ['b0 00 0001 00000001 00000001 bede 0001 00000000 02', 'bad-padding', 20],
  ];
  for (const [h, code, at] of cases) {
    const d = decodeRtp(hex(h));
    if (d.ok) return assert.unreachable(`${h} decoded`);
    assert.is(d.error.code, code, h);
    assert.is(d.error.at, at, h);
  }
  // A count covering the whole payload leaves it empty; that is legal.
  const all = decodeRtp(hex('a0 00 0001 00000001 00000001 0000 0004'));
  assert.ok(all.ok && all.value.payload.length === 0 && all.value.padding === 4);
});

test('the encoders refuse what no sender should build', () => {
  const base: RtpPacket = { marker: false, payloadType: 0, sequence: 0, timestamp: 0, ssrc: 0, csrcs: [], payload: new Uint8Array(0), padding: 0 };
  const bad: Array<Partial<RtpPacket>> = [
    { payloadType: 128 }, { sequence: 65536 }, { timestamp: -1 }, { ssrc: 2 ** 32 }, { padding: 256 }, { csrcs: new Array(16).fill(0) },
    { extension: { profile: 0, data: new Uint8Array(3) } }, { extension: { profile: 65536, data: new Uint8Array(0) } },
  ];
  for (const b of bad) assert.throws(() => encodeRtp({ ...base, ...b }), RangeError, JSON.stringify(b));
  assert.throws(() => encodeTelephoneEvent({ event: 256, end: false, volume: 0, duration: 0 }), RangeError);
  assert.throws(() => encodeTelephoneEvent({ event: 1, end: false, volume: 64, duration: 0 }), RangeError);
  assert.throws(() => encodeTelephoneEvent({ event: 1, end: false, volume: 0, duration: 65536 }), RangeError);
});

const u32 = fc.nat({ max: 0xffffffff });
const packet: fc.Arbitrary<RtpPacket> = fc.record({
  marker: fc.boolean(),
  payloadType: fc.nat(127),
  sequence: fc.nat(0xffff),
  timestamp: u32,
  ssrc: u32,
  csrcs: fc.array(u32, { maxLength: 15 }),
  extension: fc.option(fc.record({ profile: fc.nat(0xffff), data: fc.nat(6).chain((w) => fc.uint8Array({ minLength: 4 * w, maxLength: 4 * w })) }), { nil: undefined }),
  payload: fc.uint8Array({ maxLength: 200 }),
  padding: fc.nat(255),
}).map(({ extension, ...p }) => (extension ? { ...p, extension: { profile: extension.profile, data: extension.data } } : { ...p }));

test('property: encode → decode is the identity, and the length is what rtpEncodingLength says', () => {
  fc.assert(fc.property(packet, (p) => {
    const wire = encodeRtp(p);
    assert.is(wire.length, rtpEncodingLength(p));
    assert.equal(decodeRtp(wire), { ok: true, value: p });
    assert.equal(encodeRtp((decodeRtp(wire) as { value: RtpPacket }).value), wire);
  }), { numRuns: 1000, seed: 4733 });
  fc.assert(fc.property(fc.record({ event: fc.nat(255), end: fc.boolean(), volume: fc.nat(63), duration: fc.nat(0xffff) }), (e) => {
    assert.equal(decodeTelephoneEvent(encodeTelephoneEvent(e)), { ok: true, value: { ...e } });
  }), { numRuns: 500, seed: 4733 });
});

test('property: random, mutated and truncated packets never throw anything but a typed error', () => {
  const check = (b: Uint8Array) => {
    const d = decodeRtp(b);
    if (!d.ok) return d.error instanceof WireError;
    // Whatever decodes accounts for every byte.
    return rtpEncodingLength(d.value) === b.length;
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
    if (!check(b)) return false;
    // Again as version 2, so the rest of the header is exercised too.
    if (b.length > 0) b[0] = (b[0]! & 0x3f) | 0x80;
    return check(b);
  }), { numRuns: 3000, seed: 3550 });
  fc.assert(fc.property(packet, fc.array(fc.tuple(fc.nat(1000), fc.nat(255)), { maxLength: 4 }), fc.nat(1000), (p, edits, cut) => {
    const b = Uint8Array.from(encodeRtp(p));
    for (const [i, v] of edits) b[i % b.length] = v;
    return check(b) && check(b.subarray(0, cut % (b.length + 1)));
  }), { numRuns: 2000, seed: 3550 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 8 }), (b) => {
    const d = decodeTelephoneEvent(b);
    return d.ok ? b.length === 4 : d.error instanceof WireError;
  }), { numRuns: 500, seed: 3550 });
});

test.run();
