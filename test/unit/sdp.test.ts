import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  type OurAudio, type Sdp, type SdpConnection, type SdpLine, type SdpMedia, type SdpRtpmap, SDP_MAX_BYTES, answerAudio, offerAudio, parseSdp,
  writeSdp,
} from '../../src/wire/sdp.ts';
import { WireError } from '../../src/wire/result.ts';

// Written for these tests in the style of a Cisco 88xx phone's INVITE to CUCM (not a capture):
// media-level c=, AS/TIAS bandwidth, G.711 both laws, G.729 and RFC 4733 at 101.
const CISCO_OFFER = [
  'v=0',
  'o=Cisco-SIPUA 20716 0 IN IP4 10.10.20.31',
  's=SIP Call',
  'b=AS:4064',
  't=0 0',
  'm=audio 24580 RTP/AVP 0 8 18 101',
  'c=IN IP4 10.10.20.31',
  'b=TIAS:64000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:18 G729/8000',
  'a=fmtp:18 annexb=yes',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=sendrecv',
];
const sdpText = (lines: string[]) => lines.map((l) => `${l}\r\n`).join('');
const OURS: OurAudio = { address: '10.10.20.40', port: 16384, sessionId: '5012', codecs: ['PCMU', 'PCMA'], telephoneEvent: true };

const parsed = (text: string): Sdp => {
  const r = parseSdp(text);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};

test('reads the Cisco offer: origin, kept bandwidth lines, the audio stream and its maps', () => {
  const s = parsed(sdpText(CISCO_OFFER));
  assert.equal(s.origin, { username: 'Cisco-SIPUA', sessionId: '20716', sessionVersion: '0', netType: 'IN', addrType: 'IP4', address: '10.10.20.31' });
  assert.is(s.sessionName, 'SIP Call');
  assert.is(s.connection, undefined);
  assert.equal(s.timing, [0, 0]);
  assert.equal(s.extra, [{ type: 'b', value: 'AS:4064' }]);
  const m = s.media[0]!;
  assert.equal([m.media, m.port, m.proto, m.formats, m.direction], ['audio', 24580, 'RTP/AVP', [0, 8, 18, 101], 'sendrecv']);
  assert.equal(m.connection, { netType: 'IN', addrType: 'IP4', address: '10.10.20.31' });
  assert.equal(m.rtpmap.get(101), { encoding: 'telephone-event', clockRate: 8000 });
  assert.equal([...m.fmtp], [[18, 'annexb=yes'], [101, '0-15']]);
  assert.equal(m.extra, [{ type: 'b', value: 'TIAS:64000' }]);
  // Written back, it is the same text.
  assert.is(writeSdp(s), sdpText(CISCO_OFFER));
  // LF line ends and a missing last line end read the same.
  assert.equal(parsed(CISCO_OFFER.join('\n')), s);
});

test('answers the Cisco offer with PCMU and telephone-event 101, byte for byte', () => {
  const r = answerAudio(parsed(sdpText(CISCO_OFFER)), OURS);
  if (!r.ok) return assert.unreachable(r.error.message);
  assert.equal(r.value.codec, { pt: 0, encoding: 'PCMU' });
  assert.is(r.value.telephoneEventPt, 101);
  assert.equal(r.value.remote, { address: '10.10.20.31', port: 24580 });
  assert.is(writeSdp(r.value.answer), sdpText([
    'v=0',
    'o=Cisco-SIPUA 5012 0 IN IP4 10.10.20.40',
    's=SIP Call',
    'c=IN IP4 10.10.20.40',
    't=0 0',
    'm=audio 16384 RTP/AVP 0 101',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    'a=ptime:20',
    'a=sendrecv',
  ]));
  // Preference follows the offer's order; our list only says what we accept.
  const alaw = answerAudio(parsed(sdpText(CISCO_OFFER)), { ...OURS, codecs: ['PCMA'], telephoneEvent: false });
  assert.ok(alaw.ok && alaw.value.codec.pt === 8 && alaw.value.telephoneEventPt === undefined);
  if (alaw.ok) assert.equal(alaw.value.answer.media[0]!.formats, [8]);
});

test('a video phone offer: audio answered, video and BFCP rejected with port 0 and their formats', () => {
  const lines = [
    ...CISCO_OFFER.slice(0, 5),
    'm=audio 24580 RTP/AVP 96 8 102',
    'c=IN IP4 10.10.20.31',
    'a=rtpmap:96 pcmu/8000',
    'a=rtpmap:102 telephone-event/8000',
    'a=fmtp:102 0-16,32',
    'a=ptime:30',
    'a=sendonly',
    'm=video 24582 RTP/AVP 126 97',
    'c=IN IP4 10.10.20.31',
    'a=rtpmap:126 H264/90000',
    'a=fmtp:126 profile-level-id=42801E;packetization-mode=1',
    'a=rtcp-fb:* nack pli',
    'm=application 24584 UDP/BFCP *',
    'c=IN IP4 10.10.20.31',
    'a=floorctrl:c-s',
  ];
  const offer = parsed(sdpText(lines));
  assert.equal(offer.media[1]!.attributes, ['rtcp-fb:* nack pli']);
  assert.equal([offer.media[2]!.formats, offer.media[2]!.tokens], [[], ['*']]);
  const r = answerAudio(offer, OURS);
  if (!r.ok) return assert.unreachable(r.error.message);
  // A dynamic type mapped to PCMU (any case) counts; DTMF narrows to 0-15; hold gets recvonly.
  assert.equal(r.value.codec, { pt: 96, encoding: 'PCMU' });
  assert.is(r.value.telephoneEventPt, 102);
  const [audio, video, app] = r.value.answer.media as [SdpMedia, SdpMedia, SdpMedia];
  assert.equal([audio.formats, audio.fmtp.get(102), audio.ptime, audio.direction], [[96, 102], '0-15', 30, 'recvonly']);
  assert.equal([video.port, video.formats, video.media], [0, [126, 97], 'video']);
  assert.equal([app.port, app.proto, app.tokens], [0, 'UDP/BFCP', ['*']]);
  const text = writeSdp(r.value.answer);
  assert.ok(text.includes('m=video 0 RTP/AVP 126 97\r\n') && text.includes('m=application 0 UDP/BFCP *\r\n'), text);
  assert.equal(parsed(text), r.value.answer);
});

test('no acceptable stream is an error; telephone-event drops without failing the call', () => {
  const g729 = CISCO_OFFER.map((l) => (l.startsWith('m=') ? 'm=audio 24580 RTP/AVP 18 101' : l));
  const none = answerAudio(parsed(sdpText(g729)), OURS);
  assert.ok(!none.ok && none.error.code === 'no-common-codec');
  const srtp = CISCO_OFFER.map((l) => (l.startsWith('m=') ? 'm=audio 24580 RTP/SAVP 0 8 18 101' : l));
  assert.ok(!answerAudio(parsed(sdpText(srtp)), OURS).ok);
  const zero = CISCO_OFFER.map((l) => (l.startsWith('m=') ? 'm=audio 0 RTP/AVP 0 8 18 101' : l));
  assert.ok(!answerAudio(parsed(sdpText(zero)), OURS).ok);
  for (const [fmtp, expected] of [['a=fmtp:101 200-255', undefined], ['a=fmtp:101 0-', undefined], ['a=fmtp:101 12,13,2', '2,12,13']] as const) {
    const r = answerAudio(parsed(sdpText(CISCO_OFFER.map((l) => (l.startsWith('a=fmtp:101') ? fmtp : l)))), OURS);
    if (!r.ok) return assert.unreachable(r.error.message);
    assert.is(r.value.telephoneEventPt, expected === undefined ? undefined : 101, fmtp);
    assert.is(r.value.answer.media[0]!.fmtp.get(101), expected, fmtp);
  }
  const noFmtp = answerAudio(parsed(sdpText(CISCO_OFFER.filter((l) => !l.startsWith('a=fmtp:101')))), OURS);
  assert.ok(noFmtp.ok && noFmtp.value.answer.media[0]!.fmtp.get(101) === '0-15');
});

test('our offer: PCMU 0, PCMA 8, telephone-event 101 0-15, 20 ms, sendrecv; we can answer it', () => {
  const offer = offerAudio({ ...OURS, sessionVersion: '3' });
  assert.is(writeSdp(offer), sdpText([
    'v=0', 'o=Cisco-SIPUA 5012 3 IN IP4 10.10.20.40', 's=SIP Call', 'c=IN IP4 10.10.20.40', 't=0 0',
    'm=audio 16384 RTP/AVP 0 8 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15', 'a=ptime:20', 'a=sendrecv',
  ]));
  assert.equal(parsed(writeSdp(offer)), offer);
  const r = answerAudio(offer, { ...OURS, address: '10.10.20.31', port: 24580, codecs: ['PCMA', 'PCMU'] });
  assert.ok(r.ok && r.value.codec.pt === 0 && r.value.telephoneEventPt === 101);
  assert.equal(r.ok && r.value.remote, { address: '10.10.20.40', port: 16384 });
  assert.throws(() => offerAudio({ ...OURS, codecs: [] }), RangeError);
  assert.throws(() => offerAudio({ ...OURS, port: 0 }), RangeError);
  assert.throws(() => offerAudio({ ...OURS, address: 'phone' }), RangeError);
});

test('bad descriptions are typed errors naming the line', () => {
  const edit = (i: number, line: string | undefined) => sdpText([...CISCO_OFFER.slice(0, i), ...(line === undefined ? [] : [line]), ...CISCO_OFFER.slice(i + 1)]);
  const insert = (i: number, line: string) => sdpText([...CISCO_OFFER.slice(0, i), line, ...CISCO_OFFER.slice(i)]);
  const cases: Array<[string, string, string]> = [
    [edit(0, undefined), 'bad-order', 'line 1'],
    [edit(0, 'v=1'), 'bad-version', 'line 1'],
    [sdpText([CISCO_OFFER[0]!, CISCO_OFFER[2]!, CISCO_OFFER[1]!, ...CISCO_OFFER.slice(3)]), 'bad-order', 'line 3'],
    [insert(3, 'x=unknown'), 'bad-type', 'line 4'],
    [insert(4, 'c=IN IP4 10.10.20.31'), 'bad-order', 'line 5'],
    [insert(7, 'o=Cisco-SIPUA 1 0 IN IP4 10.0.0.1'), 'bad-order', 'line 8'],
    [edit(1, 'o=Cisco-SIPUA 20716 0 IN IP4'), 'bad-field', 'line 2'],
    [edit(1, 'o=Cisco-SIPUA 20716 0 IN IP9 10.10.20.31'), 'unsupported', 'line 2'],
    [edit(1, 'o=Cisco-SIPUA x 0 IN IP4 10.10.20.31'), 'bad-origin', 'line 2'],
    [edit(2, 's='), 'bad-field', 'line 3'],
    [edit(2, 's=SIP\x07Call'), 'bad-character', 'line 3'],
    [edit(2, ''), 'bad-line', 'line 3'],
    [edit(4, 't=0'), 'bad-field', 'line 5'],
    [edit(4, undefined), 'missing', 'line 5'],
    [edit(5, 'm=audio 70000 RTP/AVP 0'), 'bad-media', 'line 6'],
    [edit(5, 'm=audio 24580 RTP/AVP 0 128'), 'bad-format', 'line 6'],
    [edit(5, 'm=audio 24580 RTP/AVP 0 0'), 'bad-media', 'line 6'],
    [edit(5, 'm=audio  24580 RTP/AVP 0'), 'bad-field', 'line 6'],
    [edit(6, 'c=IN IP4 224.2.1.1/127'), 'unsupported', 'line 7'],
    [edit(6, 'c=IN IP4 999.1.1.1'), 'bad-address', 'line 7'],
    [edit(6, undefined), 'missing', 'line 15'],
    [insert(7, 'c=IN IP4 10.10.20.32'), 'duplicate', 'line 8'],
    [edit(8, 'a=rtpmap:0 PCMU'), 'bad-attribute', 'line 9'],
    [edit(9, 'a=rtpmap:0 PCMA/8000'), 'bad-attribute', 'line 10'],
    [edit(13, 'a=fmtp:101'), 'bad-attribute', 'line 14'],
    [edit(14, 'a=sendrecv:1'), 'bad-attribute', 'line 15'],
    [insert(14, 'a=ptime:0'), 'bad-attribute', 'line 15'],
    [insert(15, 'a=inactive'), 'duplicate', 'line 16'],
    [insert(14, 'a=bad name'), 'bad-attribute', 'line 15'],
    [insert(14, 'b=AS:80'), 'bad-order', 'line 15'],
    ['', 'missing', 'line 0'],
    [sdpText(CISCO_OFFER) + 'a=x\r\n'.repeat(250), 'oversized', 'line 0'],
    [sdpText(CISCO_OFFER) + `a=${'x'.repeat(SDP_MAX_BYTES)}\r\n`, 'oversized', 'line 0'],
  ];
  for (const [text, code, at] of cases) {
    const r = parseSdp(text);
    if (r.ok) return assert.unreachable(`accepted:\n${text.slice(0, 400)}`);
    assert.is(r.error.code, code, `${r.error.message}\n${text.slice(0, 400)}`);
    assert.is(r.error.at, at, r.error.message);
  }
  assert.throws(() => writeSdp({ ...parsed(sdpText(CISCO_OFFER)), sessionName: 'x\r\na=inject' }), RangeError);
});

// ---- properties -----------------------------------------------------------------------------

const text = (min = 0) => fc.string({ unit: fc.constantFrom(...'abcXYZ019 :/-=_.,;*é€'), minLength: min, maxLength: 16 });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const attrName = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9-]{0,8}$/);
const rawAttr = (reserved: string[]) => fc.tuple(attrName.filter((n) => !reserved.includes(n)), opt(text())).map(([n, v]) => (v === undefined ? n : `${n}:${v}`));
const DIRS = ['sendrecv', 'sendonly', 'recvonly', 'inactive'] as const;
const connection: fc.Arbitrary<SdpConnection> = fc.oneof(
  fc.oneof(fc.ipV4(), fc.constantFrom('cucm.example', 'sub-1.lab')).map((address): SdpConnection => ({ netType: 'IN', addrType: 'IP4', address })),
  fc.ipV6().map((address): SdpConnection => ({ netType: 'IN', addrType: 'IP6', address })),
);
// Kept lines in the order the RFC puts them; i, u, z, k at most once.
const lines = (types: string): fc.Arbitrary<SdpLine[]> => fc.tuple(...[...types].map((t) => ('iuzk'.includes(t)
  ? opt(text()).map((v) => (v === undefined ? [] : [{ type: t, value: v }]))
  : fc.array(text(), { maxLength: 2 }).map((vs) => vs.map((value) => ({ type: t, value })))))).map((groups) => groups.flat());
const rtpmapValue = fc.tuple(fc.constantFrom('PCMU', 'pcma', 'telephone-event', 'G729', 'opus', 'H264'), fc.constantFrom(8000, 16000, 48000, 90000), opt(fc.integer({ min: 1, max: 2 })))
  .map(([encoding, clockRate, channels]): SdpRtpmap => (channels === undefined ? { encoding, clockRate } : { encoding, clockRate, channels }));
const common = { port: fc.nat(0xffff), portCount: opt(fc.integer({ min: 1, max: 4 })), connection: opt(connection), extra: lines('ibk'), direction: fc.constantFrom(...DIRS) };
const strip = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
const rtpMedia = fc.uniqueArray(fc.nat(127), { minLength: 1, maxLength: 6 }).chain((formats) => fc.record({
  ...common,
  media: fc.constantFrom('audio', 'video'),
  proto: fc.constantFrom('RTP/AVP', 'RTP/SAVP', 'UDP/TLS/RTP/SAVPF'),
  rtpmap: fc.uniqueArray(fc.tuple(fc.constantFrom(...formats, 127), rtpmapValue), { selector: (e) => e[0] }).map((e) => new Map(e)),
  fmtp: fc.uniqueArray(fc.tuple(fc.constantFrom(...formats), text(1)), { selector: (e) => e[0] }).map((e) => new Map(e)),
  ptime: opt(fc.integer({ min: 1, max: 9999 })),
  attributes: fc.array(rawAttr([...DIRS, 'rtpmap', 'fmtp', 'ptime']), { maxLength: 3 }),
}).map((m): SdpMedia => strip({ ...m, formats })));
const otherMedia = fc.record({
  ...common,
  media: fc.constantFrom('application', 'text'),
  proto: fc.constantFrom('UDP/BFCP', 'TCP/BFCP', 'udp'),
  tokens: fc.uniqueArray(fc.stringMatching(/^[a-z0-9*]{1,5}$/), { minLength: 1, maxLength: 3 }),
  attributes: fc.array(rawAttr([...DIRS]), { maxLength: 3 }),
}).map((m): SdpMedia => strip({ ...m, formats: [], rtpmap: new Map(), fmtp: new Map() }));
const sdp: fc.Arbitrary<Sdp> = fc.record({
  username: fc.stringMatching(/^[!-~]{1,12}$/),
  sessionId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
  sessionVersion: fc.nat().map(String),
  originAt: connection,
  sessionName: text(1),
  connection: opt(connection),
  timing: fc.tuple(fc.nat(), fc.nat()),
  attributes: fc.array(rawAttr([...DIRS]), { maxLength: 3 }),
  extra: lines('iuepbrzk'),
  media: fc.array(fc.oneof(rtpMedia, otherMedia), { maxLength: 3 }),
}).map(({ username, sessionId, sessionVersion, originAt, connection, media, ...rest }): Sdp => strip({
  version: 0, origin: { username, sessionId, sessionVersion, ...originAt }, connection, ...rest,
  // Without a session c=, every medium needs its own.
  media: connection ? media : media.map((m) => ({ connection: { netType: 'IN', addrType: 'IP4', address: '192.0.2.1' } as SdpConnection, ...strip(m) })),
}));

test('property: write → parse is the identity, and writing again gives the same text', () => {
  fc.assert(fc.property(sdp, (s) => {
    const once = writeSdp(s);
    const back = parseSdp(once);
    if (!back.ok) throw new Error(`${back.error.message}\n${once}`);
    assert.equal(back.value, s);
    assert.is(writeSdp(back.value), once);
  }), { numRuns: 500, seed: 8866 });
});

/** Whatever parses must survive a write and parse back the same. */
const hostile = (t: string): boolean => {
  const r = parseSdp(t);
  if (!r.ok) return r.error instanceof WireError;
  assert.equal(parseSdp(writeSdp(r.value)), r);
  return true;
};

test('property: random text, fragments, mutations and truncations never throw anything but a typed error', () => {
  const base = sdpText(CISCO_OFFER);
  for (let cut = 0; cut <= base.length; cut++) assert.ok(hostile(base.slice(0, cut)));
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), hostile), { numRuns: 1000, seed: 3264 });
  const fragments = ['v=0', 'o=a 1 2 IN IP4 1.2.3.4', 's=x', 't=0 0', 'c=IN IP4 10.0.0.1', 'm=audio 4000 RTP/AVP 0', 'a=rtpmap:', 'a=fmtp:101 ', '0 ', '101 ', 'PCMU/8000', '/', ' ', '\r\n', '\n', '\r', '=', ':', 'a=sendrecv', 'b=AS:64', 'm=video 0 udp *', 'IN IP6 ::1'];
  fc.assert(fc.property(fc.array(fc.constantFrom(...fragments), { maxLength: 40 }), (a) => hostile(a.join(''))), { numRuns: 2000, seed: 3264 });
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(), fc.constantFrom('', ' ', '\r\n', '=', ':', '/', '0', '9', 'a', 'm', 'x', '\0', 'ü')), { minLength: 1, maxLength: 4 }), (edits) => {
    let t = base;
    for (const [i, c] of edits) {
      const at = i % (t.length + 1);
      t = t.slice(0, at) + c + t.slice(at + (i % 3 === 0 ? 0 : 1));
    }
    return hostile(t);
  }), { numRuns: 2000, seed: 3264 });
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(CISCO_OFFER.length - 1), fc.nat(CISCO_OFFER.length - 1)), { maxLength: 3 }), (swaps) => {
    const l = [...CISCO_OFFER];
    for (const [a, b] of swaps) [l[a], l[b]] = [l[b]!, l[a]!];
    return hostile(sdpText(l)) && hostile(sdpText([...l, ...l.slice(5)]));
  }), { numRuns: 500, seed: 3264 });
});

test.run();
