/**
 * A call's media on the phone: the RTP socket (through the NetworkPort, an even port in the
 * range Cisco phones use), the audio it sends (a tone, 1004 Hz unless said, or a WAV file's
 * samples looped), and the answer to our offer read back (RFC 3264 §6.1: the answerer picked one
 * of our codecs and says where to send).
 */
import { randomInt } from 'node:crypto';
import { type AudioCodec, type Sdp, type SdpMedia } from '../../wire/sdp.ts';
import { type AudioSource, LoopSource, toneSource } from '../../media/audio.ts';
import type { NetworkPort, UdpEndpoint } from '../ports.ts';

/** What a call sends: a steady tone, or samples (a WAV file at 8 kHz) looped. */
export type AudioSpec = { kind: 'tone'; hz: number } | { kind: 'samples'; samples: Int16Array; name: string };

export const DEFAULT_AUDIO: AudioSpec = { kind: 'tone', hz: 1004 };

export function audioSource(spec: AudioSpec): AudioSource {
  return spec.kind === 'tone' ? toneSource(spec.hz) : new LoopSource(spec.samples);
}

export const describeAudio = (spec: AudioSpec): string => (spec.kind === 'tone' ? `${spec.hz} Hz tone` : spec.name);

/** Cisco phones take RTP ports from 16384–32766, even ones (RTCP would be the odd one above). */
const RTP_MIN = 16384;
const RTP_MAX = 32766;

/** An RTP socket on `address`: a few even ports of the range tried, else whatever the kernel gives. */
export async function openRtpSocket(network: NetworkPort, address: string): Promise<UdpEndpoint> {
  for (let i = 0; i < 8; i++) {
    const port = RTP_MIN + 2 * randomInt(0, (RTP_MAX - RTP_MIN) / 2 + 1);
    try {
      return await network.udp({ address, port });
    } catch {
      // taken: another
    }
  }
  return network.udp({ address });
}

export interface AgreedAudio {
  codec: { pt: number; encoding: AudioCodec };
  telephoneEventPt: number | undefined;
  remote: { address: string; port: number };
}

function g711Of(m: SdpMedia, pt: number): AudioCodec | undefined {
  const r = m.rtpmap.get(pt);
  if (!r) return pt === 0 ? 'PCMU' : pt === 8 ? 'PCMA' : undefined;
  const enc = r.encoding.toUpperCase();
  return (enc === 'PCMU' || enc === 'PCMA') && r.clockRate === 8000 ? enc : undefined;
}

/**
 * The answer to our offer: its first audio stream that is not refused (port 0), on IPv4, with
 * one of the codecs we offered; telephone-event when it kept it. A string says why not.
 */
export function readAnswer(answer: Sdp, offered: readonly AudioCodec[]): AgreedAudio | string {
  for (const m of answer.media) {
    if (m.media !== 'audio' || m.port === 0) continue;
    const conn = m.connection ?? answer.connection;
    if (!conn || conn.addrType !== 'IP4') return 'the answer has no IPv4 address for its audio';
    const pt = m.formats.find((f) => {
      const c = g711Of(m, f);
      return c !== undefined && offered.includes(c);
    });
    if (pt === undefined) return `the answer's audio formats (${m.formats.join(' ')}) are none of ${offered.join(', ')}`;
    const te = m.formats.find((f) => m.rtpmap.get(f)?.encoding.toLowerCase() === 'telephone-event' && m.rtpmap.get(f)?.clockRate === 8000);
    return { codec: { pt, encoding: g711Of(m, pt)! }, telephoneEventPt: te, remote: { address: conn.address, port: m.port } };
  }
  return 'the answer refuses every stream';
}
