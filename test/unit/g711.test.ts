import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  ALAW_SILENCE, TONE_AMPLITUDE, ULAW_SILENCE, alawToLinear, decodeAlaw, decodeUlaw, encodeAlaw, encodeUlaw, linearToAlaw, linearToUlaw, tone,
  ulawToLinear,
} from '../../src/wire/g711.ts';

// The segment (exponent) of a code, read straight off the byte as G.711 lays it out.
const ulawStep = (b: number) => 8 << ((~b >> 4) & 7);
const alawStep = (b: number) => {
  const segment = ((b ^ 0x55) >> 4) & 7;
  return segment <= 1 ? 16 : 8 << segment;
};

test('µ-law code points: silence, full scale both ways, the first segment edge', () => {
  assert.is(linearToUlaw(0), 0xff);
  assert.is(ULAW_SILENCE, 0xff);
  assert.is(linearToUlaw(32767), 0x80);
  assert.is(linearToUlaw(-32768), 0x00);
  assert.is(linearToUlaw(-1), 0x7f);
  assert.is(ulawToLinear(0xff), 0);
  assert.is(ulawToLinear(0x7f), 0);
  // G.711's top µ-law output is 8031 on its 14-bit scale, ×4 here.
  assert.is(ulawToLinear(0x80), 8031 * 4);
  assert.is(ulawToLinear(0x00), -8031 * 4);
  // Segment 1, step 0: 33 on the 14-bit scale.
  assert.is(ulawToLinear(0xef), 33 * 4);
  assert.is(ulawToLinear(0x6f), -33 * 4);
});

test('A-law code points: silence is 0xD5, full scale both ways, no zero level', () => {
  assert.is(linearToAlaw(0), 0xd5);
  assert.is(ALAW_SILENCE, 0xd5);
  assert.is(linearToAlaw(-1), 0x55);
  assert.is(linearToAlaw(32767), 0xaa);
  assert.is(linearToAlaw(-32768), 0x2a);
  assert.is(alawToLinear(0xd5), 8);
  assert.is(alawToLinear(0x55), -8);
  // G.711's top A-law output is 4032 on its 13-bit scale, ×8 here.
  assert.is(alawToLinear(0xaa), 4032 * 8);
  assert.is(alawToLinear(0x2a), -4032 * 8);
  for (let b = 0; b < 256; b++) assert.is.not(alawToLinear(b), 0);
});

test("G.711's digital milliwatt (Table 5) decodes to a 1 kHz sine at 0 dBm0 in both laws", () => {
  const cases: Array<[number[], (b: number) => number]> = [
    [[0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e], ulawToLinear],
    [[0x34, 0x21, 0x21, 0x34, 0xb4, 0xa1, 0xa1, 0xb4], alawToLinear],
  ];
  for (const [seq, decode] of cases) {
    const v = seq.map(decode);
    // Eight samples per period, at phases π/8 + kπ/4: half a period later the sign flips.
    for (let i = 0; i < 4; i++) assert.is(v[i + 4], -v[i]!);
    const peak = Math.abs(v[1]!) / Math.sin((3 * Math.PI) / 8);
    const low = Math.abs(v[0]!) / Math.sin(Math.PI / 8);
    assert.ok(peak > 22000 && peak < 23500, `peak ${peak}`);
    assert.ok(Math.abs(low - peak) / peak < 0.05, `${low} vs ${peak}`);
  }
});

test('every 16-bit sample decodes back within half a quantization step (a clipped one to the top level)', () => {
  for (let x = -32768; x <= 32767; x++) {
    const u = linearToUlaw(x);
    const du = ulawToLinear(u);
    if (Math.abs(x) <= 32635) {
      if (Math.abs(du - x) > ulawStep(u) / 2) assert.unreachable(`µ-law ${x} → ${u.toString(16)} → ${du}`);
    } else if (du !== Math.sign(x) * 32124) assert.unreachable(`µ-law clip ${x} → ${du}`);
    const a = linearToAlaw(x);
    const da = alawToLinear(a);
    if (Math.abs(da - x) > alawStep(a) / 2) assert.unreachable(`A-law ${x} → ${a.toString(16)} → ${da}`);
  }
});

test('every code decodes to a value that encodes back to it (µ-law -0 to its canonical +0)', () => {
  for (let b = 0; b < 256; b++) {
    assert.is(linearToUlaw(ulawToLinear(b)), b === 0x7f ? 0xff : b, `µ-law ${b}`);
    assert.is(linearToAlaw(alawToLinear(b)), b, `A-law ${b}`);
  }
});

test('both laws are monotonic and odd-symmetric', () => {
  let lastU = -Infinity;
  let lastA = -Infinity;
  for (let x = -32768; x <= 32767; x++) {
    const u = ulawToLinear(linearToUlaw(x));
    const a = alawToLinear(linearToAlaw(x));
    if (u < lastU || a < lastA) assert.unreachable(`not monotonic at ${x}`);
    lastU = u;
    lastA = a;
  }
  for (let b = 0; b < 256; b++) {
    assert.is(ulawToLinear(b ^ 0x80), -ulawToLinear(b) || 0);
    assert.is(alawToLinear(b ^ 0x80), -alawToLinear(b));
  }
  // The distinct levels: 255 for µ-law (±0 coincide), 256 for A-law.
  assert.is(new Set(Array.from({ length: 256 }, (_, b) => ulawToLinear(b))).size, 255);
  assert.is(new Set(Array.from({ length: 256 }, (_, b) => alawToLinear(b))).size, 256);
});

test('out-of-range and fractional samples round and clip instead of wrapping', () => {
  assert.is(linearToUlaw(40000), linearToUlaw(32767));
  assert.is(linearToUlaw(-1e9), linearToUlaw(-32768));
  assert.is(linearToAlaw(70000), linearToAlaw(32767));
  assert.is(linearToAlaw(1000.4), linearToAlaw(1000));
  assert.is(linearToUlaw(Number.NaN), 0xff);
  assert.is(ulawToLinear(0x1ff), ulawToLinear(0xff));
});

test('buffer helpers agree with the per-sample functions', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: -32768, max: 32767 }), { maxLength: 400 }), (xs) => {
    const pcm = Int16Array.from(xs);
    const u = encodeUlaw(pcm);
    const a = encodeAlaw(pcm);
    assert.instance(u, Uint8Array);
    assert.equal([...u], xs.map(linearToUlaw));
    assert.equal([...a], xs.map(linearToAlaw));
    assert.instance(decodeUlaw(u), Int16Array);
    assert.equal([...decodeUlaw(u)], [...u].map(ulawToLinear));
    assert.equal([...decodeAlaw(a)], [...a].map(alawToLinear));
  }), { numRuns: 300, seed: 711 });
  const all = Uint8Array.from({ length: 256 }, (_, b) => b);
  assert.equal(encodeAlaw(decodeAlaw(all)), all);
});

test('tone: length, level and frequency of a generated sine', () => {
  const t = tone(1000, 1000);
  assert.is(t.length, 8000);
  assert.is(t[0], 0);
  const peak = Math.max(...t.map(Math.abs));
  assert.ok(peak <= TONE_AMPLITUDE && peak > TONE_AMPLITUDE * 0.99, `peak ${peak}`);
  let crossings = 0;
  for (let i = 1; i < t.length; i++) if ((t[i - 1]! < 0) !== (t[i]! < 0)) crossings++;
  assert.ok(Math.abs(crossings - 2000) <= 2, `${crossings} sign changes for 1000 Hz over 1 s`);
  assert.is(tone(440, 20).length, 160);
  assert.is(tone(440, 20, 16000).length, 320);
  assert.is(tone(440, 0).length, 0);
  // A dual tone stays within the amplitude; through µ-law and back it stays close.
  const dtmf1 = tone([697, 1209], 100, 8000, 10000);
  assert.ok(Math.max(...dtmf1.map(Math.abs)) <= 10000);
  const back = decodeUlaw(encodeUlaw(dtmf1));
  let noise = 0;
  let signal = 0;
  for (let i = 0; i < dtmf1.length; i++) {
    signal += dtmf1[i]! ** 2;
    noise += (dtmf1[i]! - back[i]!) ** 2;
  }
  // G.711 keeps signal-to-quantization noise above ~35 dB at this level.
  assert.ok(10 * Math.log10(signal / noise) > 30, `SNR ${10 * Math.log10(signal / noise)} dB`);
  assert.throws(() => tone(4000, 10), RangeError);
  assert.throws(() => tone(-1, 10), RangeError);
  assert.throws(() => tone(440, -5), RangeError);
  assert.throws(() => tone(440, 10, 8000, 40000), RangeError);
  assert.throws(() => tone([], 10), RangeError);
});

test.run();
