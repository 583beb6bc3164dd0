/**
 * WAVE files (RIFF, Microsoft's "Multimedia Programming Interface and Data Specifications 1.0"):
 * what a lab gives a phone to play into a call and what the phone records from one. Read: PCM
 * 16-bit (format 1) and G.711 µ-law/A-law (formats 7 and 6), mono, any rate a call can carry
 * (8 kHz is the telephone's; others are refused with the rate named, since resampling would be
 * a guess). Written: PCM 16-bit mono. Chunks other than `fmt ` and `data` are skipped; an odd
 * chunk is padded to an even length, as RIFF says.
 */
import { alawToLinear, ulawToLinear } from './g711.ts';
import { type Result, WireError, catchWire } from './result.ts';

const FORMAT = 'wav';
export const WAV_MAX_BYTES = 64 * 1024 * 1024;
const PCM = 1;
const ALAW = 6;
const ULAW = 7;

export interface Wav {
  sampleRate: number;
  /** Linear 16-bit samples, mono. */
  samples: Int16Array;
}

const fail = (code: string, message: string, at?: number): never => {
  throw new WireError(FORMAT, code, message, at);
};

export function parseWav(bytes: Uint8Array): Result<Wav> {
  return catchWire(() => {
    if (bytes.length > WAV_MAX_BYTES) fail('oversized', `${bytes.length} bytes exceeds ${WAV_MAX_BYTES}`);
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (b.length < 12 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WAVE') fail('bad-magic', 'not a RIFF WAVE file', 0);
    let at = 12;
    let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
    while (at + 8 <= b.length) {
      const id = b.toString('latin1', at, at + 4);
      const size = b.readUInt32LE(at + 4);
      const body = at + 8;
      if (body + size > b.length) {
        // Recorders killed mid-write leave a data chunk longer than the file: take what is there.
        if (id !== 'data') fail('truncated', `chunk "${id}" of ${size} bytes runs past the end`, at);
      }
      if (id === 'fmt ') {
        if (size < 16) fail('bad-fmt', `fmt chunk of ${size} bytes`, at);
        fmt = { format: b.readUInt16LE(body), channels: b.readUInt16LE(body + 2), rate: b.readUInt32LE(body + 4), bits: b.readUInt16LE(body + 14) };
      } else if (id === 'data') {
        if (!fmt) fail('no-fmt', 'data before fmt', at);
        return { sampleRate: fmt!.rate, samples: samplesOf(fmt!, b.subarray(body, Math.min(b.length, body + size)), at) };
      }
      at = body + size + (size & 1);
    }
    return fail('no-data', 'no data chunk', at);
  });
}

function samplesOf(f: { format: number; channels: number; rate: number; bits: number }, data: Buffer, at: number): Int16Array {
  if (f.channels !== 1) fail('unsupported', `${f.channels} channels: a call carries one`, at);
  if (f.rate !== 8000) fail('unsupported', `${f.rate} Hz: a G.711 call carries 8000 Hz, and this phone does not resample`, at);
  if (f.format === PCM && f.bits === 16) {
    const out = new Int16Array(data.length >> 1);
    for (let i = 0; i < out.length; i++) out[i] = data.readInt16LE(i * 2);
    return out;
  }
  if ((f.format === ULAW || f.format === ALAW) && f.bits === 8) {
    const decode = f.format === ULAW ? ulawToLinear : alawToLinear;
    return Int16Array.from(data, (x) => decode(x));
  }
  return fail('unsupported', `format ${f.format} with ${f.bits} bits: PCM 16-bit, µ-law or A-law only`, at);
}

/** PCM 16-bit mono. */
export function writeWav(samples: Int16Array, sampleRate = 8000): Buffer {
  const data = samples.length * 2;
  const b = Buffer.alloc(44 + data);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + data, 4);
  b.write('WAVE', 8, 'latin1');
  b.write('fmt ', 12, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(PCM, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(sampleRate, 24);
  b.writeUInt32LE(sampleRate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(data, 40);
  for (let i = 0; i < samples.length; i++) b.writeInt16LE(samples[i]!, 44 + i * 2);
  return b;
}
