/**
 * G.711 companding (ITU-T G.711, 1988): 16-bit linear PCM <-> one byte per sample, µ-law
 * (PCMU, RTP payload type 0) and A-law (PCMA, payload type 8), 8000 samples a second.
 *
 * Both laws cut the magnitude into 8 segments whose step doubles from one to the next, with 16
 * steps each; a code is sign | segment (3 bits) | step (4 bits). G.711 defines them on 14-bit
 * (µ) and 13-bit (A) samples; here samples are 16-bit, so every G.711 value is scaled by 4 (µ)
 * or 8 (A). Decoding gives the middle of the code's interval, so the error is at most half a step.
 *
 * µ-law: the magnitude is biased by 33 (×4 = 132) so segment edges fall on powers of two;
 *   segment e holds biased magnitudes [2^(e+7), 2^(e+8)), step 2^(e+3); magnitudes above
 *   32635 clip to the top code. The byte sent is the code inverted (all bits), so silence (+0)
 *   is 0xFF and there is a -0 (0x7F) too, which decodes to 0 as well.
 * A-law: no bias; segment 0 holds [0, 256) and segment e ≥ 1 holds [2^(e+7), 2^(e+8)), step 16
 *   in segments 0 and 1, 2^(e+3) above. The sign bit is 1 for positive, and the byte sent has
 *   its even bits inverted (XOR 0x55), so silence is 0xD5. There is no zero level: the quantizer
 *   is symmetric about -0.5, which is why negative samples use the ones' complement (-x - 1).
 */

const ULAW_BIAS = 0x84;
const ULAW_CLIP = 32635;

/** Index of the highest set bit of a positive 16-bit value. */
const topBit = (v: number): number => 31 - Math.clz32(v);

export function linearToUlaw(sample: number): number {
  const x = clamp16(sample);
  const sign = x < 0 ? 0x80 : 0;
  const biased = Math.min(x < 0 ? -x : x, ULAW_CLIP) + ULAW_BIAS;
  const segment = topBit(biased) - 7;
  const step = (biased >> (segment + 3)) & 0x0f;
  return ~(sign | (segment << 4) | step) & 0xff;
}

function ulawValue(byte: number): number {
  const code = ~byte & 0xff;
  const segment = (code >> 4) & 0x07;
  const magnitude = ((((code & 0x0f) << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
  return code & 0x80 ? -magnitude : magnitude;
}

export function linearToAlaw(sample: number): number {
  const x = clamp16(sample);
  const sign = x < 0 ? 0 : 0x80;
  const magnitude = x < 0 ? -x - 1 : x;
  let code: number;
  if (magnitude < 256) code = magnitude >> 4;
  else {
    const segment = topBit(magnitude) - 7;
    code = (segment << 4) | ((magnitude >> (segment + 3)) & 0x0f);
  }
  return (sign | code) ^ 0x55;
}

function alawValue(byte: number): number {
  const code = (byte ^ 0x55) & 0xff;
  const segment = (code >> 4) & 0x07;
  const step = code & 0x0f;
  const magnitude = segment === 0 ? (step << 4) + 8 : ((step << 4) + 264) << (segment - 1);
  return code & 0x80 ? magnitude : -magnitude;
}

// 256 entries each: decoding is a lookup.
const ULAW_TABLE = Int16Array.from({ length: 256 }, (_, b) => ulawValue(b));
const ALAW_TABLE = Int16Array.from({ length: 256 }, (_, b) => alawValue(b));

export const ulawToLinear = (byte: number): number => ULAW_TABLE[byte & 0xff]!;
export const alawToLinear = (byte: number): number => ALAW_TABLE[byte & 0xff]!;

/** Out-of-range or fractional input (a mixer's sum, a float tone) is rounded and clipped, not wrapped. */
function clamp16(sample: number): number {
  if (Number.isNaN(sample)) return 0;
  const r = Math.round(sample);
  return r > 32767 ? 32767 : r < -32768 ? -32768 : r;
}

export function encodeUlaw(pcm: Int16Array): Uint8Array {
  const out = new Uint8Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = linearToUlaw(pcm[i]!);
  return out;
}

export function decodeUlaw(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = ULAW_TABLE[bytes[i]!]!;
  return out;
}

export function encodeAlaw(pcm: Int16Array): Uint8Array {
  const out = new Uint8Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = linearToAlaw(pcm[i]!);
  return out;
}

export function decodeAlaw(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = ALAW_TABLE[bytes[i]!]!;
  return out;
}

/** The encoded byte of digital silence, for comfort fill and jitter gaps. */
export const ULAW_SILENCE = 0xff;
export const ALAW_SILENCE = 0xd5;

export const G711_SAMPLE_RATE = 8000;
/**
 * Default tone level: peak 8000 of 32767, about -12 dBFS, near -9 dBm0 on the G.711 scale
 * (µ-law's 0 dBm0 sine peaks near 22,700); loud enough to measure, far from clipping even
 * when two tones add.
 */
export const TONE_AMPLITUDE = 8000;

/**
 * A sine (or, given several frequencies, their sum, each at amplitude / n so the peak stays
 * within amplitude: 350+440 Hz dial tone, 697+1209 Hz DTMF '1'). Phase starts at 0, so
 * consecutive calls restart the wave: generate the whole tone and slice it into frames.
 * Throws RangeError for a frequency at or above Nyquist, which would alias into another tone.
 */
export function tone(frequencyHz: number | readonly number[], ms: number, sampleRate = G711_SAMPLE_RATE, amplitude = TONE_AMPLITUDE): Int16Array {
  const freqs = typeof frequencyHz === 'number' ? [frequencyHz] : [...frequencyHz];
  if (!(sampleRate > 0) || !Number.isFinite(sampleRate)) throw new RangeError(`sample rate ${sampleRate} is not positive`);
  if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`tone length ${ms} ms is not a finite non-negative number`);
  if (!(amplitude >= 0 && amplitude <= 32767)) throw new RangeError(`amplitude ${amplitude} outside 0..32767`);
  if (freqs.length === 0) throw new RangeError('a tone needs at least one frequency');
  for (const f of freqs) {
    if (!(f >= 0 && f < sampleRate / 2)) throw new RangeError(`frequency ${f} Hz outside 0..${sampleRate / 2} (Nyquist)`);
  }
  const n = Math.round((ms * sampleRate) / 1000);
  const out = new Int16Array(n);
  const each = amplitude / freqs.length;
  const omegas = freqs.map((f) => (2 * Math.PI * f) / sampleRate);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (const w of omegas) v += Math.sin(w * i);
    out[i] = Math.round(each * v);
  }
  return out;
}
