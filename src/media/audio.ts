/**
 * What a call sends and keeps, without sound hardware: a source gives 20 ms frames of linear
 * 8 kHz samples (a tone, a WAV file looped, silence), and a recording keeps what arrived, bounded,
 * to be written as WAV and checked by a lab ("did my audio reach the far end?"). The phone and
 * the companion's IVR both use them; on a board with audio, ALSA would be another source.
 */
import { tone } from '../wire/g711.ts';

/** 20 ms at 8 kHz: the packetization every G.711 phone uses by default. */
export const FRAME_SAMPLES = 160;

export interface AudioSource {
  /** The next 20 ms. */
  next(): Int16Array;
}

export class SilenceSource implements AudioSource {
  private readonly frame = new Int16Array(FRAME_SAMPLES);
  next(): Int16Array {
    return this.frame;
  }
}

/** A sample sequence played in 20 ms frames, looped (a WAV file, a prompt's tone pattern). */
export class LoopSource implements AudioSource {
  private readonly samples: Int16Array;
  private at = 0;

  constructor(samples: Int16Array) {
    this.samples = samples.length ? samples : new Int16Array(FRAME_SAMPLES);
  }

  next(): Int16Array {
    const out = new Int16Array(FRAME_SAMPLES);
    for (let i = 0; i < FRAME_SAMPLES; i++) {
      out[i] = this.samples[this.at]!;
      this.at = (this.at + 1) % this.samples.length;
    }
    return out;
  }
}

/** A steady tone (one or more frequencies), e.g. 1004 Hz, the telephone test tone. */
export const toneSource = (hz: number | readonly number[]): AudioSource => new LoopSource(tone(hz, 1000));

/** What arrived, in order, up to a cap (a call left running must not grow without end). */
export class Recording {
  private readonly chunks: Int16Array[] = [];
  private length = 0;
  readonly maxSamples: number;
  /** Samples not kept once the cap was reached. */
  dropped = 0;

  constructor(maxSeconds = 600) {
    this.maxSamples = maxSeconds * 8000;
  }

  add(samples: Int16Array): void {
    const room = this.maxSamples - this.length;
    if (room <= 0) {
      this.dropped += samples.length;
      return;
    }
    const kept = samples.length <= room ? samples : samples.subarray(0, room);
    this.chunks.push(kept);
    this.length += kept.length;
    this.dropped += samples.length - kept.length;
  }

  get samples(): Int16Array {
    const out = new Int16Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  get seconds(): number {
    return this.length / 8000;
  }
}

/**
 * The strongest of the given frequencies in samples (Goertzel), as relative power: enough to tell
 * "the far end heard my 1004 Hz tone" from silence or another tone, with no FFT library.
 */
export function tonePower(samples: Int16Array, hz: number, sampleRate = 8000): number {
  if (samples.length === 0) return 0;
  const k = (2 * Math.cos((2 * Math.PI * hz) / sampleRate));
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s = x + k * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  const power = s1 * s1 + s2 * s2 - k * s1 * s2;
  return power / (samples.length * samples.length);
}
