/**
 * Dialogs (RFC 3261 §12) built from real-shaped messages: the UAC's from a 2xx (route set =
 * Record-Route reversed, remote target = Contact, our CSeq from the INVITE), the UAS's from the
 * INVITE (Record-Route in order), requests inside them (tags, CSeq counting, loose and strict
 * routing, where they go), the ACK for a 2xx, and the remote CSeq check.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type SipRequest, type SipResponse, decodeSip, header, headers } from '../../src/wire/sip.ts';
import { Dialog, nameAddrWithout } from '../../src/sip/dialog.ts';

const parse = (lines: string[]) => {
  const d = decodeSip(Buffer.from([...lines, '', ''].join('\r\n')));
  if (!d.ok) throw d.error;
  return d.value;
};

// RFC 3665 §3.2-like: Alice calls Bob through two record-routing proxies.
const INVITE = parse([
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9',
  'Max-Forwards: 70',
  'From: "Alice" <sip:alice@atlanta.example.com>;tag=9fxced76sl',
  'To: Bob <sip:bob@biloxi.example.com>',
  'Call-ID: 3848276298220188511@atlanta.example.com',
  'CSeq: 2 INVITE',
  'Contact: <sip:alice@client.atlanta.example.com;transport=tcp>',
  'Content-Length: 0',
]) as SipRequest;

const OK = parse([
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;received=192.0.2.101',
  'Record-Route: <sip:ss2.biloxi.example.com;lr>',
  'Record-Route: <sip:ss1.atlanta.example.com;lr>, <sip:p0.atlanta.example.com:5070;lr;transport=tcp>',
  'From: "Alice" <sip:alice@atlanta.example.com>;tag=9fxced76sl',
  'To: Bob <sip:bob@biloxi.example.com>;tag=314159',
  'Call-ID: 3848276298220188511@atlanta.example.com',
  'CSeq: 2 INVITE',
  'Contact: <sip:bob@client.biloxi.example.com;transport=tcp>',
  'Content-Length: 0',
]) as SipResponse;

test('the UAC\'s dialog from a 2xx: ids, route set reversed, target from Contact, our CSeq from the INVITE', () => {
  const d = Dialog.asUac(INVITE, OK, 'TCP');
  assert.is(d.state, 'confirmed');
  assert.is(d.callId, '3848276298220188511@atlanta.example.com');
  assert.is(d.localTag, '9fxced76sl');
  assert.is(d.remoteTag, '314159');
  assert.is(d.localSeq, 2);
  assert.is(d.remoteSeq, undefined);
  assert.is(d.remoteTarget, 'sip:bob@client.biloxi.example.com;transport=tcp');
  assert.equal(d.routeSet, ['<sip:p0.atlanta.example.com:5070;lr;transport=tcp>', '<sip:ss1.atlanta.example.com;lr>', '<sip:ss2.biloxi.example.com;lr>']);
  assert.is(d.localUri, '"Alice" <sip:alice@atlanta.example.com>');
  assert.is(d.remoteUri, '"Bob" <sip:bob@biloxi.example.com>');
});

test('a BYE in the dialog: next CSeq, both tags, target as Request-URI, the route set as Route (loose routing), sent to the first route', () => {
  const d = Dialog.asUac(INVITE, OK, 'TCP');
  const bye = d.createRequest('BYE');
  assert.is(bye.uri, 'sip:bob@client.biloxi.example.com;transport=tcp');
  assert.is(header(bye, 'cseq'), '3 BYE');
  assert.is(header(bye, 'from'), '"Alice" <sip:alice@atlanta.example.com>;tag=9fxced76sl');
  assert.is(header(bye, 'to'), '"Bob" <sip:bob@biloxi.example.com>;tag=314159');
  assert.is(header(bye, 'call-id'), d.callId);
  assert.equal(headers(bye, 'route'), d.routeSet);
  assert.is(header(bye, 'via'), undefined, 'the transaction layer adds the Via');
  assert.equal(d.destination(), { transport: 'TCP', host: 'p0.atlanta.example.com', port: 5070 });
  const info = d.createRequest('INFO', { body: Buffer.from('Signal=5'), contentType: 'application/dtmf-relay' });
  assert.is(header(info, 'cseq'), '4 INFO');
  assert.is(header(info, 'content-type'), 'application/dtmf-relay');
  const reinvite = d.createRequest('INVITE');
  assert.is(header(reinvite, 'contact'), '<sip:alice@client.atlanta.example.com;transport=tcp>', 'a target refresh carries our Contact');
});

test('the ACK for a 2xx takes the INVITE\'s CSeq number and does not count', () => {
  const d = Dialog.asUac(INVITE, OK, 'TCP');
  const ack = d.createAck(2);
  assert.is(ack.method, 'ACK');
  assert.is(header(ack, 'cseq'), '2 ACK');
  assert.is(d.localSeq, 2);
  assert.is(header(d.createRequest('BYE'), 'cseq'), '3 BYE');
});

test('strict routing: the first route becomes the Request-URI and the target goes last in Route', () => {
  const strict = { ...OK, headers: OK.headers.filter(([n]) => n !== 'Record-Route').concat([['Record-Route', '<sip:old.example.com:5080>']]) } as SipResponse;
  const d = Dialog.asUac(INVITE, strict, 'UDP');
  const bye = d.createRequest('BYE');
  assert.is(bye.uri, 'sip:old.example.com:5080');
  assert.equal(headers(bye, 'route'), ['<sip:bob@client.biloxi.example.com;transport=tcp>']);
  assert.equal(d.destination(), { transport: 'UDP', host: 'old.example.com', port: 5080 });
});

test('no route set: the request goes to the remote target, over the transport it names or the dialog\'s', () => {
  const plain = { ...OK, headers: OK.headers.filter(([n]) => n !== 'Record-Route').map(([n, v]) => [n, n === 'Contact' ? '<sip:bob@192.0.2.4:5062>' : v]) } as SipResponse;
  const d = Dialog.asUac(INVITE, plain, 'TCP');
  assert.equal(headers(d.createRequest('BYE'), 'route'), []);
  assert.equal(d.destination(), { transport: 'TCP', host: '192.0.2.4', port: 5062 });
});

test('the UAS\'s dialog from the INVITE: Record-Route in order, the peer\'s CSeq, ours random; out-of-order CSeq refused', () => {
  const withRR = { ...INVITE, headers: [...INVITE.headers, ['Record-Route', '<sip:ss1.atlanta.example.com;lr>'], ['Record-Route', '<sip:ss2.biloxi.example.com;lr>']] } as SipRequest;
  const d = Dialog.asUas(withRR, 'b0b', '<sip:bob@192.0.2.4>', 'TCP');
  assert.is(d.localTag, 'b0b');
  assert.is(d.remoteTag, '9fxced76sl');
  assert.is(d.remoteSeq, 2);
  assert.is(d.remoteTarget, 'sip:alice@client.atlanta.example.com;transport=tcp');
  assert.equal(d.routeSet, ['<sip:ss1.atlanta.example.com;lr>', '<sip:ss2.biloxi.example.com;lr>']);
  assert.ok(d.localSeq >= 1 && d.localSeq < 2 ** 31);
  const bye = d.createRequest('BYE');
  assert.is(header(bye, 'from'), '"Bob" <sip:bob@biloxi.example.com>;tag=b0b');
  assert.is(header(bye, 'to'), '"Alice" <sip:alice@atlanta.example.com>;tag=9fxced76sl');
  const at = (seq: number, method = 'INFO') => ({ ...INVITE, method, headers: INVITE.headers.map(([n, v]) => [n, n === 'CSeq' ? `${seq} ${method}` : v]) }) as SipRequest;
  assert.ok(d.checkRemoteSeq(at(2, 'ACK')), 'the ACK repeats the INVITE\'s number');
  assert.not.ok(d.checkRemoteSeq(at(2)), 'not higher than the last: out of order');
  assert.ok(d.checkRemoteSeq(at(3)));
  assert.is(d.remoteSeq, 3);
  assert.not.ok(d.checkRemoteSeq(at(1)));
});

test('an early dialog is confirmed by the 2xx, whose Record-Route and Contact win', () => {
  const ringing = { ...OK, status: 180, reason: 'Ringing', headers: OK.headers.filter(([n]) => n !== 'Record-Route').map(([n, v]) => [n, n === 'Contact' ? '<sip:bob@early.example.com>' : v]) } as SipResponse;
  const d = Dialog.asUac(INVITE, ringing, 'TCP');
  assert.is(d.state, 'early');
  assert.equal(d.routeSet, []);
  d.confirm(OK);
  assert.is(d.state, 'confirmed');
  assert.is(d.routeSet.length, 3);
  assert.is(d.remoteTarget, 'sip:bob@client.biloxi.example.com;transport=tcp');
});

test('a terminated dialog builds no more requests and tells its listeners once', () => {
  const d = Dialog.asUac(INVITE, OK, 'TCP');
  const ends: string[] = [];
  d.onEnd((w) => ends.push(w));
  d.terminate('bye-received');
  d.terminate('bye-sent');
  assert.equal(ends, ['bye-received']);
  assert.throws(() => d.createRequest('BYE'));
  assert.is(nameAddrWithout('<sip:a@b>;tag=1;x=2', 'tag'), '<sip:a@b>;x=2');
});

test.run();
