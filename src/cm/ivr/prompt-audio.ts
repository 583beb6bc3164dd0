/**
 * What the IVR's caller hears: no recorded prompts ship (Cisco's are not public) and no speech
 * synthesizer is assumed, so each prompt is a short 440 Hz beep, then silence; the words go to
 * the companion's log and to the caller as text (docs/protocols/ivr.md). Also the IVR's RTP
 * socket, a plain UDP socket on the companion's address.
 */
import dgram from 'node:dgram';
import type { AudioSource } from '../../media/audio.ts';
import { FRAME_SAMPLES } from '../../media/audio.ts';
import type { RtpSessionOptions } from '../../media/rtp-session.ts';
import { tone } from '../../wire/g711.ts';

/** The socket an RtpSession sends and receives on (the companion imports nothing from src/phone/). */
export type UdpEndpoint = RtpSessionOptions['socket'];
type Peer = RtpSessionOptions['remote'];

/** The beep that marks a prompt: 440 Hz for 200 ms. */
export const PROMPT_HZ = 440;
const BEEP_MS = 200;

export class PromptAudio implements AudioSource {
  private readonly beepSamples = tone(PROMPT_HZ, BEEP_MS);
  private readonly silence = new Int16Array(FRAME_SAMPLES);
  private at = Number.POSITIVE_INFINITY;

  /** Starts a beep (a prompt begins). */
  beep(): void {
    this.at = 0;
  }

  next(): Int16Array {
    if (this.at >= this.beepSamples.length) return this.silence;
    const out = new Int16Array(FRAME_SAMPLES);
    out.set(this.beepSamples.subarray(this.at, this.at + FRAME_SAMPLES));
    this.at += FRAME_SAMPLES;
    return out;
  }
}

/** A UDP socket for the IVR's RTP, on `address` (a port the kernel picks). */
export function openRtpUdp(address: string): Promise<UdpEndpoint> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', reject);
    sock.bind({ port: 0, address }, () => {
      sock.removeListener('error', reject);
      sock.on('error', () => {});
      let handler: ((d: Buffer, p: Peer) => void) | undefined;
      let closed = false;
      sock.on('message', (d, r) => handler?.(d, { address: r.address, port: r.port }));
      resolve({
        port: sock.address().port,
        send: (data, port, addr) => new Promise((ok, fail) => sock.send(data, port, addr, (e) => (e ? fail(e) : ok()))),
        onMessage: (h) => {
          handler = h;
        },
        close: () => {
          if (closed) return;
          closed = true;
          sock.close();
        },
      });
    });
  });
}
