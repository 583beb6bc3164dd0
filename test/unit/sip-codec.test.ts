import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { SipStreamDecoder, decodeSip, encodeSip, header, parseNameAddr, parseSipUri, parseVia, responseTo, splitList } from '../../src/wire/sip.ts';
import { answerChallenge, digestResponse, parseDigestAnswer, parseDigestChallenge } from '../../src/wire/sip-digest.ts';
import { buildAlarmReason, buildCiscoContact, buildServiceControl, parseAlarmReason, parseCiscoContacts, parseServiceControl } from '../../src/wire/cisco-sip.ts';
import { MacAddress } from '../../src/wire/mac.ts';
import { WireError } from '../../src/wire/result.ts';

// The first REGISTER of a real 7821 to CUCM 11.5 (reference §9.1, Cisco TAC doc 214535), body dropped.
const REGISTER_7821 = [
  'REGISTER sip:192.168.7.200 SIP/2.0',
  'Via: SIP/2.0/TCP 192.168.7.104:51778;branch=z9hG4bK66da98ae',
  'From: <sip:2222@192.168.7.200>;tag=c80084aa8743001411d7279b-7ecf20ad',
  'To: <sip:2222@192.168.7.200>',
  'Call-ID: c80084aa-87430003-255b99f4-783a63d4@192.168.7.104',
  'Max-Forwards: 70',
  'Session-ID: cead41d700105000a000c80084aa8743;remote=00000000000000000000000000000000',
  'Date: Sat, 09 Mar 2019 18:32:45 GMT',
  'CSeq: 113 REGISTER',
  'User-Agent: Cisco-CP7821/12.1.1',
  'Contact: <sip:04984998-fe29-08c0-6d47-5593bf4ce606@192.168.7.104:51778;transport=tcp>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-c80084aa8743>";+u.sip!devicename.ccm.cisco.com="SEPC80084AA8743";+u.sip!model.ccm.cisco.com="621"',
  'Reason: SIP;cause=200;text="cisco-alarm:23 Name=SEPC80084AA8743 ActiveLoad=sip78xx.12-1-1-12.loads InactiveLoad=sip78xx.10-3-1-12.loads Last=reset-restart"',
  'Expires: 3600',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

test('reads a real 7821 REGISTER, Cisco contact and Reason included', () => {
  const d = decodeSip(Buffer.from(REGISTER_7821));
  assert.ok(d.ok);
  if (!d.ok || d.value.kind !== 'request') return assert.unreachable();
  assert.is(d.value.method, 'REGISTER');
  assert.is(header(d.value, 'cseq'), '113 REGISTER');
  const [c] = parseCiscoContacts(header(d.value, 'm')!);
  assert.is(c!.deviceName, 'SEPC80084AA8743');
  assert.is(c!.mac!.hex, 'C80084AA8743');
  assert.is(c!.modelCode, 621);
  assert.is(c!.keepAlive, false);
  assert.equal(parseAlarmReason(header(d.value, 'reason')!), { name: 'SEPC80084AA8743', activeLoad: 'sip78xx.12-1-1-12.loads', inactiveLoad: 'sip78xx.10-3-1-12.loads', last: 'reset-restart' });
  assert.equal(parseVia(header(d.value, 'via')!), { transport: 'TCP', host: '192.168.7.104', port: 51778, params: Object.assign(Object.create(null), { branch: 'z9hG4bK66da98ae' }) });
});

test('our Contact and Reason have the shape of the real phone\'s', () => {
  const mac = MacAddress.parse('C8:00:84:AA:87:43')!;
  const contact = buildCiscoContact({ user: '04984998-fe29-08c0-6d47-5593bf4ce606', host: '192.168.7.104', port: 51778, mac, modelCode: 621 });
  assert.ok(REGISTER_7821.includes(`Contact: ${contact}\r\n`), contact);
  const reason = buildAlarmReason({ deviceName: 'SEPC80084AA8743', activeLoad: 'sip78xx.12-1-1-12.loads', inactiveLoad: 'sip78xx.10-3-1-12.loads', last: 'reset-restart' });
  assert.ok(REGISTER_7821.includes(`Reason: ${reason}\r\n`), reason);
  const keep = parseCiscoContacts(buildCiscoContact({ user: 'u', host: 'h', port: 1, mac, modelCode: 683, keepAlive: true }))[0]!;
  assert.is(keep.keepAlive, true);
  assert.is(keep.expires, 0);
});

test('the stream decoder frames messages split anywhere and skips CRLF pings', () => {
  const one = Buffer.from(REGISTER_7821);
  const body = encodeSip({ kind: 'response', status: 200, reason: 'OK', headers: [['Call-ID', 'x'], ['CSeq', '1 REGISTER']], body: Buffer.from('hello') });
  const stream = Buffer.concat([Buffer.from('\r\n\r\n'), one, body, one]);
  for (const cut of [1, 7, 100, one.length, one.length + 3, stream.length - 1]) {
    const dec = new SipStreamDecoder();
    const a = dec.push(stream.subarray(0, cut));
    const b = dec.push(stream.subarray(cut));
    assert.ok(a.ok && b.ok);
    if (!a.ok || !b.ok) return;
    const all = [...a.value, ...b.value];
    assert.is(all.length, 3, `cut at ${cut}`);
    assert.is(Buffer.from(all[1]!.body).toString(), 'hello');
  }
});

test('stream framing refuses what would let a peer exhaust memory', () => {
  const noLength = new SipStreamDecoder().push(Buffer.from('OPTIONS sip:x SIP/2.0\r\nCall-ID: 1\r\n\r\n'));
  assert.ok(!noLength.ok && noLength.error.code === 'no-content-length');
  const huge = new SipStreamDecoder().push(Buffer.from('OPTIONS sip:x SIP/2.0\r\nContent-Length: 99999999\r\n\r\n'));
  assert.ok(!huge.ok && huge.error.code === 'oversized');
  const endless = new SipStreamDecoder().push(Buffer.alloc(20000, 0x41));
  assert.ok(!endless.ok && endless.error.code === 'oversized');
});

test('responses copy the transaction headers and add a To tag', () => {
  const d = decodeSip(Buffer.from(REGISTER_7821));
  if (!d.ok || d.value.kind !== 'request') return assert.unreachable();
  const r = responseTo(d.value, 200, [['Expires', '120']], undefined, 'abc');
  assert.is(header(r, 'to'), '<sip:2222@192.168.7.200>;tag=abc');
  assert.is(header(r, 'call-id'), 'c80084aa-87430003-255b99f4-783a63d4@192.168.7.104');
  const again = decodeSip(encodeSip(r));
  assert.ok(again.ok && again.value.kind === 'response' && again.value.status === 200);
});

test('digest: RFC 2617 §3.5 example gives the published response', () => {
  const challenge = parseDigestChallenge('Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')!;
  assert.is(challenge.qop, 'auth');
  const value = answerChallenge(challenge, 'GET', '/dir/index.html', 'Mufasa', 'Circle Of Life', '0a4f113b', 1);
  assert.match(value, /response="6629fae49393a05397450978507c4ef1"/);
  const a = parseDigestAnswer(value)!;
  assert.is(digestResponse(a, 'GET', 'Circle Of Life'), '6629fae49393a05397450978507c4ef1');
  assert.is(parseDigestChallenge('Basic realm="x"'), undefined);
});

test('service-control NOTIFY bodies round-trip', () => {
  const body = buildServiceControl({ action: 'reset', registerCallId: 'c80084aa-87430003-255b99f4-783a63d4@192.168.7.104', configVersionStamp: '' });
  assert.match(body, /^action=reset\r\nRegisterCallId=\{c80084aa-87430003-255b99f4-783a63d4@192.168.7.104\}\r\n/);
  assert.equal(parseServiceControl(body), { action: 'reset', registerCallId: 'c80084aa-87430003-255b99f4-783a63d4@192.168.7.104', configVersionStamp: '{00000000-0000-0000-0000-000000000000}' });
  assert.is(parseServiceControl('action=explode\r\n'), undefined);
});

test('header value helpers', () => {
  assert.equal(splitList('<sip:a@b>;x="1,2", sip:c@d'), ['<sip:a@b>;x="1,2"', 'sip:c@d']);
  assert.equal(parseNameAddr('"Alice" <sip:1001@10.0.0.1:5060;transport=tcp>;tag=9')?.params['tag'], '9');
  assert.equal(parseSipUri('sip:1001@10.0.0.1:5070;transport=tcp')?.port, 5070);
  assert.is(parseSipUri('mailto:x'), undefined);
});

test('property: random and mutated messages give typed errors only', () => {
  const base = Buffer.from(REGISTER_7821);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => {
    const d = decodeSip(b);
    const s = new SipStreamDecoder().push(b);
    return (d.ok || d.error instanceof WireError) && (s.ok || s.error instanceof WireError);
  }), { numRuns: 3000 });
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.nat(255)), { minLength: 1, maxLength: 8 }), (edits) => {
    const b = Buffer.from(base);
    for (const [i, v] of edits) b[i] = v;
    const d = decodeSip(b);
    if (d.ok) {
      for (const c of parseCiscoContacts(header(d.value, 'contact') ?? '')) void c.mac;
      parseAlarmReason(header(d.value, 'reason') ?? '');
      parseVia(header(d.value, 'via') ?? '');
    }
    return d.ok || d.error instanceof WireError;
  }), { numRuns: 3000 });
});

test.run();
