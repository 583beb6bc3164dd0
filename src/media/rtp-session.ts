/**
 * One RTP stream each way for a G.711 call (RFC 3550, RFC 3551's PCMU/PCMA at 8 kHz), with
 * RFC 4733 telephone-events for DTMF: a 20 ms frame from the audio source every 20 ms on the
 * injected clock (each due time computed from the start, so timer lateness never accumulates),
 * what arrives decoded into the recording, digits that arrive reported once per event. Used by
 * the phone in a call and by the companion's IVR.
 *
 * DTMF out (RFC 4733 §2.5): a digit is a run of packets with the event's start timestamp, the
 * marker on the first, the duration growing by 160 each 20 ms, and the last three with the end
 * bit; audio pauses meanwhile and resumes with the timestamp moved past the event.
 */
import { randomInt } from 'node:crypto';
import type { Clock } from '../common/clock.ts';
import type { Peer, UdpEndpoint } from '../phone/ports.ts';
import { decodeAlaw, decodeUlaw, encodeAlaw, encodeUlaw } from '../wire/g711.ts';
import { decodeRtp, decodeTelephoneEvent, dtmfDigit, dtmfEvent, encodeRtp, encodeTelephoneEvent } from '../wire/rtp.ts';
import { type AudioSource, FRAME_SAMPLES, Recording } from './audio.ts';

const FRAME_MS = 20;
const END_REPEATS = 3;
const DTMF_VOLUME = 10;

export interface RtpStats {
  sent: number;
  received: number;
  /** Packets the sequence numbers say never came. */
  lost: number;
  /** Datagrams that were not RTP, or not from the far end's payload types. */
  ignored: number;
  dtmfSent: string;
  dtmfReceived: string;
}

export interface RtpSessionOptions {
  socket: UdpEndpoint;
  clock: Clock;
  remote: Peer;
  codec: { pt: number; encoding: 'PCMU' | 'PCMA' };
  /** The telephone-event payload type both sides agreed on; no DTMF either way without one. */
  telephoneEventPt?: number;
  source: AudioSource;
  recording?: Recording;
  onDtmf?: (digit: string) => void;
}

export class RtpSession {
  private readonly o: RtpSessionOptions;
  private readonly ssrc = randomInt(0, 2 ** 32);
  private seq = randomInt(0, 2 ** 16);
  private timestamp = randomInt(0, 2 ** 32);
  private startedAt = 0;
  private frames = 0;
  private cancel: (() => void) | undefined;
  private readonly dtmfQueue: Array<{ digit: string; frames: number; done: () => void }> = [];
  private dtmf: { event: number; startTs: number; frame: number; frames: number; ends: number; done: () => void } | undefined;
  private lastEventKey = '';
  private firstSeq: number | undefined;
  private highestSeq = 0;
  private readonly s: RtpStats = { sent: 0, received: 0, lost: 0, ignored: 0, dtmfSent: '', dtmfReceived: '' };
  remote: Peer;

  constructor(o: RtpSessionOptions) {
    this.o = o;
    this.remote = o.remote;
    o.socket.onMessage((data, from) => this.receive(data, from));
  }

  start(): void {
    if (this.cancel) return;
    this.startedAt = this.o.clock.now();
    this.schedule();
  }

  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
    for (const d of this.dtmfQueue.splice(0)) d.done();
    this.dtmf?.done();
    this.dtmf = undefined;
  }

  /** Sends digits as telephone-events, each `durationMs` long with `gapMs` of audio between. */
  sendDtmf(digits: string, o: { durationMs?: number } = {}): Promise<void> {
    if (this.o.telephoneEventPt === undefined) return Promise.reject(new Error('no telephone-event payload type was agreed: DTMF cannot be sent in band here'));
    const frames = Math.max(2, Math.round((o.durationMs ?? 100) / FRAME_MS));
    const bad = [...digits].find((d) => dtmfEvent(d) === undefined);
    if (bad !== undefined) return Promise.reject(new Error(`"${bad}" is not a DTMF digit`));
    return Promise.all([...digits].map((digit) => new Promise<void>((done) => this.dtmfQueue.push({ digit, frames, done })))).then(() => undefined);
  }

  stats(): RtpStats {
    const expected = this.firstSeq === undefined ? 0 : ((this.highestSeq - this.firstSeq) & 0xffff) + 1;
    return { ...this.s, lost: Math.max(0, expected - this.s.received) };
  }

  private schedule(): void {
    const due = this.startedAt + (this.frames + 1) * FRAME_MS;
    this.cancel = this.o.clock.timer(Math.max(0, due - this.o.clock.now()), () => {
      this.frames++;
      this.tick();
      if (this.cancel) this.schedule();
    });
  }

  private tick(): void {
    if (!this.dtmf && this.dtmfQueue.length) {
      const next = this.dtmfQueue.shift()!;
      this.dtmf = { event: dtmfEvent(next.digit)!, startTs: this.timestamp, frame: 0, frames: next.frames, ends: 0, done: next.done };
      this.s.dtmfSent += next.digit;
    }
    const d = this.dtmf;
    if (d) {
      d.frame = Math.min(d.frame + 1, d.frames);
      const end = d.frame === d.frames;
      const payload = encodeTelephoneEvent({ event: d.event, end, volume: DTMF_VOLUME, duration: d.frame * FRAME_SAMPLES });
      this.send(this.o.telephoneEventPt!, d.startTs, payload, d.frame === 1 && d.ends === 0);
      if (end && ++d.ends >= END_REPEATS) {
        this.timestamp = (d.startTs + d.frames * FRAME_SAMPLES) >>> 0;
        this.dtmf = undefined;
        d.done();
      }
      return;
    }
    const pcm = this.o.source.next();
    const payload = this.o.codec.encoding === 'PCMU' ? encodeUlaw(pcm) : encodeAlaw(pcm);
    this.send(this.o.codec.pt, this.timestamp, payload, this.s.sent === 0);
    this.timestamp = (this.timestamp + FRAME_SAMPLES) >>> 0;
  }

  private send(pt: number, ts: number, payload: Uint8Array, marker: boolean): void {
    const packet = encodeRtp({ marker, payloadType: pt, sequence: this.seq, timestamp: ts, ssrc: this.ssrc, csrcs: [], payload, padding: 0 });
    this.seq = (this.seq + 1) & 0xffff;
    this.s.sent++;
    // A lost datagram is what UDP does; the stream goes on.
    this.o.socket.send(packet, this.remote.port, this.remote.address).catch(() => {});
  }

  private receive(data: Buffer, _from: Peer): void {
    const r = decodeRtp(data);
    if (!r.ok) {
      this.s.ignored++;
      return;
    }
    const p = r.value;
    if (p.payloadType !== this.o.codec.pt && p.payloadType !== this.o.telephoneEventPt) {
      this.s.ignored++;
      return;
    }
    this.s.received++;
    if (this.firstSeq === undefined) this.firstSeq = this.highestSeq = p.sequence;
    else if (((p.sequence - this.highestSeq) & 0xffff) < 0x8000) this.highestSeq = p.sequence;
    if (p.payloadType === this.o.codec.pt) {
      this.o.recording?.add(this.o.codec.encoding === 'PCMU' ? decodeUlaw(p.payload) : decodeAlaw(p.payload));
      return;
    }
    const e = decodeTelephoneEvent(p.payload);
    if (!e.ok) return;
    // One event: one timestamp, many packets (and three ends): reported once.
    const key = `${p.ssrc}:${p.timestamp}:${e.value.event}`;
    if (key === this.lastEventKey) return;
    this.lastEventKey = key;
    const digit = dtmfDigit(e.value.event);
    if (digit === undefined) return;
    this.s.dtmfReceived += digit;
    this.o.onDtmf?.(digit);
  }
}
