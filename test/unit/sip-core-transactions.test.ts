/**
 * The transaction layer on a VirtualClock over in-memory transports: the RFC 3261 §17 timers
 * counted message by message (Timer A doubling, B after 64*T1, E capped at T2 and T2 once
 * Proceeding, F, G and H on the server side, 100 Trying after 200 ms), retransmissions only
 * over unreliable transports, and matching (a retransmitted request absorbed, a response for an
 * unknown branch dropped, the ACK of a non-2xx built by the transaction with its branch).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VirtualClock } from '../../src/common/clock.ts';
import { type SipMessage, type SipRequest, type SipResponse, header, responseTo } from '../../src/wire/sip.ts';
import { MemoryNetwork, type MemoryPacket } from '../../src/sip/memory-transport.ts';
import { type SipDestination, type TransportKind, topVia } from '../../src/sip/message.ts';
import type { ServerTransaction } from '../../src/sip/server-transaction.ts';
import { TransactionLayer } from '../../src/sip/transaction-layer.ts';
import { type SipSource, TransportSet } from '../../src/sip/transport.ts';

const US = '10.0.0.1';
const PEER = '10.0.0.2';

/** One layer (ours) and one bare peer transport that records what it gets and answers by hand. */
function setup(kind: TransportKind = 'UDP') {
  const clock = new VirtualClock();
  const start = clock.now();
  const net = new MemoryNetwork();
  const ours = net.transport(kind, US, 5060);
  const peer = net.transport(kind, PEER, 5060);
  const drops: string[] = [];
  const layer = new TransactionLayer({ transports: new TransportSet([ours]), clock, onDrop: (d) => drops.push(d.reason) });
  const atPeer: Array<{ m: SipMessage; at: number }> = [];
  const atUs: Array<{ m: SipMessage; at: number }> = [];
  peer.onMessage((m) => atPeer.push({ m, at: clock.now() - start }));
  net.lose = (p: MemoryPacket) => {
    if (p.to.host === US) atUs.push({ m: p.message, at: clock.now() - start });
    return false;
  };
  const toPeer: SipDestination = { transport: kind, host: PEER, port: 5060 };
  const toUs: SipDestination = { transport: kind, host: US, port: 5060 };
  /** Advance to `ms` after the start. */
  const at = (ms: number) => clock.advance(start + ms - clock.now());
  return { clock, net, ours, peer, layer, atPeer, atUs, toPeer, toUs, at, drops };
}

let n = 0;
function request(method: string, branch = `z9hG4bKt${++n}`, extra: Array<[string, string]> = []): SipRequest {
  return {
    kind: 'request', method, uri: `sip:bob@${PEER}`,
    headers: [
      ['Via', `SIP/2.0/UDP ${PEER}:5060;branch=${branch};rport`],
      ['Max-Forwards', '70'],
      ['From', `<sip:alice@${US}>;tag=a1`],
      ['To', `<sip:bob@${PEER}>`],
      ['Call-ID', `call-${n}@test`],
      ['CSeq', `1 ${method}`],
      ...extra,
    ],
    body: new Uint8Array(),
  };
}
/** Our request, without a Via: the layer adds one with a fresh branch. */
const ourRequest = (method: string): SipRequest => ({ ...request(method), headers: request(method).headers.filter(([h]) => h !== 'Via') });

const isReq = (method: string) => (e: { m: SipMessage }) => e.m.kind === 'request' && e.m.method === method;
const isStatus = (status: number) => (e: { m: SipMessage }) => e.m.kind === 'response' && e.m.status === status;

function collector() {
  const responses: SipResponse[] = [];
  const failures: string[] = [];
  return { responses, failures, user: { onResponse: (r: SipResponse) => responses.push(r), onFailure: (k: string) => failures.push(k) } };
}

test('UDP INVITE with no answer: Timer A doubles each time (0.5, 1, 2, 4, 8, 16 s) and Timer B ends it at 64*T1', async () => {
  const s = setup('UDP');
  const c = collector();
  s.layer.sendRequest(ourRequest('INVITE'), s.toPeer, c.user);
  await s.at(31_999);
  const sends = s.atPeer.filter(isReq('INVITE')).map((e) => e.at);
  assert.equal(sends, [0, 500, 1500, 3500, 7500, 15500, 31500]);
  assert.equal(c.failures, []);
  await s.at(32_000);
  assert.equal(c.failures, ['timeout']);
  assert.is(s.layer.counts.clients, 0);
  await s.at(120_000);
  assert.is(s.atPeer.filter(isReq('INVITE')).length, 7, 'nothing after Timer B');
});

test('TCP INVITE is sent once, and Timer B still ends it', async () => {
  const s = setup('TCP');
  const c = collector();
  s.layer.sendRequest(ourRequest('INVITE'), s.toPeer, c.user);
  await s.at(31_999);
  assert.is(s.atPeer.filter(isReq('INVITE')).length, 1);
  await s.at(32_000);
  assert.equal(c.failures, ['timeout']);
});

test('T1, T2 and T4 are settable and every timer follows T1', async () => {
  const s = setup('UDP');
  const layer = new TransactionLayer({ transports: new TransportSet([s.net.transport('UDP', US, 5070)]), clock: s.clock, timers: { t1: 100, t2: 400 } });
  const c = collector();
  layer.sendRequest(ourRequest('INVITE'), s.toPeer, c.user);
  await s.at(6_399);
  assert.equal(s.atPeer.filter(isReq('INVITE')).map((e) => e.at), [0, 100, 300, 700, 1500, 3100, 6300]);
  await s.at(6_400);
  assert.equal(c.failures, ['timeout']);
});

test('a provisional stops INVITE retransmissions; the 200 passes up; a retransmitted 200 in Accepted passes up again (RFC 6026)', async () => {
  const s = setup('UDP');
  const c = collector();
  const tx = s.layer.sendRequest(ourRequest('INVITE'), s.toPeer, c.user);
  await s.at(600);
  const invite = s.atPeer.find(isReq('INVITE'))!.m as SipRequest;
  await s.peer.send(responseTo(invite, 180, [], undefined, 'b1'), s.toUs);
  await s.at(10_000);
  assert.is(s.atPeer.filter(isReq('INVITE')).length, 2, 'sent at 0 and 500 ms, then quiet');
  assert.is(tx.state, 'proceeding');
  await s.peer.send(responseTo(invite, 200, [], undefined, 'b1'), s.toUs);
  await s.at(10_001);
  assert.is(tx.state, 'accepted');
  await s.peer.send(responseTo(invite, 200, [], undefined, 'b1'), s.toUs);
  await s.at(10_002);
  assert.equal(c.responses.map((r) => r.status), [180, 200, 200]);
  assert.is(s.atPeer.filter(isReq('ACK')).length, 0, 'the ACK for a 2xx is the UA core\'s, not the transaction\'s');
  await s.at(10_002 + 32_000);
  assert.is(tx.state, 'terminated', 'Timer M');
});

test('a 486 to INVITE is ACKed by the transaction on the same branch, and again for each retransmitted 486 (Timer D)', async () => {
  const s = setup('UDP');
  const c = collector();
  s.layer.sendRequest(ourRequest('INVITE'), s.toPeer, c.user);
  await s.at(10);
  const invite = s.atPeer.find(isReq('INVITE'))!.m as SipRequest;
  const busy = responseTo(invite, 486, [], undefined, 'b2');
  await s.peer.send(busy, s.toUs);
  await s.at(20);
  await s.peer.send(busy, s.toUs);
  await s.at(30);
  const acks = s.atPeer.filter(isReq('ACK')).map((e) => e.m as SipRequest);
  assert.is(acks.length, 2);
  assert.is(topVia(acks[0]!)!.params['branch'], topVia(invite)!.params['branch']);
  assert.ok(/tag=b2/.test(header(acks[0]!, 'to')!));
  assert.is(header(acks[0]!, 'cseq'), '1 ACK');
  assert.equal(c.responses.map((r) => r.status), [486], 'the retransmission is not passed up');
  assert.is(s.layer.counts.clients, 1, 'Completed for Timer D');
  await s.at(30 + 32_000);
  assert.is(s.layer.counts.clients, 0);
});

test('over TCP a non-2xx final ends the INVITE transaction at once (Timer D is 0)', async () => {
  const s = setup('TCP');
  const c = collector();
  s.layer.sendRequest(ourRequest('INVITE'), s.toPeer, c.user);
  await s.at(10);
  const invite = s.atPeer.find(isReq('INVITE'))!.m as SipRequest;
  await s.peer.send(responseTo(invite, 603, [], undefined, 'b3'), s.toUs);
  await s.at(20);
  assert.is(s.atPeer.filter(isReq('ACK')).length, 1);
  assert.is(s.layer.counts.clients, 0);
});

test('UDP non-INVITE with no answer: Timer E doubles up to T2 (0.5, 1, 2, 4, 4, … s) and Timer F ends it', async () => {
  const s = setup('UDP');
  const c = collector();
  s.layer.sendRequest(ourRequest('OPTIONS'), s.toPeer, c.user);
  await s.at(31_999);
  assert.equal(s.atPeer.filter(isReq('OPTIONS')).map((e) => e.at), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  assert.equal(c.failures, []);
  await s.at(32_000);
  assert.equal(c.failures, ['timeout']);
});

test('non-INVITE after a provisional: Timer E is T2; F still ends it; a final before F completes it (Timer K)', async () => {
  const s = setup('UDP');
  const c = collector();
  s.layer.sendRequest(ourRequest('REGISTER'), s.toPeer, c.user);
  await s.at(1000);
  const reg = s.atPeer.find(isReq('REGISTER'))!.m as SipRequest;
  await s.peer.send(responseTo(reg, 100), s.toUs);
  await s.at(32_000);
  assert.equal(s.atPeer.filter(isReq('REGISTER')).map((e) => e.at), [0, 500, 1500, 5500, 9500, 13500, 17500, 21500, 25500, 29500]);
  assert.equal(c.failures, ['timeout']);
  assert.equal(c.responses.map((r) => r.status), [100]);

  const c2 = collector();
  const tx = s.layer.sendRequest(ourRequest('REGISTER'), s.toPeer, c2.user);
  await s.at(32_010);
  const reg2 = s.atPeer.filter(isReq('REGISTER')).at(-1)!.m as SipRequest;
  await s.peer.send(responseTo(reg2, 200, [], undefined, 'r'), s.toUs);
  await s.at(32_020);
  await s.peer.send(responseTo(reg2, 200, [], undefined, 'r'), s.toUs);
  await s.at(32_030);
  assert.equal(c2.responses.map((r) => r.status), [200], 'the retransmitted 200 is absorbed in Completed');
  assert.is(tx.state, 'completed');
  await s.at(32_020 + 5_000);
  assert.is(tx.state, 'terminated', 'Timer K = T4');
});

test('server INVITE: 100 Trying after 200 ms when the TU is silent, none when it answers sooner', async () => {
  const s = setup('UDP');
  const txs: ServerTransaction[] = [];
  s.layer.setUser({ onRequest: (tx) => txs.push(tx), onAck: () => {} });
  await s.peer.send(request('INVITE'), s.toUs);
  await s.at(199);
  assert.is(s.atPeer.filter(isStatus(100)).length, 0);
  await s.at(200);
  assert.is(s.atPeer.filter(isStatus(100)).length, 1);
  assert.not.ok(/tag=/.test(header(s.atPeer.find(isStatus(100))!.m, 'to')!), '100 Trying carries no To tag');

  await s.peer.send(request('INVITE'), s.toUs);
  await s.at(250);
  txs[1]!.respond(responseTo(txs[1]!.request, 180, [], undefined, 'x'));
  await s.at(1000);
  assert.is(s.atPeer.filter(isStatus(100)).length, 1, 'no second 100: the TU sent a 180 in time');
});

test('server INVITE over UDP: Timer G resends the 486 (0.5, 1, 2, 4, 4, … s) until Timer H gives up', async () => {
  const s = setup('UDP');
  const ends: string[] = [];
  s.layer.setUser({
    onRequest: (tx) => {
      tx.onEnd((why) => ends.push(why));
      tx.respond(responseTo(tx.request, 486, [], undefined, 'u1'));
    },
    onAck: () => {},
  });
  await s.peer.send(request('INVITE'), s.toUs);
  await s.at(31_999);
  assert.equal(s.atPeer.filter(isStatus(486)).map((e) => e.at), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  assert.equal(ends, []);
  await s.at(32_000);
  assert.equal(ends, ['no-ack']);
  assert.is(s.layer.counts.servers, 0);
});

test('server INVITE: the ACK stops Timer G, Confirmed absorbs more ACKs, Timer I ends it', async () => {
  const s = setup('UDP');
  const ends: string[] = [];
  const acksToTu: SipRequest[] = [];
  s.layer.setUser({
    onRequest: (tx) => {
      tx.onEnd((why) => ends.push(why));
      tx.respond(responseTo(tx.request, 480, [], undefined, 'u2'));
    },
    onAck: (ack) => acksToTu.push(ack),
  });
  const invite = request('INVITE');
  await s.peer.send(invite, s.toUs);
  await s.at(2000);
  const ack: SipRequest = { ...invite, method: 'ACK', headers: invite.headers.map(([h, v]) => [h, h === 'CSeq' ? '1 ACK' : h === 'To' ? `${v};tag=u2` : v]) };
  await s.peer.send(ack, s.toUs);
  await s.at(2001);
  await s.peer.send(ack, s.toUs);
  await s.at(6999);
  assert.equal(s.atPeer.filter(isStatus(480)).map((e) => e.at), [0, 500, 1500]);
  assert.equal(acksToTu, [], 'ACKs of a non-2xx stay in the transaction');
  assert.is(s.layer.counts.servers, 1);
  await s.at(2001 + 5000);
  assert.is(s.layer.counts.servers, 0);
  assert.equal(ends, ['normal']);
});

test('server INVITE over TCP: the final response is sent once, Timer H still waits for the ACK', async () => {
  const s = setup('TCP');
  const ends: string[] = [];
  s.layer.setUser({ onRequest: (tx) => (tx.onEnd((w) => ends.push(w)), tx.respond(responseTo(tx.request, 486, [], undefined, 't'))), onAck: () => {} });
  await s.peer.send(request('INVITE'), s.toUs);
  await s.at(32_000);
  assert.is(s.atPeer.filter(isStatus(486)).length, 1);
  assert.equal(ends, ['no-ack']);
});

test('a retransmitted request is absorbed: the TU sees it once, the peer gets the last response again', async () => {
  const s = setup('UDP');
  const seen: SipRequest[] = [];
  s.layer.setUser({ onRequest: (tx) => (seen.push(tx.request), tx.method === 'INVITE' ? tx.respond(responseTo(tx.request, 180, [], undefined, 'r1')) : undefined), onAck: () => {} });
  const invite = request('INVITE');
  await s.peer.send(invite, s.toUs);
  await s.at(10);
  await s.peer.send(invite, s.toUs);
  await s.at(20);
  assert.is(seen.length, 1);
  assert.is(s.atPeer.filter(isStatus(180)).length, 2);
  assert.is(s.layer.stats.retransmissionsAbsorbed, 1);
  // A non-INVITE retransmitted before the TU answered (Trying) is dropped quietly.
  const options = request('OPTIONS');
  await s.peer.send(options, s.toUs);
  await s.peer.send(options, s.toUs);
  await s.at(30);
  assert.is(seen.length, 2);
  assert.is(s.atPeer.filter((e) => e.m.kind === 'response' && header(e.m, 'cseq') === '1 OPTIONS').length, 0);
});

test('the same branch from another sent-by, or with another method, is another transaction (§17.2.3)', async () => {
  const s = setup('UDP');
  const seen: string[] = [];
  s.layer.setUser({ onRequest: (tx) => seen.push(tx.method), onAck: () => {} });
  const other = s.net.transport('UDP', '10.0.0.3', 5060);
  const invite = request('INVITE', 'z9hG4bKsame');
  await s.peer.send(invite, s.toUs);
  await other.send(invite, s.toUs);
  const cancel: SipRequest = { ...invite, method: 'CANCEL', headers: invite.headers.map(([h, v]) => [h, h === 'CSeq' ? '1 CANCEL' : v]) };
  await s.peer.send(cancel, s.toUs);
  await s.at(10);
  assert.equal(seen, ['INVITE', 'INVITE', 'CANCEL']);
  assert.is(s.layer.counts.servers, 3);
  // The CANCEL finds its INVITE by branch and sent-by: the peer's, not the other host's.
  assert.is(s.layer.findInvite(cancel)?.source.host, PEER);
});

test('a response to an unknown branch, or to the right branch with another method, is dropped', async () => {
  const s = setup('UDP');
  const c = collector();
  s.layer.sendRequest(ourRequest('OPTIONS'), s.toPeer, c.user);
  await s.at(10);
  const sent = s.atPeer.find(isReq('OPTIONS'))!.m as SipRequest;
  const stray = responseTo({ ...sent, headers: sent.headers.map(([h, v]) => [h, h === 'Via' ? v.replace(/branch=[^;]+/, 'branch=z9hG4bKnobody') : v]) }, 200);
  await s.peer.send(stray, s.toUs);
  const wrongMethod = { ...responseTo(sent, 200), headers: responseTo(sent, 200).headers.map(([h, v]): [string, string] => [h, h === 'CSeq' ? '1 INVITE' : v]) };
  await s.peer.send(wrongMethod, s.toUs);
  await s.at(20);
  assert.equal(c.responses, []);
  assert.is(s.layer.stats.strayResponses, 2);
  assert.ok(s.drops.some((d) => /matches no transaction/.test(d)));
  await s.peer.send(responseTo(sent, 200), s.toUs);
  await s.at(30);
  assert.equal(c.responses.map((r) => r.status), [200]);
});

test('a request whose CSeq method is not its own gets a stateless 400; an ACK without a transaction goes to the TU', async () => {
  const s = setup('UDP');
  const acks: SipRequest[] = [];
  const seen: SipRequest[] = [];
  s.layer.setUser({ onRequest: (tx) => seen.push(tx.request), onAck: (a: SipRequest, _from: SipSource) => acks.push(a) });
  const bad = request('BYE');
  await s.peer.send({ ...bad, headers: bad.headers.map(([h, v]) => [h, h === 'CSeq' ? '1 INVITE' : v]) }, s.toUs);
  await s.peer.send(request('ACK'), s.toUs);
  await s.at(10);
  assert.is(seen.length, 0);
  assert.is(s.atPeer.filter(isStatus(400)).length, 1);
  assert.is(acks.length, 1);
});

test('server Via handling: received and rport are stamped, and the response goes to them', async () => {
  const s = setup('UDP');
  let got: SipRequest | undefined;
  s.layer.setUser({ onRequest: (tx) => ((got = tx.request), tx.respond(responseTo(tx.request, 200, [], undefined, 'v'))), onAck: () => {} });
  // A peer behind a NAT: its Via says 192.168.1.9:5062, it really is 10.0.0.2:5060 on the wire.
  const natted = s.net.transport('UDP', '10.0.0.2', 40000);
  const heard: SipMessage[] = [];
  natted.onMessage((m) => heard.push(m));
  const req = request('OPTIONS');
  // The memory transport stamps its own sent-by like any transport; overwrite it to look NATed.
  const raw = { ...req, headers: req.headers.map(([h, v]): [string, string] => [h, h === 'Via' ? 'SIP/2.0/UDP 192.168.1.9:5062;branch=z9hG4bKnat;rport' : v]) };
  s.net.carry({ from: { transport: 'UDP', host: '10.0.0.2', port: 40000 }, to: s.toUs, message: raw });
  await s.at(10);
  const via = topVia(got!)!;
  assert.is(via.params['received'], '10.0.0.2');
  assert.is(via.params['rport'], '40000');
  assert.is(heard.length, 1, 'the 200 went to received:rport, not to the Via\'s 192.168.1.9:5062');
});

test.run();
