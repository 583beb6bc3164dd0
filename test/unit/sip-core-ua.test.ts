/**
 * Two user agents on a VirtualClock over in-memory UDP (and one pair over real TCP on
 * loopback): a call set up and torn down (INVITE/180/200/ACK/BYE), the 2xx retransmitted by the
 * UAS until the ACK and ACKed again by the UAC, a lost ACK, no ACK at all (BYE after 64*T1),
 * CANCEL before and after a provisional (487), digest answered once for REGISTER and INVITE,
 * a request nobody answers (local 408 after Timer F), requests inside the dialog (INFO, a
 * re-INVITE, an out-of-order CSeq, an unknown dialog).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VirtualClock } from '../../src/common/clock.ts';
import { digestResponse, parseDigestAnswer } from '../../src/wire/sip-digest.ts';
import { type SipMessage, type SipRequest, header } from '../../src/wire/sip.ts';
import { MemoryNetwork, type MemoryPacket } from '../../src/sip/memory-transport.ts';
import { cseqOf, toTag } from '../../src/sip/message.ts';
import { nodeTcpSockets } from '../../src/sip/node-sockets.ts';
import { StreamTransport } from '../../src/sip/tcp-transport.ts';
import { type IncomingInvite, type IncomingRequest, UserAgent, isLocalResponse } from '../../src/sip/index.ts';

const SDP = Buffer.from('v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n');

function pair() {
  const clock = new VirtualClock();
  const start = clock.now();
  const net = new MemoryNetwork();
  const alice = new UserAgent({ transports: [net.transport('UDP', '10.0.0.1', 5060)], clock, aor: 'sip:alice@10.0.0.1', userAgent: 'sepi-test' });
  const bob = new UserAgent({ transports: [net.transport('UDP', '10.0.0.2', 5060)], clock, aor: 'sip:bob@10.0.0.2' });
  const at = (ms: number) => clock.advance(start + ms - clock.now());
  const sent = (pred: (m: SipMessage) => boolean, from?: string) => net.log.filter((p) => pred(p.message) && (!from || p.from.host === from));
  return { clock, net, alice, bob, at, sent };
}
const req = (method: string) => (m: SipMessage) => m.kind === 'request' && m.method === method;
const res = (status: number, method?: string) => (m: SipMessage) => m.kind === 'response' && m.status === status && (!method || cseqOf(m)?.method === method);

test('a call: INVITE, 180, 200 with SDP, ACK, both dialogs confirmed and matching, BYE ends both', async () => {
  const s = pair();
  const bobSide: { inv?: IncomingInvite; dialog?: import('../../src/sip/dialog.ts').Dialog } = {};
  s.bob.onInvite = async (inv) => {
    bobSide.inv = inv;
    await inv.progress(180);
    bobSide.dialog = await inv.accept({ body: SDP, contentType: 'application/sdp' });
  };
  const provisional: number[] = [];
  const call = s.alice.invite({ uri: 'sip:bob@10.0.0.2', body: SDP, contentType: 'application/sdp', onProvisional: (r) => provisional.push(r.status) });
  await s.at(50);
  const { response, dialog } = await call.result;
  assert.is(response.status, 200);
  assert.is(Buffer.from(response.body).toString(), SDP.toString());
  assert.equal(provisional, [180]);
  assert.ok(dialog);
  assert.is(dialog.state, 'confirmed');
  assert.ok(bobSide.dialog, 'bob\'s accept resolved on the ACK');
  assert.is(bobSide.inv!.state, 'confirmed');
  assert.is(dialog.localTag, bobSide.dialog.remoteTag);
  assert.is(dialog.remoteTag, bobSide.dialog.localTag);
  assert.is(dialog.callId, bobSide.dialog.callId);
  assert.is(s.sent(req('ACK')).length, 1);
  const ack = s.sent(req('ACK'))[0]!.message as SipRequest;
  assert.is(header(ack, 'cseq'), `${cseqOf(call.request!)!.seq} ACK`);
  assert.ok(s.sent(req('INVITE'))[0]!.message.headers.some(([n, v]) => n === 'Contact' && v === '<sip:alice@10.0.0.1:5060>'));
  assert.ok(header(s.sent(req('INVITE'))[0]!.message, 'user-agent') === 'sepi-test');
  // No 2xx retransmission once the ACK is in.
  await s.at(40_000);
  assert.is(s.sent(res(200, 'INVITE')).length, 1);
  const ends: string[] = [];
  bobSide.dialog.onEnd((w) => ends.push(w));
  const byeAnswer = await s.alice.bye(dialog);
  assert.is(byeAnswer.status, 200);
  assert.equal(ends, ['bye-received']);
  assert.is(dialog.state, 'terminated');
  assert.equal(s.alice.dialogs, []);
  assert.equal(s.bob.dialogs, []);
});

test('a lost ACK: the UAS resends its 200 at T1, 2*T1 …; the UAC ACKs each again with the same ACK', async () => {
  const s = pair();
  let firstAckLost = false;
  s.net.lose = (p: MemoryPacket) => {
    if (!firstAckLost && p.message.kind === 'request' && p.message.method === 'ACK') return (firstAckLost = true);
    return false;
  };
  let confirmed = false;
  s.bob.onInvite = async (inv) => {
    await inv.accept();
    confirmed = true;
  };
  const call = s.alice.invite({ uri: 'sip:bob@10.0.0.2' });
  await s.at(10);
  assert.is((await call.result).response.status, 200);
  assert.not.ok(confirmed);
  await s.at(600);
  assert.ok(confirmed, 'the second ACK (for the 200 resent at T1) got through');
  const oks = s.sent(res(200, 'INVITE')).length;
  assert.is(oks, 2);
  const acks = s.sent(req('ACK')).map((p) => p.message);
  assert.is(acks.length, 2);
  assert.is(header(acks[0]!, 'via'), header(acks[1]!, 'via'), 'the very same ACK');
});

test('no ACK at all: the UAS resends its 200 (T1 doubling to T2) and after 64*T1 ends the call with BYE', async () => {
  const s = pair();
  s.net.lose = (p) => p.message.kind === 'request' && p.message.method === 'ACK';
  let failure = '';
  s.bob.onInvite = (inv) => void inv.accept().catch((e: Error) => (failure = e.message));
  const call = s.alice.invite({ uri: 'sip:bob@10.0.0.2' });
  await s.at(10);
  const { dialog } = await call.result;
  await s.at(31_999);
  assert.is(failure, '');
  assert.equal(s.sent(res(200, 'INVITE'), '10.0.0.2').map((p) => p.message.kind), Array(11).fill('response'), '200 at 0, .5, 1.5, 3.5, 7.5, 11.5 … 31.5 s');
  await s.at(32_000);
  assert.match(failure, /no ACK/);
  assert.is(s.sent(req('BYE'), '10.0.0.2').length, 1);
  await s.at(32_100);
  assert.is(dialog!.state, 'terminated', 'alice got the BYE');
});

test('CANCEL after a 180: the UAS answers 200 to the CANCEL and 487 to the INVITE, which the UAC\'s transaction ACKs', async () => {
  const s = pair();
  let cancelled = false;
  s.bob.onInvite = (inv) => {
    inv.oncancel = () => (cancelled = true);
    void inv.progress(180);
  };
  const call = s.alice.invite({ uri: 'sip:bob@10.0.0.2' });
  await s.at(10);
  assert.is(call.early.size, 1, 'the 180 with a tag made an early dialog');
  call.cancel();
  await s.at(20);
  const { response, dialog } = await call.result;
  assert.is(response.status, 487);
  assert.not.ok(isLocalResponse(response));
  assert.is(dialog, undefined);
  assert.ok(cancelled);
  assert.is(s.sent(res(200, 'CANCEL')).length, 1);
  const cancelReq = s.sent(req('CANCEL'))[0]!.message as SipRequest;
  const invite = s.sent(req('INVITE'))[0]!.message as SipRequest;
  assert.is(header(cancelReq, 'via'), header(invite, 'via'), 'CANCEL carries the INVITE\'s Via');
  assert.is(cseqOf(cancelReq)!.seq, cseqOf(invite)!.seq);
  assert.is(toTag(s.sent(res(200, 'CANCEL'))[0]!.message), toTag(s.sent(res(487))[0]!.message), 'one tag for the CANCEL\'s 200 and the 487');
  assert.is(s.sent(req('ACK')).length, 1);
  assert.equal(s.alice.dialogs, []);
  assert.equal(s.bob.dialogs, []);
});

test('CANCEL before any provisional waits for one (the 100 Trying after 200 ms), then goes', async () => {
  const s = pair();
  s.bob.onInvite = () => {}; // silent: only the transaction's 100 Trying will come
  const call = s.alice.invite({ uri: 'sip:bob@10.0.0.2' });
  await s.at(10);
  call.cancel();
  await s.at(150);
  assert.is(s.sent(req('CANCEL')).length, 0, 'no CANCEL before a provisional (§9.1)');
  await s.at(260);
  assert.is(s.sent(req('CANCEL')).length, 1);
  assert.is((await call.result).response.status, 487);
});

test('a 2xx that crosses the CANCEL is ACKed and the call ended with BYE', async () => {
  const s = pair();
  // Bob answers at once, but his first 200 is lost: alice cancels, bob (answered already) sends
  // no 487, and the 200 resent at T1 reaches alice after her CANCEL.
  let lostOne = false;
  s.net.lose = (p) => !lostOne && p.message.kind === 'response' && p.message.status === 200 && cseqOf(p.message)?.method === 'INVITE' && (lostOne = true);
  const bobEnds: string[] = [];
  s.bob.onInvite = async (inv) => {
    await inv.progress(180);
    const d = await inv.accept();
    d.onEnd((w) => bobEnds.push(w));
  };
  const call = s.alice.invite({ uri: 'sip:bob@10.0.0.2' });
  await s.at(10);
  call.cancel();
  await s.at(20);
  assert.is(s.sent(res(200, 'CANCEL')).length, 1);
  assert.is(s.sent(res(487)).length, 0, 'the INVITE was answered before the CANCEL came');
  await s.at(600);
  const { response, dialog } = await call.result;
  assert.is(response.status, 200);
  assert.is(s.sent(req('ACK'), '10.0.0.1').length, 1);
  assert.is(s.sent(req('BYE'), '10.0.0.1').length, 1);
  assert.is(dialog!.state, 'terminated');
  assert.equal(bobEnds, ['bye-received']);
});

test('digest: a 401 to REGISTER is answered once (CSeq + 1, same Call-ID); a wrong password gets the second 401 back', async () => {
  const s = pair();
  const password = 'secret';
  const registers: SipRequest[] = [];
  s.bob.onRequest = (r: IncomingRequest) => {
    registers.push(r.request);
    const a = parseDigestAnswer(header(r.request, 'authorization') ?? '');
    if (a && digestResponse(a, 'REGISTER', password) === a.response) return r.respond(200, { headers: [['Expires', '120']] });
    r.respond(401, { headers: [['WWW-Authenticate', 'Digest realm="sepi", nonce="n1", algorithm=MD5, qop="auth"']] });
  };
  const alice2 = new UserAgent({ transports: [s.net.transport('UDP', '10.0.0.3', 5060)], clock: s.clock, aor: 'sip:1001@10.0.0.2', credentials: { username: '1001', password } });
  const p = alice2.request({ method: 'REGISTER', uri: 'sip:10.0.0.2', contact: true, headers: [['Expires', '3600']], cseq: 7 });
  await s.at(10);
  const ok = await p;
  assert.is(ok.status, 200);
  assert.is(registers.length, 2);
  assert.is(header(registers[0]!, 'call-id'), header(registers[1]!, 'call-id'));
  assert.is(header(registers[1]!, 'cseq'), '8 REGISTER');
  assert.is(header(ok, 'cseq'), '8 REGISTER', 'the caller continues from the response\'s CSeq');
  assert.ok(/^<sip:1001@10\.0\.0\.3:5060>$/.test(header(registers[0]!, 'contact')!));

  const wrong = new UserAgent({ transports: [s.net.transport('UDP', '10.0.0.4', 5060)], clock: s.clock, aor: 'sip:1001@10.0.0.2', credentials: { username: '1001', password: 'nope' } });
  const q = wrong.request({ method: 'REGISTER', uri: 'sip:10.0.0.2' });
  await s.at(20);
  assert.is((await q).status, 401);
  assert.is(registers.length, 4, 'answered once, not again');
});

test('digest: a 407 to INVITE is ACKed, then the INVITE goes again with Proxy-Authorization and gets through', async () => {
  const s = pair();
  let seen = 0;
  s.bob.onInvite = (inv) => {
    seen++;
    if (!header(inv.request, 'proxy-authorization')) return inv.reject(407, { headers: [['Proxy-Authenticate', 'Digest realm="proxy", nonce="abc"']] });
    void inv.accept();
  };
  const alice2 = new UserAgent({ transports: [s.net.transport('UDP', '10.0.0.3', 5060)], clock: s.clock, aor: 'sip:a@x', credentials: (realm) => (realm === 'proxy' ? { username: 'a', password: 'p' } : undefined) });
  const call = alice2.invite({ uri: 'sip:bob@10.0.0.2' });
  await s.at(20);
  const { response, dialog } = await call.result;
  assert.is(response.status, 200);
  assert.ok(dialog);
  assert.is(seen, 2);
  const invites = s.sent(req('INVITE')).map((p) => p.message as SipRequest);
  assert.is(cseqOf(invites[1]!)!.seq, cseqOf(invites[0]!)!.seq + 1);
  assert.is(s.sent(req('ACK')).length, 2, 'one ACK for the 407 (transaction), one for the 200 (core)');
});

test('nobody answers: a local 408 after Timer F, a local 408 for INVITE after Timer B', async () => {
  const s = pair();
  const p = s.alice.request({ method: 'OPTIONS', uri: 'sip:ghost@10.0.0.9' });
  const call = s.alice.invite({ uri: 'sip:ghost@10.0.0.9' });
  await s.at(32_000);
  const r = await p;
  assert.is(r.status, 408);
  assert.ok(isLocalResponse(r));
  const { response } = await call.result;
  assert.is(response.status, 408);
  assert.ok(isLocalResponse(response));
});

test('inside the dialog: INFO both ways, a re-INVITE answered and ACKed, an out-of-order CSeq gets 500, an unknown dialog 481', async () => {
  const s = pair();
  let bobDialog: import('../../src/sip/dialog.ts').Dialog | undefined;
  s.bob.onInvite = async (inv) => void (bobDialog = await inv.accept({ body: SDP, contentType: 'application/sdp' }));
  const infos: string[] = [];
  s.alice.onDialogRequest = (r) => {
    infos.push(Buffer.from(r.request.body).toString());
    r.respond(200);
  };
  const call = s.alice.invite({ uri: 'sip:bob@10.0.0.2' });
  await s.at(10);
  const { dialog } = await call.result;
  const info = s.bob.requestInDialog(bobDialog!, 'INFO', { body: Buffer.from('Signal=5\r\nDuration=160\r\n'), contentType: 'application/dtmf-relay' });
  await s.at(20);
  assert.is((await info).status, 200);
  assert.equal(infos, ['Signal=5\r\nDuration=160\r\n']);
  // Bob's default answers alice's INFO with 200.
  const info2 = s.alice.requestInDialog(dialog!, 'INFO');
  await s.at(30);
  assert.is((await info2).status, 200);
  // re-INVITE: refused by default (488), accepted when bob says so.
  const r1 = s.alice.reinvite(dialog!, { body: SDP, contentType: 'application/sdp' });
  await s.at(40);
  assert.is((await r1).status, 488);
  let reAcked = false;
  s.bob.onReinvite = (inv) => void inv.accept({ body: SDP, contentType: 'application/sdp' }).then(() => (reAcked = true));
  const r2 = s.alice.reinvite(dialog!, { body: SDP, contentType: 'application/sdp' });
  await s.at(50);
  assert.is((await r2).status, 200);
  assert.ok(reAcked, 'the re-INVITE\'s 200 was ACKed');
  // An old CSeq inside the dialog: 500.
  const stale = dialog!.createRequest('INFO');
  const old = { ...stale, headers: stale.headers.map(([n, v]): [string, string] => [n, n === 'CSeq' ? '1 INFO' : v]) };
  const p = new Promise<number>((resolve) => s.alice.layer.sendRequest(old, { transport: 'UDP', host: '10.0.0.2', port: 5060 }, { onResponse: (r) => resolve(r.status), onFailure: () => resolve(0) }));
  await s.at(60);
  assert.is(await p, 500);
  // A BYE for a dialog nobody has: 481.
  const ghost = { ...stale, headers: stale.headers.map(([n, v]): [string, string] => [n, n === 'Call-ID' ? 'nobody@x' : n === 'CSeq' ? '99 BYE' : v]), method: 'BYE' };
  const q = new Promise<number>((resolve) => s.alice.layer.sendRequest(ghost, { transport: 'UDP', host: '10.0.0.2', port: 5060 }, { onResponse: (r) => resolve(r.status), onFailure: () => resolve(0) }));
  await s.at(70);
  assert.is(await q, 481);
});

test('a handler that throws, or whose promise rejects, ends that exchange with 500 and not the UA', async () => {
  const s = pair();
  s.bob.onRequest = (r) => {
    if (r.request.method === 'MESSAGE') throw new Error('bug');
    return Promise.reject(new Error('async bug'));
  };
  const a = s.alice.request({ method: 'MESSAGE', uri: 'sip:bob@10.0.0.2' });
  const b = s.alice.request({ method: 'NOTIFY', uri: 'sip:bob@10.0.0.2', headers: [['Event', 'x']] });
  await s.at(10);
  assert.is((await a).status, 500);
  assert.match((await a).reason, /bug/);
  assert.is((await b).status, 500);
  const c = s.alice.request({ method: 'OPTIONS', uri: 'sip:bob@10.0.0.2' });
  s.bob.onRequest = undefined;
  await s.at(20);
  assert.is((await c).status, 200, 'still answering');
});

test('over real TCP: the UAS listens, the UAC connects; ACK and BYE ride the UAC\'s connection, and so does the UAS\'s BYE back', async () => {
  const clock = new VirtualClock();
  const server = await StreamTransport.open({ sockets: nodeTcpSockets, listen: { host: '127.0.0.1', port: 0 } });
  const client = await StreamTransport.open({ sockets: nodeTcpSockets });
  const bob = new UserAgent({ transports: [server], clock, aor: 'sip:bob@127.0.0.1' });
  const alice = new UserAgent({ transports: [client], clock, aor: 'sip:alice@127.0.0.1' });
  try {
    let bobDialog: import('../../src/sip/dialog.ts').Dialog | undefined;
    const accepted = new Promise<void>((resolve) => {
      bob.onInvite = async (inv) => {
        bobDialog = await inv.accept();
        resolve();
      };
    });
    // No transport in the URI: a UA with only TCP uses TCP (RFC 3263 would say UDP).
    assert.is(alice.defaultTransport, 'TCP');
    const call = alice.invite({ uri: `sip:bob@127.0.0.1:${server.listening!.port}` });
    const { response, dialog } = await call.result;
    assert.is(response.status, 200);
    await accepted;
    assert.match(header(call.request!, 'contact')!, /;transport=tcp>$/);
    assert.is(server.stats.accepted, 1);
    // Bob hangs up: his BYE goes to alice's Contact, which is her connection's own port.
    const ended = new Promise<string>((resolve) => dialog!.onEnd(resolve));
    const bye = await bob.bye(bobDialog!);
    assert.is(bye.status, 200);
    assert.is(await ended, 'bye-received');
    assert.is(server.stats.accepted, 1, 'no second connection: the BYE went back over alice\'s');
  } finally {
    await alice.close();
    await bob.close();
  }
});

test.run();
