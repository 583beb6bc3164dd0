/**
 * The companion's DHCP replies, built without a socket: which options go out and in what order
 * (option 55 orders, never fails), how big a reply may get (576 bytes unless option 57 says
 * more, never past one Ethernet frame), T1/T2, the echoed 61 and 82, and where each reply goes
 * (RFC 2131 §4.1).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { buildConfig } from '../../src/cm/config.ts';
import { type ReplySpec, buildReply, leaseTimes, replyDestination, replyLimit, serverParameters } from '../../src/cm/dhcp/reply.ts';
import { type ClientRequest, readClientRequest } from '../../src/cm/dhcp/request.ts';
import {
  BROADCAST_FLAG, type DhcpMessage, DhcpMessageType, DhcpOption, decodeDhcp, encodeDhcp, readU32,
} from '../../src/wire/dhcp.ts';

const cfg = buildConfig({ dhcp: { domain: 'lab.example' } }, { address: '10.20.0.1', prefix: 24 });
const onNet = (ip: string) => ip.startsWith('10.20.0.');

function request(o: { options?: Array<[number, Uint8Array]>; giaddr?: string; ciaddr?: string; flags?: number; type?: number } = {}): ClientRequest {
  const options = new Map<number, Uint8Array>([[DhcpOption.MESSAGE_TYPE, Uint8Array.of(o.type ?? DhcpMessageType.DISCOVER)], ...(o.options ?? [])]);
  const m: DhcpMessage = {
    op: 1, htype: 1, hlen: 6, hops: o.giaddr ? 1 : 0, xid: 0x1234, secs: 0, flags: o.flags ?? 0,
    ciaddr: o.ciaddr ?? '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: o.giaddr ?? '0.0.0.0',
    chaddr: Uint8Array.of(0, 0x11, 0x22, 0x33, 0x44, 0x55), sname: '', file: '', options,
  };
  const r = readClientRequest(encodeDhcp(m));
  if (!r.ok) throw r.error;
  return r.value;
}

const offer = (config = cfg): ReplySpec => ({
  type: DhcpMessageType.OFFER, yiaddr: '10.20.0.100', ciaddr: '0.0.0.0', siaddr: config.address, serverId: config.address,
  parameters: serverParameters(config, true), required: new Set([DhcpOption.LEASE_TIME]),
});

function decoded(b: Buffer | undefined): DhcpMessage {
  assert.ok(b, 'a reply was built');
  const d = decodeDhcp(b!);
  if (!d.ok) throw d.error;
  return d.value;
}

const u16 = (n: number) => Uint8Array.of(n >> 8, n & 0xff);

test('without option 55: type, server id, lease times, then mask, router, DNS, domain, 66, 150', () => {
  const m = decoded(buildReply(request(), offer()));
  assert.equal([...m.options.keys()], [53, 54, 51, 58, 59, 1, 3, 6, 15, 66, 150]);
  assert.is(m.op, 2);
  assert.is(m.yiaddr, '10.20.0.100');
  assert.is(m.siaddr, '10.20.0.1');
  assert.is(m.xid, 0x1234);
  assert.equal([...m.options.get(150)!], [10, 20, 0, 1]);
  assert.is(Buffer.from(m.options.get(15)!).toString(), 'lab.example');
});

test('T1 is half the lease and T2 seven eighths, rounded down', () => {
  assert.equal(leaseTimes(3600), { t1: 1800, t2: 3150 });
  assert.equal(leaseTimes(7201), { t1: 3600, t2: 6300 });
  const c = buildConfig({ dhcp: { leaseSecs: 120 } }, { address: '10.20.0.1', prefix: 24 });
  const m = decoded(buildReply(request(), offer(c)));
  assert.equal([51, 58, 59].map((code) => { const v = readU32(m, code); return v.ok ? v.value : -1; }), [120, 60, 105]);
});

test('option 55 puts the listed options first, in its order; the rest follow in ours', () => {
  const m = decoded(buildReply(request({ options: [[DhcpOption.PARAMETER_LIST, Uint8Array.of(150, 66, 1, 35, 150)]] }), offer()));
  assert.equal([...m.options.keys()], [53, 54, 150, 66, 1, 51, 58, 59, 3, 6, 15]);
});

test('option 55 listing codes the server has no value for (the ones that crashed the npm package) changes nothing', () => {
  const plain = decoded(buildReply(request(), offer()));
  const odd = decoded(buildReply(request({ options: [[DhcpOption.PARAMETER_LIST, Uint8Array.of(50, 52, 53, 55, 56, 60, 61, 80, 116, 145, 0, 255)]] }), offer()));
  assert.equal([...odd.options.keys()], [...plain.options.keys()]);
});

test('any option 55 at all: the reply is built, carries 53, 54 and 51, and fits 548 bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 255 }), (list) => {
    const b = buildReply(request({ options: [[DhcpOption.PARAMETER_LIST, list]] }), offer());
    const m = decoded(b);
    return b!.length <= 548 && m.options.has(53) && m.options.has(54) && m.options.has(51);
  }));
});

test('a reply fits 576 bytes of IP unless option 57 allows more, and never more than one Ethernet frame', () => {
  assert.is(replyLimit(undefined), 548);
  assert.is(replyLimit(576), 548);
  assert.is(replyLimit(1000), 972);
  assert.is(replyLimit(9000), 1472);
  const many = (n: number, base: number) => Array.from({ length: n }, (_, i) => `10.${base}.${i >> 8}.${(i & 255) + 1}`);
  const big = buildConfig({ dhcp: { dns: many(60, 30), option150: many(60, 40) } }, { address: '10.20.0.1', prefix: 24 });
  const small = buildReply(request(), offer(big))!;
  assert.ok(small.length <= 548, `${small.length} bytes`);
  const sm = decoded(small);
  assert.ok(sm.options.has(51) && sm.options.has(3), 'lease time and the early options are kept');
  assert.not.ok(sm.options.has(150), 'the 240-byte option 150 did not fit after the 240-byte DNS list');
  // The client lists 150: it wins the room over DNS.
  const asked = decoded(buildReply(request({ options: [[DhcpOption.PARAMETER_LIST, Uint8Array.of(150)]] }), offer(big)));
  assert.ok(asked.options.has(150) && !asked.options.has(6));
  // Option 57 allows a full frame: everything goes.
  const roomy = buildReply(request({ options: [[DhcpOption.MAX_MESSAGE_SIZE, u16(1500)]] }), offer(big))!;
  assert.ok(roomy.length > 548 && roomy.length <= 1472, `${roomy.length} bytes`);
  assert.ok(decoded(roomy).options.has(150) && decoded(roomy).options.has(6));
  // An option 57 below 576 (or not two bytes) is not believed.
  const tiny = buildReply(request({ options: [[DhcpOption.MAX_MESSAGE_SIZE, u16(300)]] }), offer(big))!;
  assert.is(tiny.length, small.length);
});

test('61 is echoed, and a relay\'s 82 comes back last; a reply that cannot carry them is not built', () => {
  const id = Uint8Array.of(1, 0, 0x11, 0x22, 0x33, 0x44, 0x55);
  const agent = Uint8Array.of(1, 4, 0x65, 0x74, 0x68, 0x31);
  const m = decoded(buildReply(request({ giaddr: '10.20.0.254', options: [[DhcpOption.CLIENT_ID, id], [82, agent]] }), offer()));
  assert.equal([...m.options.get(61)!], [...id]);
  assert.equal([...m.options.keys()].at(-1), 82);
  assert.equal([...m.options.get(82)!], [...agent]);
  assert.is(m.giaddr, '10.20.0.254');
  // Option 82 from a client (no giaddr) is not a relay's: not echoed.
  assert.not.ok(decoded(buildReply(request({ options: [[82, agent]] }), offer())).options.has(82));
  const huge = Uint8Array.from({ length: 320 }, (_, i) => i & 0xff);
  assert.is(buildReply(request({ options: [[DhcpOption.CLIENT_ID, huge]] }), offer()), undefined);
  assert.ok(buildReply(request({ options: [[DhcpOption.CLIENT_ID, huge], [DhcpOption.MAX_MESSAGE_SIZE, u16(1500)]] }), offer()));
});

test('a NAK carries 53, 54 and its message only; through a relay it has the broadcast bit set', () => {
  const nak: ReplySpec = {
    type: DhcpMessageType.NAK, yiaddr: '0.0.0.0', ciaddr: '0.0.0.0', siaddr: '0.0.0.0', serverId: '10.20.0.1',
    parameters: [[DhcpOption.MESSAGE, Buffer.from('requested address not available')]], required: new Set(),
  };
  const direct = decoded(buildReply(request({ type: DhcpMessageType.REQUEST }), nak));
  assert.equal([...direct.options.keys()], [53, 54, 56]);
  assert.is(direct.flags, 0);
  const relayed = decoded(buildReply(request({ type: DhcpMessageType.REQUEST, giaddr: '10.20.0.254' }), nak));
  assert.is(relayed.flags, BROADCAST_FLAG);
});

test('where a reply goes: relay port 67, else ciaddr on our network, else broadcast; NAKs never to ciaddr', () => {
  const { OFFER, ACK, NAK } = DhcpMessageType;
  assert.equal(replyDestination(request({ giaddr: '10.20.0.254' }), OFFER, onNet), { address: '10.20.0.254', port: 67 });
  assert.equal(replyDestination(request({ giaddr: '10.20.0.254' }), NAK, onNet), { address: '10.20.0.254', port: 67 });
  assert.equal(replyDestination(request({ ciaddr: '10.20.0.150' }), ACK, onNet), { address: '10.20.0.150', port: 68 });
  assert.equal(replyDestination(request({ ciaddr: '10.20.0.150' }), NAK, onNet), { address: '255.255.255.255', port: 68 });
  assert.equal(replyDestination(request({ ciaddr: '192.0.2.7' }), ACK, onNet), { address: '255.255.255.255', port: 68 }, 'a ciaddr elsewhere is no destination');
  assert.equal(replyDestination(request({ flags: BROADCAST_FLAG }), OFFER, onNet), { address: '255.255.255.255', port: 68 });
  assert.equal(replyDestination(request(), OFFER, onNet), { address: '255.255.255.255', port: 68 });
});

test.run();
