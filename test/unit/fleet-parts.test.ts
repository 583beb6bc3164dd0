/**
 * The fleet's parts: one shared DHCP socket demultiplexed by chaddr (each phone hears only its
 * own replies), percentiles and failures by reason, the JUnit report (read back by Python's own
 * XML parser), shards' MAC ranges, and the Kubernetes Indexed Job manifest rendered the way
 * Kubernetes expands it and run as `sepi fleet --dry-run` per completion index: every index gets
 * its own slice, none overlaps, companions alternate.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VirtualClock } from '../../src/common/clock.ts';
import { Bus } from '../../src/common/bus.ts';
import { FleetStats, percentile } from '../../src/fleet/fleet-stats.ts';
import { junitXml } from '../../src/fleet/report.ts';
import { SharedDhcpNetwork } from '../../src/fleet/shared-dhcp.ts';
import { shardFor } from '../../src/fleet/shard.ts';
import type { PhoneEvent, PhoneStatus } from '../../src/phone/events.ts';
import type { NetworkPort, Peer, UdpEndpoint } from '../../src/phone/ports.ts';
import { MacAddress } from '../../src/wire/mac.ts';
import { ROOT, SEPI } from '../support/sepi.ts';

const run = promisify(execFile);
const t = suite('fleet parts');

/** An inner network with one fake port-68 socket: counts binds, records sends, lets the test inject replies. */
function fakeInner() {
  let handler: ((d: Buffer, from: Peer) => void) | undefined;
  const sent: Uint8Array[] = [];
  let binds = 0;
  const sock: UdpEndpoint = { port: 68, send: async (d) => void sent.push(d), onMessage: (h) => (handler = h), close: () => {} };
  const inner = { udp: async () => (binds++, sock), close: async () => {} } as unknown as NetworkPort;
  return { inner, sent, binds: () => binds, reply: (d: Buffer) => handler!(d, { address: '10.0.0.1', port: 67 }) };
}

const bootp = (mac: string, xid: number) => {
  const b = Buffer.alloc(300);
  b.writeUInt32BE(xid, 4);
  Buffer.from(mac, 'hex').copy(b, 28);
  return b;
};

t('one real socket for every phone; a reply reaches only the phone whose chaddr it carries', async () => {
  const f = fakeInner();
  const shared = new SharedDhcpNetwork(f.inner);
  const views = await Promise.all(['025e00000001', '025e00000002', '025e00000003'].map(() => shared.udp({ port: 68, broadcast: true, reuseAddr: true })));
  assert.is(f.binds(), 1);
  const heard: string[][] = views.map(() => []);
  views.forEach((v, i) => v.onMessage((d) => heard[i]!.push(d.subarray(28, 34).toString('hex'))));
  await Promise.all(views.map((v, i) => v.send(bootp(`025e0000000${i + 1}`, i), 67, '255.255.255.255')));
  f.reply(bootp('025e00000002', 1));
  f.reply(bootp('025e00000003', 2));
  f.reply(bootp('025e000000ff', 9));
  f.reply(Buffer.from('short'));
  assert.equal(heard, [[], ['025e00000002'], ['025e00000003']]);
  assert.is(shared.unclaimed, 2);
  views[1]!.close();
  f.reply(bootp('025e00000002', 1));
  assert.equal(heard[1], ['025e00000002'], 'a closed view hears nothing more');
  assert.is(shared.viewCount, 2);
});

t('percentiles by nearest rank; per-step times and failures by reason from the phones\' events', () => {
  assert.is(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9);
  assert.is(percentile([5], 99), 5);
  assert.is(percentile([], 50), null);
  const clock = new VirtualClock(0);
  const stats = new FleetStats('registered', 2, clock);
  const phones = ['SEP025E00000001', 'SEP025E00000002'].map((deviceName) => {
    const bus = new Bus<PhoneEvent>();
    const p = { subscribe: (fn: (e: PhoneEvent) => void) => bus.subscribe(fn), status: { deviceName, phase: 'Registering', problem: undefined, log: [] } as unknown as PhoneStatus, bus };
    stats.watch(p);
    return p;
  });
  const ev = (e: Record<string, unknown>) => ({ type: 'event', ms: 0, message: '', ...e }) as unknown as PhoneEvent;
  phones[0]!.bus.publish(ev({ step: 'dhcp', state: 'done', t: 100 }));
  phones[0]!.bus.publish(ev({ step: 'config', state: 'done', t: 300 }));
  phones[0]!.bus.publish(ev({ step: 'register', state: 'done', t: 500, configKind: 'device' }));
  phones[1]!.bus.publish(ev({ step: 'dhcp', state: 'retry', t: 10, reason: 'no-offer' }));
  phones[1]!.bus.publish(ev({ step: 'dhcp', state: 'done', t: 10_100 }));
  phones[1]!.bus.publish(ev({ step: 'register', state: 'progress', t: 10_200, message: 'CM 10.0.0.1 refused: 403' }));
  phones[1]!.bus.publish(ev({ step: 'register', state: 'retry', t: 10_300, reason: 'refused by 10.0.0.1:5060' }));
  const s = stats.summary(phones, true, { rss: 2, heapUsed: 1 }, 0);
  assert.equal([s.reached, s.steps.dhcp.n, s.steps.dhcp.p50, s.steps.dhcp.max, s.steps.register.n], [1, 2, 100, 10_100, 1]);
  assert.equal(s.failures, { 'dhcp: no-offer': 1, 'register: refused by ADDR': 1 });
  assert.equal(s.stragglers.map((x) => x.device), ['SEP025E00000002']);
  const p = stats.progress();
  assert.equal([p.dhcp, p.config, p.register, p.reached, p.failures], [2, 1, 1, 1, 2]);
});

t('the JUnit report is XML a parser nobody here wrote reads: a case per phone, failures with why', async () => {
  const clock = new VirtualClock(0);
  const stats = new FleetStats('registered', 2, clock);
  const summary = stats.summary([], true, { rss: 0, heapUsed: 0 });
  const xml = junitXml(summary, [
    { device: 'SEP025E00000001', reachedMs: 1500, phase: 'Registered', last: '' },
    { device: 'SEP025E00000002', reachedMs: undefined, phase: 'Registering', last: 'CM <10.0.0.1> refused: "403" & \x01gone' },
  ]);
  const py = `import sys, xml.dom.minidom as m
d = m.parseString(sys.stdin.read())
cases = d.getElementsByTagName('testcase')
print(len(cases), d.getElementsByTagName('testsuite')[0].getAttribute('failures'), cases[1].getElementsByTagName('failure')[0].getAttribute('message'))`;
  const out = await new Promise<string>((resolve, reject) => {
    const c = execFile('/usr/bin/python3', ['-c', py], (e, stdout) => (e ? reject(e) : resolve(stdout)));
    c.stdin!.end(xml);
  });
  assert.is(out.trim(), '2 1 Registering: CM <10.0.0.1> refused: "403" & gone');
});

t('shards: consecutive, non-overlapping MAC slices and companions in turn; a slice past the last MAC refused', () => {
  const base = MacAddress.parse('02:5e:00:00:00:00')!;
  const shards = [0, 1, 2].map((i) => shardFor(i, 5000, base, ['10.0.0.1', '10.0.0.2']));
  assert.equal(shards.map((s) => [s.firstMac.hex, s.lastMac.hex, s.companion]), [
    ['025E00000000', '025E00001387', '10.0.0.1'],
    ['025E00001388', '025E0000270F', '10.0.0.2'],
    ['025E00002710', '025E00003A97', '10.0.0.1'],
  ]);
  assert.throws(() => shardFor(1, 2, MacAddress.parse('ff:ff:ff:ff:ff:fe')!), /runs past/);
});

t('the Kubernetes Indexed Job, expanded as Kubernetes does, gives each completion index its own slice', async () => {
  const yaml = await readFile(join(ROOT, 'deploy/k8s/fleet-job.yaml'), 'utf8');
  assert.match(yaml, /completionMode: Indexed/);
  assert.match(yaml, /command: \["bin\/sepi"\]\n\s+args:\n\s+- fleet\n/);
  const completions = Number(/completions: (\d+)/.exec(yaml)![1]);
  const env = Object.fromEntries([...yaml.matchAll(/- \{ name: (\w+), value: "([^"]*)" \}/g)].map((m) => [m[1]!, m[2]!]));
  const args = [...yaml.slice(yaml.indexOf('args:')).matchAll(/^\s+- (--[^\n]+)$/gm)].map((m) => m[1]!.trim());
  assert.ok(args.includes('--shard-index-env=JOB_COMPLETION_INDEX'), args.join(' '));
  const dir = await mkdtemp(join(tmpdir(), 'sepi-k8s-'));
  try {
    const plans: Array<{ shard: number; count: number; firstMac: string; lastMac: string; companion: string }> = [];
    for (let index = 0; index < completions; index++) {
      const vars: Record<string, string> = { ...env, JOB_COMPLETION_INDEX: String(index) };
      // Kubernetes expands $(VAR) in args from the container's environment.
      const expanded = args.map((a) => a.replace(/\$\((\w+)\)/g, (_, n: string) => vars[n] ?? `$(${n})`)).filter((a) => !a.startsWith('--report'));
      const { stdout } = await run(SEPI, ['fleet', ...expanded, '--dry-run'], { env: { ...process.env, JOB_COMPLETION_INDEX: String(index) } });
      plans.push(JSON.parse(stdout));
    }
    await writeFile(join(dir, 'plans.json'), JSON.stringify(plans));
    const perPod = Number(env['PER_POD']);
    const base = BigInt(`0x${env['MAC_BASE']!.replace(/:/g, '')}`);
    plans.forEach((p, i) => {
      assert.is(p.shard, i);
      assert.is(BigInt(`0x${p.firstMac}`), base + BigInt(i * perPod));
      assert.is(BigInt(`0x${p.lastMac}`) - BigInt(`0x${p.firstMac}`) + 1n, BigInt(perPod));
      assert.is(p.companion, env['COMPANIONS']!.split(',')[i % 2]);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

t.run();
