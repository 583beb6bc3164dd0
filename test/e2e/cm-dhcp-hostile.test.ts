/**
 * The companion's DHCP server against hostile and merely unusual input, over real broadcasts in
 * network namespaces. Before issue 7 one DISCOVER whose option 55 listed 50, 52, 53, 55, 56, 60,
 * 61, 80, 116 or 145 made the npm `dhcp` package throw, uncaught, and the whole companion
 * (TFTP, HTTP, SIP, TVS with it) exited. Now: an OFFER, then truncated and overrunning packets
 * and random bytes, a flood from one MAC — and a real phone still boots to Registered.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Lab } from '../support/lab.ts';
import { ROOT, TempDirs, cmJson, isRegistered, startCompanion, startPhone } from '../support/sepi.ts';
import type { Proc } from '../support/proc.ts';
import { BROADCAST_FLAG, type DhcpMessage, DhcpMessageType, DhcpOption, decodeDhcp, encodeDhcp } from '../../src/wire/dhcp.ts';

const PROBE = join(ROOT, 'test/e2e/helpers/cm-dhcp-probe.ts');
const hostile = suite('companion DHCP under hostile input');
let lab: Lab;
let companion: Proc;
let probe: Proc;
let data = '';
const dirs = new TempDirs();
const PHONE_MAC = '00:11:22:33:44:e1';

hostile.before(async () => {
  lab = await Lab.create('10.88.0');
  data = await dirs.make('cm');
  companion = await startCompanion(lab, data, { security: { mode: 'none' }, phones: [{ mac: PHONE_MAC, model: '8841', dn: '1301' }] });
  const ns = await lab.addHost('hostile', { address: '10.88.0.50/24', mac: '02:00:00:00:00:e0' });
  // Broadcasts need a route in a namespace without a default one.
  await lab.ns(ns, 'ip', 'route', 'add', '255.255.255.255/32', 'dev', 'eth0');
  probe = lab.spawn('probe', ns, process.execPath, [PROBE, '68'], {}, true);
  await probe.waitForEvent('the probe bound', (e) => e['ready'] === 68);
});

hostile.after(async () => {
  await lab?.destroy();
  await dirs.removeAll();
});

let xid = 0x7e000000;
function discover(mac: number, options: Array<[number, Uint8Array]> = []): { xid: number; bytes: Buffer } {
  const m: DhcpMessage = {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: ++xid, secs: 0, flags: BROADCAST_FLAG, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr: Uint8Array.of(0x02, 0, 0, 0, 0xe0, mac), sname: '', file: '',
    options: new Map<number, Uint8Array>([[DhcpOption.MESSAGE_TYPE, Uint8Array.of(DhcpMessageType.DISCOVER)], ...options]),
  };
  return { xid: m.xid, bytes: encodeDhcp(m) };
}

const send = (bytes: Uint8Array) => probe.send(`255.255.255.255 67 ${Buffer.from(bytes).toString('hex')}`);

/** Replies received so far with this xid. */
function replies(id: number): DhcpMessage[] {
  return probe.events().flatMap((e) => {
    const r = e['recv'] as { hex: string } | undefined;
    if (!r) return [];
    const d = decodeDhcp(Buffer.from(r.hex, 'hex'));
    return d.ok && d.value.xid === id ? [d.value] : [];
  });
}

const alive = () => assert.is(companion.exitCode, undefined, `the companion is still running\n${companion.tail()}`);

hostile('a DISCOVER whose option 55 asks for 50, 52, 53, 55, 56, 60, 61, 80, 116, 145 gets an OFFER', async () => {
  const d = discover(1, [[DhcpOption.PARAMETER_LIST, Uint8Array.of(50, 52, 53, 55, 56, 60, 61, 80, 116, 145)], [DhcpOption.CLIENT_ID, Uint8Array.of(1, 2, 0, 0, 0, 0xe0, 1)]]);
  send(d.bytes);
  const [offer] = await probe.waitFor('an OFFER', () => replies(d.xid).length > 0 && replies(d.xid), 15_000);
  assert.is(offer!.options.get(53)![0], DhcpMessageType.OFFER);
  assert.match(offer!.yiaddr, /^10\.88\.0\.1\d\d$/);
  assert.equal([...offer!.options.get(61)!], [1, 2, 0, 0, 0, 0xe0, 1], 'the client identifier comes back');
  await new Promise((r) => setTimeout(r, 300));
  alive();
});

hostile('truncated, overrunning and random packets are counted and logged once; the next DISCOVER is answered', async () => {
  send(discover(2).bytes.subarray(0, 200));
  // Header, cookie, type, then option 12 claiming 200 bytes with 3 left and no END.
  const overrun = Buffer.concat([discover(2).bytes.subarray(0, 240), Buffer.from([53, 1, 1, 12, 200, 0x61, 0x62, 0x63])]);
  send(overrun);
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 200; i++) send(Uint8Array.from({ length: Math.floor(random() * 700) }, () => Math.floor(random() * 256)));
  await probe.waitFor('202 datagrams sent', () => probe.events().filter((e) => e['sent']).length >= 203 || undefined, 30_000);
  const d = discover(3);
  send(d.bytes);
  await probe.waitFor('an OFFER after the garbage', () => replies(d.xid).length > 0 || undefined, 15_000);
  alive();
  const lines = companion.lines.filter((l) => /malformed DHCP from 10\.88\.0\.50/.test(l));
  assert.is(lines.length, 1, `one line a minute per source:\n${lines.join('\n')}`);
  assert.match(lines[0]!, /message of 200 bytes is shorter than 240 .*\(1 so far\)/);
  assert.not.ok(companion.lines.some((l) => /not known|Invalid option/.test(l)), 'nothing printed by a library');
  const status = await cmJson<{ services: { dhcp: { counters: Record<string, number> } } }>(data, 'status');
  const counters = status.services.dhcp.counters;
  assert.ok(counters['malformed']! >= 150, JSON.stringify(counters));
});

hostile('a flood from one MAC is cut to 10 a second with one log line, and other clients are still served', async () => {
  const flood = Array.from({ length: 40 }, () => discover(4));
  for (const d of flood) send(d.bytes);
  const other = discover(5);
  send(other.bytes);
  await probe.waitFor('an OFFER to the other client', () => replies(other.xid).length > 0 || undefined, 15_000);
  await new Promise((r) => setTimeout(r, 500));
  const answered = flood.filter((d) => replies(d.xid).length > 0).length;
  assert.ok(answered >= 1 && answered <= 10, `${answered} of 40 answered`);
  assert.is(companion.lines.filter((l) => /dhcp rate-limit 02000000E004/.test(l)).length, 1, companion.tail());
  alive();
});

hostile('a real phone still boots to Registered', async () => {
  const ns = await lab.addHost('phone', { mac: PHONE_MAC });
  const phone = startPhone(lab, ns, PHONE_MAC.replace(/:/g, ''), await dirs.make('nv'), ['--until', 'registered', '--timeout', '60']);
  assert.is(await phone.exit(90_000), 0, phone.tail());
  assert.is(phone.events().find(isRegistered('device'))!['line'], '1301');
  alive();
});

hostile.run();
