/**
 * Where the companion's DHCP replies go (RFC 2131 §4.1), seen from other namespaces: through a
 * relay to the relay's port 67, unicast (a bystander on the same port hears nothing); an INFORM
 * answered unicast to its ciaddr; a storm through a relay whose socket is bound to its own
 * address (bench/dhcp-load.ts: Linux gives such a socket no broadcast, so every reply it counts
 * was sent to giaddr:67) while bystanders on ports 67 and 68 hear nothing of it; and a client
 * on another subnet leasing through dnsmasq as a DHCP relay (--dhcp-relay), busybox udhcpc as
 * the client. The npm package the companion used before broadcast everything to port 68 and
 * served no relayed client (issue 12 measured a relay getting nothing).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Lab } from '../support/lab.ts';
import { needs, type Proc } from '../support/proc.ts';
import { ROOT, TempDirs, startCompanion } from '../support/sepi.ts';
import { BROADCAST_FLAG, type DhcpMessage, DhcpMessageType, DhcpOption, decodeDhcp, encodeDhcp, ipListOption } from '../../src/wire/dhcp.ts';

const run = promisify(execFile);
const PROBE = join(ROOT, 'test/e2e/helpers/cm-dhcp-probe.ts');
const relay = suite('companion DHCP replies: relays, unicast, dnsmasq as relay');
let lab: Lab;
let companion: Proc;
const dirs = new TempDirs();
const SERVER = '10.89.0.1';
/** A namespace wired to the relay namespace only (not to the lab's bridge). */
let behind = '';

relay.before(async () => {
  await needs('dnsmasq', 'busybox');
  lab = await Lab.create('10.89.0');
  companion = await startCompanion(lab, await dirs.make('cm'), { security: { mode: 'none' } });
});

relay.after(async () => {
  if (behind) await lab.ip('netns', 'del', behind).catch(() => {});
  await lab?.destroy();
  await dirs.removeAll();
});

let xid = 0x6e000000;
function message(type: number, mac: number, o: { giaddr?: string; ciaddr?: string; requested?: string; serverId?: string; extra?: Array<[number, Uint8Array]> } = {}): { xid: number; hex: string } {
  const options = new Map<number, Uint8Array>([[DhcpOption.MESSAGE_TYPE, Uint8Array.of(type)]]);
  if (o.requested) options.set(DhcpOption.REQUESTED_IP, ipListOption([o.requested]));
  if (o.serverId) options.set(DhcpOption.SERVER_ID, ipListOption([o.serverId]));
  for (const [code, v] of o.extra ?? []) options.set(code, v);
  const m: DhcpMessage = {
    op: 1, htype: 1, hlen: 6, hops: o.giaddr ? 1 : 0, xid: ++xid, secs: 0, flags: 0, ciaddr: o.ciaddr ?? '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0',
    giaddr: o.giaddr ?? '0.0.0.0', chaddr: Uint8Array.of(0x02, 0, 0, 0, 0x89, mac), sname: '', file: '', options,
  };
  return { xid: m.xid, hex: encodeDhcp(m).toString('hex') };
}

async function probeAt(name: string, address: string, port: number): Promise<Proc> {
  const ns = await lab.addHost(name, { address: `${address}/24` });
  await lab.ns(ns, 'ip', 'route', 'add', '255.255.255.255/32', 'dev', 'eth0');
  const p = lab.spawn(name, ns, process.execPath, [PROBE, String(port)], {}, true);
  await p.waitForEvent('the probe bound', (e) => e['ready'] === port);
  return p;
}

interface Heard { from: string; port: number; m: DhcpMessage }
function heard(p: Proc, id?: number): Heard[] {
  return p.events().flatMap((e) => {
    const r = e['recv'] as { from: string; port: number; hex: string } | undefined;
    const d = r && decodeDhcp(Buffer.from(r.hex, 'hex'));
    return d?.ok && (id === undefined || d.value.xid === id) ? [{ from: r!.from, port: r!.port, m: d.value }] : [];
  });
}
const waitHeard = (p: Proc, id: number) => p.waitFor(`a reply to xid ${id.toString(16)}`, () => heard(p, id)[0], 15_000);
const typeOf = (h: Heard) => h.m.options.get(53)![0];

relay('a relayed DISCOVER and REQUESTs are answered unicast at the relay\'s port 67, option 82 echoed; a NAK has the broadcast bit', async () => {
  const agent = await probeAt('relay', '10.89.0.60', 67);
  const bystander = await probeAt('bystander', '10.89.0.61', 67);
  const circuit = Uint8Array.of(1, 5, 0x76, 0x6c, 0x61, 0x6e, 0x39);
  const d = message(DhcpMessageType.DISCOVER, 1, { giaddr: '10.89.0.60', extra: [[82, circuit]] });
  agent.send(`${SERVER} 67 ${d.hex}`);
  const offer = await waitHeard(agent, d.xid);
  assert.equal([offer.from, offer.port, typeOf(offer)], [SERVER, 67, DhcpMessageType.OFFER]);
  assert.is(offer.m.giaddr, '10.89.0.60');
  assert.match(offer.m.yiaddr, /^10\.89\.0\.1\d\d$/);
  assert.equal([...offer.m.options.get(82)!], [...circuit]);
  assert.equal([...offer.m.options.keys()].at(-1), 82, 'option 82 last');
  const wrong = message(DhcpMessageType.REQUEST, 1, { giaddr: '10.89.0.60', requested: '10.89.0.250' });
  agent.send(`${SERVER} 67 ${wrong.hex}`);
  const nak = await waitHeard(agent, wrong.xid);
  assert.is(typeOf(nak), DhcpMessageType.NAK);
  assert.is(nak.m.flags & BROADCAST_FLAG, BROADCAST_FLAG, 'the relay is told to broadcast the NAK');
  const right = message(DhcpMessageType.REQUEST, 1, { giaddr: '10.89.0.60', requested: offer.m.yiaddr, serverId: SERVER });
  agent.send(`${SERVER} 67 ${right.hex}`);
  const ack = await waitHeard(agent, right.xid);
  assert.equal([ack.port, typeOf(ack), ack.m.yiaddr], [67, DhcpMessageType.ACK, offer.m.yiaddr]);
  // A relay off the pool's network gets nothing, and a line says why.
  const stranger = message(DhcpMessageType.DISCOVER, 2, { giaddr: '192.0.2.1' });
  agent.send(`${SERVER} 67 ${stranger.hex}`);
  await companion.waitForLine(/dhcp ignored 02000000890[0-9A-F] \(relay 192\.0\.2\.1 is not on the pool's network\)/, 10_000);
  assert.is(heard(agent, stranger.xid).length, 0);
  assert.is(heard(bystander).length, 0, 'unicast: another host on port 67 heard none of it');
});

relay('an INFORM is answered unicast to its ciaddr with options and no address; a DISCOVER\'s OFFER is broadcast', async () => {
  const client = await probeAt('informer', '10.89.0.70', 68);
  const bystander = await probeAt('listener', '10.89.0.71', 68);
  const i = message(DhcpMessageType.INFORM, 3, { ciaddr: '10.89.0.70', extra: [[DhcpOption.PARAMETER_LIST, Uint8Array.of(150, 66)]] });
  client.send(`255.255.255.255 67 ${i.hex}`);
  const ack = await waitHeard(client, i.xid);
  assert.equal([ack.from, ack.port, typeOf(ack), ack.m.yiaddr, ack.m.ciaddr], [SERVER, 67, DhcpMessageType.ACK, '0.0.0.0', '10.89.0.70']);
  assert.equal([...ack.m.options.keys()].slice(0, 4), [53, 54, 150, 66]);
  assert.not.ok(ack.m.options.has(DhcpOption.LEASE_TIME), 'no lease time in an answer to INFORM');
  // The bystander can hear broadcasts (this OFFER), so not hearing the INFORM's ACK means unicast.
  const d = message(DhcpMessageType.DISCOVER, 4);
  client.send(`255.255.255.255 67 ${d.hex}`);
  await waitHeard(bystander, d.xid);
  assert.is(heard(bystander, i.xid).length, 0);
  await companion.waitForLine(/dhcp inform 020000008903 10\.89\.0\.70/, 5_000);
});

const LOAD = join(ROOT, 'bench/dhcp-load.ts');

relay('50 clients through a relay bound to its own address: every exchange completes, only unicast to giaddr:67 reaches it; bystanders hear nothing', async () => {
  const ns = await lab.addHost('loadrelay', { address: '10.89.0.62/24' });
  const on67 = await probeAt('quiet67', '10.89.0.63', 67);
  const on68 = await probeAt('quiet68', '10.89.0.64', 68);
  const gen = lab.spawn('dhcp-load', ns, process.execPath, [LOAD, '--server', SERVER, '--relay', '10.89.0.62', '--clients', '50', '--rate', '100', '--mac-base', '025e89000000', '--json', '--acks', '--idle-secs', '10']);
  const s = await gen.waitForEvent('the summary', (e) => e['summary'] === true, 60_000);
  assert.is(s['acked'], 50, JSON.stringify(s));
  assert.is(s['duplicates'], 0);
  assert.is(s['nak'], 0);
  const addresses = gen.events().filter((e) => typeof e['ack'] === 'string').map((e) => String(e['address']));
  assert.ok(addresses.every((a) => /^10\.89\.0\.1\d\d$/.test(a)), addresses.join(' '));
  // Whatever the bystanders heard (other tests' broadcasts), none of it was for these clients.
  const ours = (p: Proc) => heard(p).filter((h) => Buffer.from(h.m.chaddr).toString('hex').startsWith('025e89'));
  assert.is(ours(on67).length, 0, 'nothing for the relay\'s clients on another host\'s port 67');
  assert.is(ours(on68).length, 0, 'nor broadcast to port 68');
});

const UDHCPC_SCRIPT = `#!/bin/sh
[ "$1" = bound ] && echo "BOUND ip=$ip subnet=$subnet router=$router serverid=$serverid opt150=$opt150"
exit 0
`;

relay('a client on another subnet leases through dnsmasq as DHCP relay (busybox udhcpc behind it)', async () => {
  // The pool is the far subnet's; the companion reaches it through the relay host.
  await lab.stopAll();
  companion = await startCompanion(lab, await dirs.make('cm2'), { security: { mode: 'none' }, dhcp: { poolFirst: '10.90.0.100', poolLast: '10.90.0.199', router: '10.90.0.1' } });
  const relayNs = await lab.addHost('dnsrelay', { address: '10.89.0.2/24' });
  await lab.ns(lab.server, 'ip', 'route', 'add', '10.90.0.0/24', 'via', '10.89.0.2');
  behind = `${lab.prefix}-behind`;
  await lab.ip('netns', 'add', behind);
  await lab.ip('link', 'add', 'rl0', 'netns', relayNs, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', behind);
  await lab.ns(relayNs, 'ip', 'addr', 'add', '10.90.0.1/24', 'dev', 'rl0');
  await lab.ns(relayNs, 'ip', 'link', 'set', 'rl0', 'up');
  await lab.ns(behind, 'ip', 'link', 'set', 'lo', 'up');
  await lab.ns(behind, 'ip', 'link', 'set', 'eth0', 'address', '02:00:00:00:89:90');
  await lab.ns(behind, 'ip', 'link', 'set', 'eth0', 'up');
  const dnsmasq = lab.spawn('dnsmasq', relayNs, 'dnsmasq', [
    '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--log-dhcp', '--log-facility=-', '--user=root', '--pid-file=',
    `--dhcp-relay=10.90.0.1,${SERVER}`,
  ]);
  await dnsmasq.waitFor('dnsmasq started', () => [...dnsmasq.lines, ...dnsmasq.errLines].some((l) => /started|DHCP, relay/.test(l)) || undefined, 15_000);
  const script = join(await dirs.make('udhcpc'), 'udhcpc.sh');
  await writeFile(script, UDHCPC_SCRIPT);
  await chmod(script, 0o755);
  const { stdout } = await run('ip', ['netns', 'exec', behind, 'busybox', 'udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '5', '-T', '2', '-s', script, '-O', '150'])
    .catch((e: { stdout?: string; stderr?: string }) => {
      throw new Error(`udhcpc got no lease through the relay:\n${e.stdout ?? ''}${e.stderr ?? ''}\n${dnsmasq.tail()}\n${companion.tail()}`);
    });
  const line = stdout.split('\n').find((l) => l.startsWith('BOUND '));
  assert.ok(line, stdout);
  const lease = Object.fromEntries(line!.slice(6).split(' ').map((kv) => kv.split('=') as [string, string]));
  assert.match(lease['ip']!, /^10\.90\.0\.1\d\d$/);
  assert.is(lease['router'], '10.90.0.1');
  assert.is(lease['serverid'], SERVER);
  assert.is(lease['opt150'], '0a590001', 'option 150 = 10.89.0.1');
  assert.ok(companion.lines.some((l) => /dhcp ack 020000008990 10\.90\.0\.1\d\d/.test(l)), companion.tail());
});

relay.run();
