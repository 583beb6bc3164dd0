/**
 * Media without sound hardware: two RTP sessions over real UDP on loopback, on a virtual clock
 * advanced 20 ms at a time — a 1004 Hz tone one way and 697+1209 Hz the other, each recorded at the
 * far end and found there by frequency; RFC 4733 digits sent and reported once each; sequence
 * gaps counted as loss; a WAV file read back as written, and hostile WAV input refused.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { VirtualClock } from '../../src/common/clock.ts';
import { LoopSource, Recording, tonePower, toneSource } from '../../src/media/audio.ts';
import { RtpSession } from '../../src/media/rtp-session.ts';
import { NodeNetwork } from '../../src/phone/node-ports.ts';
import { encodeRtp } from '../../src/wire/rtp.ts';
import { parseWav, writeWav } from '../../src/wire/wav.ts';
import { tone } from '../../src/wire/g711.ts';

const t = suite('media');
const network = new NodeNetwork();
t.after(async () => network.close());

/** Advances virtual time in 20 ms steps, letting the datagrams of each step arrive. */
async function run(clock: VirtualClock, ms: number): Promise<void> {
  for (let at = 0; at < ms; at += 20) {
    await clock.advance(20);
    await new Promise((r) => setTimeout(r, 2));
  }
  await new Promise((r) => setTimeout(r, 20));
}

async function pair(clock: VirtualClock, o: { aSends: number | readonly number[]; bSends: number | readonly number[]; te?: boolean; encoding?: 'PCMU' | 'PCMA' }) {
  const [sa, sb] = await Promise.all([network.udp({ address: '127.0.0.1' }), network.udp({ address: '127.0.0.1' })]);
  const codec = o.encoding === 'PCMA' ? { pt: 8, encoding: 'PCMA' as const } : { pt: 0, encoding: 'PCMU' as const };
  const te = o.te === false ? {} : { telephoneEventPt: 101 };
  const ra = new Recording();
  const rb = new Recording();
  const aDigits: string[] = [];
  const bDigits: string[] = [];
  const a = new RtpSession({ socket: sa, clock, remote: { address: '127.0.0.1', port: sb.port }, codec, ...te, source: toneSource(o.aSends), recording: ra, onDtmf: (d) => aDigits.push(d) });
  const b = new RtpSession({ socket: sb, clock, remote: { address: '127.0.0.1', port: sa.port }, codec, ...te, source: toneSource(o.bSends), recording: rb, onDtmf: (d) => bDigits.push(d) });
  return { a, b, ra, rb, aDigits, bDigits, close: () => (a.stop(), b.stop(), sa.close(), sb.close()) };
}

t('a tone each way arrives as that tone: 1004 Hz one way, 697+1209 Hz the other (µ-law and A-law)', async () => {
  for (const encoding of ['PCMU', 'PCMA'] as const) {
    const clock = new VirtualClock(0);
    const p = await pair(clock, { aSends: 1004, bSends: [697, 1209], encoding });
    p.a.start();
    p.b.start();
    await run(clock, 1000);
    p.close();
    const atB = p.rb.samples;
    const atA = p.ra.samples;
    assert.ok(atB.length >= 40 * 160, `${encoding}: ${atB.length} samples at b`);
    assert.ok(tonePower(atB, 1004) > 50 * tonePower(atB, 697), `${encoding}: b hears 1004 Hz`);
    assert.ok(tonePower(atA, 697) > 50 * tonePower(atA, 1004) && tonePower(atA, 1209) > 50 * tonePower(atA, 1004), `${encoding}: a hears 697+1209 Hz`);
    assert.is(p.a.stats().lost, 0);
    assert.is(p.b.stats().received, p.a.stats().sent);
  }
});

t('DTMF as RFC 4733 events: every digit once, in order, audio resuming after', async () => {
  const clock = new VirtualClock(0);
  const p = await pair(clock, { aSends: 1004, bSends: 440 });
  p.a.start();
  p.b.start();
  const sent = p.a.sendDtmf('1#9*0A');
  await run(clock, 2000);
  await sent;
  assert.equal(p.bDigits.join(''), '1#9*0A');
  assert.is(p.b.stats().dtmfReceived, '1#9*0A');
  assert.is(p.a.stats().dtmfSent, '1#9*0A');
  // Audio resumed: the last half second at b is the tone again.
  const tail = p.rb.samples.slice(-4000);
  assert.ok(tonePower(tail, 1004) > 50 * tonePower(tail, 440));
  assert.match(await p.a.sendDtmf('x').then(() => '', (e: Error) => e.message), /not a DTMF digit/);
  p.close();
  const clock2 = new VirtualClock(0);
  const q = await pair(clock2, { aSends: 1004, bSends: 440, te: false });
  let refused = '';
  await q.a.sendDtmf('1').catch((e: Error) => (refused = e.message));
  assert.match(refused, /no telephone-event payload type/);
  q.close();
});

t('loss is counted from sequence gaps; strangers and junk are ignored, never thrown', async () => {
  const clock = new VirtualClock(0);
  const sock = await network.udp({ address: '127.0.0.1' });
  const from = await network.udp({ address: '127.0.0.1' });
  const rec = new Recording();
  const s = new RtpSession({ socket: sock, clock, remote: { address: '127.0.0.1', port: from.port }, codec: { pt: 0, encoding: 'PCMU' }, source: new LoopSource(new Int16Array(160)), recording: rec });
  const packet = (seq: number, pt = 0) => encodeRtp({ marker: false, payloadType: pt, sequence: seq, timestamp: seq * 160, ssrc: 7, csrcs: [], payload: new Uint8Array(160).fill(0xff), padding: 0 });
  for (const seq of [65534, 65535, 0, 3, 4]) await from.send(packet(seq), sock.port, '127.0.0.1');
  await from.send(packet(5, 18), sock.port, '127.0.0.1');
  await from.send(Buffer.from('not rtp at all'), sock.port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 50));
  const st = s.stats();
  assert.equal([st.received, st.lost, st.ignored], [5, 2, 2]);
  assert.is(rec.samples.length, 5 * 160);
  s.stop();
  sock.close();
  from.close();
});

t('WAV: written and read back sample for sample; hostile files refused with a reason', () => {
  const samples = tone([350, 440], 500);
  const back = parseWav(writeWav(samples));
  assert.ok(back.ok);
  if (back.ok) assert.equal([...back.value.samples], [...samples]);
  const stereo = writeWav(samples);
  stereo.writeUInt16LE(2, 22);
  const r = parseWav(stereo);
  assert.is(r.ok ? 'ok' : r.error.code, 'unsupported');
  const rate = writeWav(samples, 44100);
  assert.match(parseWav(rate).ok ? '' : (parseWav(rate) as { error: Error }).error.message, /44100 Hz/);
  const good = writeWav(samples.subarray(0, 400));
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(good.length - 1), fc.uint8Array({ minLength: 1, maxLength: 6 }), (junk, at, patch) => {
    parseWav(junk);
    const m = Buffer.from(good);
    m.set(patch.subarray(0, m.length - at), at);
    parseWav(m);
    parseWav(m.subarray(0, at));
  }), { numRuns: 2000, seed: 11 });
});

t.run();
