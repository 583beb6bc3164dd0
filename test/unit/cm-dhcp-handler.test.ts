/**
 * The companion's DHCP handler with a real SQLite lease table and virtual time, no socket:
 * REQUEST states (RFC 2131 §4.3.2), DECLINE, INFORM, RELEASE, the offer hold, the per-client
 * rate limit, malformed input logged once a minute per source — and, over random messages,
 * that nothing a client sends makes it throw. `serve` does what the service does around the
 * handler (group-commit.ts): commit what is queued before an ACK may be sent.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from '../../src/common/clock.ts';
import { buildConfig } from '../../src/cm/config.ts';
import { CompanionDb } from '../../src/cm/db.ts';
import { DECLINE_HOLD_MS, OFFER_HOLD_MS } from '../../src/cm/dhcp/address-pool.ts';
import { DhcpHandler, type DhcpLogEntry, type Outgoing, clientStormLog, newCounters } from '../../src/cm/dhcp/handler.ts';
import { CLIENT_LINES_PER_SECOND } from '../../src/cm/storm-log.ts';
import { type ClientRequest, decideRequest, requestState } from '../../src/cm/dhcp/request.ts';
import { type DhcpMessage, DhcpMessageType, DhcpOption, decodeDhcp, encodeDhcp, ipListOption } from '../../src/wire/dhcp.ts';

/** A fixed seed: the walks below must reach every kind of answer, every run (as in fuzz-codecs). */
const SEED = 0x5e91;

const { DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM } = DhcpMessageType;
const SELF = '10.20.0.1';
const cfg = buildConfig({}, { address: SELF, prefix: 24 });

interface Ctx { dir: string; db: CompanionDb; clock: VirtualClock; log: DhcpLogEntry[]; counters: ReturnType<typeof newCounters>; h: DhcpHandler }
const t = suite<Ctx>('DHCP handler');

t.before.each(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), 'sepi-cm-dhcp-'));
  ctx.db = new CompanionDb(ctx.dir);
  ctx.clock = new VirtualClock();
  ctx.log = [];
  ctx.counters = newCounters();
  ctx.h = new DhcpHandler({ db: ctx.db, config: cfg, clock: ctx.clock, log: (e) => ctx.log.push(e), counters: ctx.counters });
});

t.after.each(async (ctx) => {
  try {
    ctx.db.close();
  } catch {
    // closed by the test
  }
  await rm(ctx.dir, { recursive: true, force: true });
});

const mac = (n: number) => Uint8Array.of(0, 0x11, 0x22, 0x33, 0x44, n);
const hex = (n: number) => Buffer.from(mac(n)).toString('hex').toUpperCase();

function msg(type: number, n: number, o: { requested?: string; serverId?: string; ciaddr?: string; giaddr?: string; extra?: Array<[number, Uint8Array]> } = {}): Buffer {
  const options = new Map<number, Uint8Array>([[DhcpOption.MESSAGE_TYPE, Uint8Array.of(type)]]);
  if (o.requested) options.set(DhcpOption.REQUESTED_IP, ipListOption([o.requested]));
  if (o.serverId) options.set(DhcpOption.SERVER_ID, ipListOption([o.serverId]));
  for (const [code, v] of o.extra ?? []) options.set(code, v);
  const m: DhcpMessage = {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: 0x5000 + n, secs: 0, flags: 0, ciaddr: o.ciaddr ?? '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0',
    giaddr: o.giaddr ?? '0.0.0.0', chaddr: mac(n), sname: '', file: '', options,
  };
  return encodeDhcp(m);
}

function reply(out: Outgoing | undefined): DhcpMessage & { type: number } {
  assert.ok(out, 'a reply');
  const d = decodeDhcp(out!.bytes);
  if (!d.ok) throw d.error;
  return { ...d.value, type: d.value.options.get(53)![0]! };
}

/** One datagram as the service handles it: what it changed committed before its reply leaves. */
function serve(h: DhcpHandler, bytes: Uint8Array, from: string): Outgoing | undefined {
  const out = h.handle(bytes, from);
  if (h.pendingWrites > 0 || out?.afterCommit) assert.ok(h.commit(), 'committed');
  return out;
}

/** DISCOVER then REQUEST (SELECTING): the bound address. */
function bind(h: DhcpHandler, n: number): string {
  const offered = reply(serve(h, msg(DISCOVER, n), '0.0.0.0')).yiaddr;
  const ack = reply(serve(h, msg(REQUEST, n, { requested: offered, serverId: SELF }), '0.0.0.0'));
  assert.is(ack.type, ACK);
  return ack.yiaddr;
}

t('REQUEST states are told apart by server id, requested address, ciaddr (and giaddr)', () => {
  const z = '0.0.0.0';
  assert.is(requestState({ serverId: SELF, requested: '10.20.0.100', ciaddr: z, giaddr: z }), 'SELECTING');
  assert.is(requestState({ serverId: undefined, requested: '10.20.0.100', ciaddr: z, giaddr: z }), 'INIT-REBOOT');
  assert.is(requestState({ serverId: undefined, requested: undefined, ciaddr: '10.20.0.100', giaddr: z }), 'RENEWING');
  assert.is(requestState({ serverId: undefined, requested: undefined, ciaddr: '10.20.0.100', giaddr: '10.20.0.254' }), 'REBINDING');
  const r = (o: Partial<ClientRequest>) => ({ serverId: undefined, requested: undefined, ciaddr: z, giaddr: z, ...o }) as ClientRequest;
  assert.equal(decideRequest(r({ serverId: '10.20.0.9', requested: '10.20.0.100' }), SELF, '10.20.0.100'), { kind: 'ignore', why: 'REQUEST for server 10.20.0.9', dropHold: true });
  assert.is(decideRequest(r({ serverId: SELF, requested: '10.20.0.100' }), SELF, '10.20.0.100').kind, 'ack');
  assert.is(decideRequest(r({ requested: '10.20.0.150' }), SELF, '10.20.0.100').kind, 'nak');
  assert.is(decideRequest(r({ ciaddr: '10.20.0.100' }), SELF, '10.20.0.100').kind, 'ack');
  assert.is(decideRequest(r({ ciaddr: '10.20.0.150' }), SELF, '10.20.0.100').kind, 'nak');
  assert.is(decideRequest(r({ requested: '10.20.0.100' }), SELF, undefined).kind, 'nak');
});

t('SELECTING, INIT-REBOOT, RENEWING: ACK, sent only after the commit that saves the lease; a wrong address is NAKed', ({ h, db, log }) => {
  const offer = reply(h.handle(msg(DISCOVER, 1), '0.0.0.0'));
  assert.is(offer.type, OFFER);
  assert.is(offer.yiaddr, '10.20.0.100');
  assert.is(h.pendingWrites, 0, 'an offer writes nothing');
  assert.is(db.lease(hex(1)), undefined);
  const out = h.handle(msg(REQUEST, 1, { requested: '10.20.0.100', serverId: SELF }), '0.0.0.0');
  assert.is(out?.afterCommit, true, 'the ACK waits for the commit');
  assert.is(h.pendingWrites, 1);
  assert.is(db.lease(hex(1)), undefined, 'not on disk before the commit');
  assert.ok(h.commit());
  assert.is(db.lease(hex(1))?.state, 'bound', 'on disk after it');
  assert.is(reply(out).type, ACK);
  assert.equal({ address: out!.address, port: out!.port }, { address: '255.255.255.255', port: 68 });
  assert.is(reply(serve(h, msg(REQUEST, 1, { requested: '10.20.0.100' }), '0.0.0.0')).type, ACK, 'INIT-REBOOT');
  const renew = serve(h, msg(REQUEST, 1, { ciaddr: '10.20.0.100' }), '10.20.0.100');
  assert.equal({ type: reply(renew).type, ciaddr: reply(renew).ciaddr, to: renew!.address, port: renew!.port }, { type: ACK, ciaddr: '10.20.0.100', to: '10.20.0.100', port: 68 });
  const nak = h.handle(msg(REQUEST, 1, { requested: '10.20.0.150' }), '0.0.0.0');
  assert.is(nak?.afterCommit, undefined, 'a NAK goes at once');
  assert.is(reply(nak).type, NAK);
  assert.is(nak!.address, '255.255.255.255');
  assert.is(Buffer.from(reply(nak).options.get(56)!).toString(), 'requested address not available');
  assert.ok(log.some((e) => e.type === 'nak' && e.address === '10.20.0.150' && /address is 10\.20\.0\.100; INIT-REBOOT/.test(e.detail ?? '')));
  assert.equal(log.filter((e) => e.type === 'ack').map((e) => e.detail), ['SELECTING', 'INIT-REBOOT', 'RENEWING']);
});

t('offers are held 60 s; a REQUEST for another server frees the hold at once', async ({ h, clock }) => {
  assert.is(reply(h.handle(msg(DISCOVER, 1), '0.0.0.0')).yiaddr, '10.20.0.100');
  assert.is(reply(h.handle(msg(DISCOVER, 2), '0.0.0.0')).yiaddr, '10.20.0.101', 'held for the first client');
  assert.is(reply(h.handle(msg(DISCOVER, 1), '0.0.0.0')).yiaddr, '10.20.0.100', 'the same offer again');
  assert.is(h.handle(msg(REQUEST, 1, { requested: '10.20.0.100', serverId: '10.20.0.9' }), '0.0.0.0'), undefined);
  assert.is(reply(h.handle(msg(DISCOVER, 3), '0.0.0.0')).yiaddr, '10.20.0.100', 'freed by the choice of another server');
  await clock.advance(OFFER_HOLD_MS + 1);
  assert.is(reply(h.handle(msg(DISCOVER, 4), '0.0.0.0')).yiaddr, '10.20.0.100', 'holds run out');
});

t('DECLINE: the address is not offered to anyone for a while, and logged; only the client\'s own address may be declined', async ({ h, db, clock, log }) => {
  const a = bind(h, 1);
  assert.is(serve(h, msg(DECLINE, 1, { requested: '10.20.0.150', serverId: SELF }), '0.0.0.0'), undefined);
  assert.ok(log.some((e) => e.type === 'ignored' && /DECLINE of 10\.20\.0\.150, not an address given/.test(e.detail ?? '')));
  assert.is(serve(h, msg(DECLINE, 1, { requested: a, serverId: '10.20.0.9' }), '0.0.0.0'), undefined);
  assert.is(db.lease(hex(1))?.state, 'bound', 'a DECLINE for another server changes nothing');
  assert.is(serve(h, msg(DECLINE, 1, { requested: a, serverId: SELF }), '0.0.0.0'), undefined);
  assert.ok(log.some((e) => e.type === 'decline' && e.address === a && e.mac === hex(1)));
  assert.is(db.lease(hex(1))?.state, 'released');
  assert.is.not(reply(serve(h, msg(DISCOVER, 1), '0.0.0.0')).yiaddr, a, 'not offered back to the client');
  assert.is.not(reply(serve(h, msg(DISCOVER, 2), '0.0.0.0')).yiaddr, a, 'nor to another');
  // A declined offer (never bound) is also taken out.
  const offered = reply(serve(h, msg(DISCOVER, 3), '0.0.0.0')).yiaddr;
  serve(h, msg(DECLINE, 3, { requested: offered, serverId: SELF }), '0.0.0.0');
  assert.is.not(reply(serve(h, msg(DISCOVER, 3), '0.0.0.0')).yiaddr, offered);
  await clock.advance(DECLINE_HOLD_MS + OFFER_HOLD_MS);
  // The released lease is still client 1's first choice; free addresses go to others first.
  assert.is.not(reply(serve(h, msg(DISCOVER, 4), '0.0.0.0')).yiaddr, a, 'a free address first');
  assert.is(reply(serve(h, msg(DISCOVER, 1), '0.0.0.0')).yiaddr, a, 'back to its client after the hold');
});

t('INFORM: an ACK with the options, no yiaddr and no lease time, unicast to ciaddr; refused without ciaddr or off our network', ({ h, db }) => {
  const out = h.handle(msg(INFORM, 5, { ciaddr: '10.20.0.42', extra: [[DhcpOption.PARAMETER_LIST, Uint8Array.of(150, 1)]] }), '10.20.0.42');
  const m = reply(out);
  assert.is(m.type, ACK);
  assert.is(m.yiaddr, '0.0.0.0');
  assert.is(m.ciaddr, '10.20.0.42');
  assert.equal([...m.options.keys()], [53, 54, 150, 1, 3, 6, 66]);
  assert.equal({ address: out!.address, port: out!.port }, { address: '10.20.0.42', port: 68 });
  assert.is(db.lease(hex(5)), undefined, 'no lease for an INFORM');
  assert.is(h.handle(msg(INFORM, 5), '0.0.0.0'), undefined);
  assert.is(h.handle(msg(INFORM, 5, { ciaddr: '192.0.2.9' }), '192.0.2.9'), undefined);
});

t('RELEASE marks the lease released; a relay off the pool\'s network is not served', ({ h, db, log }) => {
  const a = bind(h, 6);
  serve(h, msg(RELEASE, 6, { ciaddr: a, serverId: SELF }), a);
  assert.is(db.lease(hex(6))?.state, 'released');
  assert.ok(log.some((e) => e.type === 'release' && e.address === a && !e.detail));
  assert.is(h.handle(msg(DISCOVER, 7, { giaddr: '192.0.2.1' }), '192.0.2.1'), undefined);
  assert.ok(log.some((e) => e.type === 'ignored' && /relay 192\.0\.2\.1 is not on the pool's network/.test(e.detail ?? '')));
  const relayed = h.handle(msg(DISCOVER, 7, { giaddr: '10.20.0.254' }), '10.20.0.254');
  assert.equal({ address: relayed!.address, port: relayed!.port }, { address: '10.20.0.254', port: 67 });
});

t('more than 10 messages a second from one MAC are dropped, with one log line per burst', async ({ h, clock, log, counters }) => {
  const answered = () => Array.from({ length: 30 }, () => h.handle(msg(DISCOVER, 8), '0.0.0.0')).filter(Boolean).length;
  assert.is(answered(), 10);
  assert.is(counters.rateLimited, 20);
  assert.is(reply(h.handle(msg(DISCOVER, 9), '0.0.0.0')).type, OFFER, 'another MAC is not affected');
  await clock.advance(1000);
  assert.is(answered(), 10, 'the burst goes on');
  assert.is(log.filter((e) => e.type === 'rate-limit').length, 1, 'one line while the burst goes on');
  await clock.advance(5000);
  h.handle(msg(DISCOVER, 8), '0.0.0.0');
  await clock.advance(5000);
  answered();
  assert.is(log.filter((e) => e.type === 'rate-limit').length, 2, 'a new burst, a new line');
});

t('malformed messages: counted, logged once a minute per source with the codec\'s words and a count', async ({ h, clock, log, counters }) => {
  const good = msg(DISCOVER, 10);
  for (let i = 0; i < 50; i++) assert.is(h.handle(good.subarray(0, 200), '10.0.0.9'), undefined);
  h.handle(good.subarray(0, 100), '10.0.0.8');
  assert.is(counters.malformed, 51);
  let lines = log.filter((e) => e.type === 'malformed');
  assert.equal(lines.map((e) => e.detail), [
    'malformed DHCP from 10.0.0.9: message of 200 bytes is shorter than 240 (at 0) (1 so far)',
    'malformed DHCP from 10.0.0.8: message of 100 bytes is shorter than 240 (at 0) (1 so far)',
  ]);
  await clock.advance(60_000);
  h.handle(Buffer.from('not dhcp'), '10.0.0.9');
  lines = log.filter((e) => e.type === 'malformed');
  assert.is(lines.length, 3);
  assert.match(lines[2]!.detail!, /^malformed DHCP from 10\.0\.0\.9: .* \(51 so far\)$/);
  assert.is(lines[2]!.from, '10.0.0.9');
  assert.is(lines[2]!.count, 51);
  // Other kinds of nonsense: a server's own message, a non-Ethernet client, a bad option 50.
  const offer = msg(OFFER, 11);
  assert.is(h.handle(offer, '10.0.0.7'), undefined);
  assert.is(h.handle(msg(DISCOVER, 11, { extra: [[DhcpOption.REQUESTED_IP, Uint8Array.of(1, 2, 3)]] }), '10.0.0.6'), undefined);
  assert.match(log.at(-1)!.detail!, /option 50 has 3 bytes/);
  assert.is(counters.malformed, 54);
});

t('the database gone: offers still come from memory; a failed commit is counted and logged, and reported so its ACKs stay unsent', ({ h, db, log, counters }) => {
  db.close();
  const offered = reply(h.handle(msg(DISCOVER, 12), '10.0.0.5')).yiaddr;
  for (const n of [12, 12]) {
    const ack = h.handle(msg(REQUEST, n, { requested: offered, serverId: SELF }), '10.0.0.5');
    assert.is(ack?.afterCommit, true);
    assert.is(h.commit(), false, 'the commit failed: the ACK must not go');
  }
  assert.is(counters.failed, 2);
  const errors = log.filter((e) => e.type === 'error');
  assert.is(errors.length, 1, 'once a minute');
  assert.match(errors[0]!.detail!, /^writing leases failed: .* \(1 so far\)$/);
});

t('a storm of per-client lines: 200 a second are written, the rest counted by kind in one line a second', async ({ clock }) => {
  const lines: DhcpLogEntry[] = [];
  const storm = clientStormLog((e) => lines.push(e), clock);
  for (let i = 0; i < CLIENT_LINES_PER_SECOND + 150; i++) {
    const type = i % 2 ? 'ack' : 'discover';
    storm.entry(type, { type, mac: hex(i % 250) });
  }
  assert.is(lines.length, CLIENT_LINES_PER_SECOND, 'the budget, then nothing');
  await clock.advance(1000);
  assert.is(lines.length, CLIENT_LINES_PER_SECOND + 1, 'the summary comes at the end of the second, storm or not');
  assert.equal(lines.at(-1), { type: 'note', mac: '', detail: 'storm: 150 per-client lines held back over 1 s (75 discover, 75 ack); more than 200 a second' });
  storm.entry('ack', { type: 'ack', mac: hex(1) });
  assert.is(lines.at(-1)!.type, 'ack', 'a new second, lines again');
  await clock.advance(5000);
  assert.is(lines.length, CLIENT_LINES_PER_SECOND + 2, 'no summary when nothing was held back');
});

t('peer strings reach the log as data, control characters and all', ({ h, log }) => {
  const vendor = 'Cisco Systems, Inc. IP Phone CP-8841\ndhcp ack FAKE 10.0.0.1';
  h.handle(msg(DISCOVER, 13, { extra: [[DhcpOption.VENDOR_CLASS, Buffer.from(`${vendor}\0`, 'latin1')], [DhcpOption.HOST_NAME, Buffer.from('SEP\x1b[2J', 'latin1')]] }), '0.0.0.0');
  const e = log.find((x) => x.type === 'discover')!;
  assert.is(e.vendorClass, vendor);
  assert.is(e.hostName, 'SEP\x1b[2J');
});

// ---- properties --------------------------------------------------------------------------------

const address = fc.constantFrom('0.0.0.0', '10.20.0.100', '10.20.0.101', '10.20.0.1', '10.20.0.254', '192.0.2.1', '255.255.255.255');
const optionValue = fc.uint8Array({ maxLength: 300 });
/** Mostly what a client would send, now and then anything: so the walk gets past the checks. */
const mostly = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 9 }, { arbitrary: bad, weight: 1 });
const anAddress = mostly(address.map((a) => ipListOption([a])), optionValue);
const randomMessage = fc.record({
  op: mostly(fc.constant(1), fc.constant(2)), htype: mostly(fc.constant(1), fc.nat(255)), hlen: mostly(fc.constant(6), fc.constantFrom(0, 16)),
  hops: mostly(fc.constant(0), fc.nat(255)), xid: fc.nat(), flags: fc.constantFrom(0, 0x8000, 0xffff), ciaddr: address, giaddr: address,
  n: fc.integer({ min: 1, max: 4 }), type: mostly(fc.integer({ min: 1, max: 8 }), fc.nat(255)),
  serverId: fc.option(anAddress), requested: fc.option(anAddress), prl: fc.option(fc.uint8Array({ maxLength: 255 })),
  extra: fc.array(fc.tuple(mostly(fc.constantFrom(12, 57, 60, 61, 82), fc.integer({ min: 1, max: 254 })), optionValue), { maxLength: 4 }),
});

/** A clock moved by hand, a second a message, so the rate limit does not end the property's interest. */
function steppingHandler(ctx: Ctx): DhcpHandler {
  let now = Date.UTC(2026, 0, 1);
  const clock = { now: () => (now += 1000), sleep: () => Promise.resolve(), timer: () => () => {} };
  return new DhcpHandler({ db: ctx.db, config: cfg, clock, log: () => {}, counters: ctx.counters });
}

t('random requests: the handler never throws, and never fails inside (no exception caught)', (ctx) => {
  const { counters } = ctx;
  const h = steppingHandler(ctx);
  fc.assert(fc.property(fc.array(randomMessage, { minLength: 1, maxLength: 8 }), (list) => {
    for (const r of list) {
      const options = new Map<number, Uint8Array>();
      for (const [code, v] of r.extra) options.set(code, v);
      options.set(53, Uint8Array.of(r.type));
      if (r.serverId) options.set(54, r.serverId);
      if (r.requested) options.set(50, r.requested);
      if (r.prl) options.set(55, r.prl);
      const m: DhcpMessage = {
        op: r.op as 1 | 2, htype: r.htype, hlen: r.hlen, hops: r.hops, xid: r.xid, secs: 0, flags: r.flags, ciaddr: r.ciaddr, yiaddr: '0.0.0.0', siaddr: '0.0.0.0',
        giaddr: r.giaddr, chaddr: r.hlen === 6 ? mac(r.n) : new Uint8Array(r.hlen), sname: '', file: '', options,
      };
      const out = h.handle(encodeDhcp(m), '10.20.0.77');
      if (out) assert.ok(out.bytes.length <= 1472 && decodeDhcp(out.bytes).ok);
    }
    return counters.failed === 0;
  }), { numRuns: 300, seed: SEED });
  // The random walk reached every kind of answer, not only refusals.
  assert.ok(counters.offer > 0 && counters.ack > 0 && counters.nak > 0 && counters.malformed > 0, JSON.stringify(counters));
});

t('random and mutated bytes: never a throw, never an internal failure', (ctx) => {
  const { counters } = ctx;
  const h = steppingHandler(ctx);
  const valid = msg(REQUEST, 2, { requested: '10.20.0.100', serverId: SELF, extra: [[55, Uint8Array.of(1, 3, 6, 150)]] });
  fc.assert(fc.property(fc.oneof(
    fc.uint8Array({ maxLength: 1500 }),
    fc.array(fc.tuple(fc.nat(valid.length - 1), fc.nat(255)), { minLength: 1, maxLength: 20 }).map((edits) => {
      const b = Buffer.from(valid);
      for (const [at, v] of edits) b[at] = v;
      return b;
    }),
    fc.nat(valid.length).map((n) => valid.subarray(0, n)),
  ), (bytes) => {
    h.handle(bytes, '10.20.0.78');
    return counters.failed === 0;
  }), { numRuns: 500, seed: SEED });
  assert.ok(counters.ack + counters.nak > 0 && counters.malformed > 0, JSON.stringify(counters));
});

t.run();
