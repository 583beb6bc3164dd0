/**
 * Many emulated phones in one process on one interface (`sepi fleet`): every phone takes only
 * the answers meant for it (its own xid and MAC), so all get their own lease, autoregister,
 * are reset, and register on their own DNs.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rm } from 'node:fs/promises';
import { Lab } from '../support/lab.ts';
import { SEPI, cmJson, startCompanion, tempDir } from '../support/sepi.ts';

test('ten phones in one process autoregister on ten DNs with ten leases', async () => {
  const lab = await Lab.create('10.82.0');
  const data = await tempDir('fleet-cm');
  const nv = await tempDir('fleet-nv');
  try {
    await startCompanion(lab, data, { autoRegistration: { enabled: true, dnRange: ['5000', '5099'] } });
    const ns = await lab.addHost('fleet', { address: '10.82.0.50/24' });
    await lab.ns(ns, 'ip', 'route', 'add', '255.255.255.255/32', 'dev', 'eth0');
    const fleet = lab.spawn('fleet', ns, SEPI, ['fleet', '--iface', 'eth0', '--count', '10', '--timeout', '40', '--mac-base', '02:5e:00:00:10:00', '--nvram-root', nv, '--until', 'registered', '--json']);
    assert.is(await fleet.exit(180_000), 0, fleet.tail());
    const summary = fleet.events().at(-1)!;
    assert.is(summary['reached'], 10);
    assert.ok(Number(summary['rssBytes']) > 0);
    const phones = await cmJson<Array<{ deviceName: string; dn: string; lease?: string; autoregistered: boolean }>>(data, 'phone', 'list');
    assert.is(phones.length, 10);
    assert.is(new Set(phones.map((p) => p.dn)).size, 10);
    assert.is(new Set(phones.map((p) => p.lease)).size, 10, 'every phone got its own lease');
    assert.ok(phones.every((p) => p.autoregistered && /^50\d\d$/.test(p.dn)));
  } finally {
    await lab.destroy();
    await rm(data, { recursive: true, force: true });
    await rm(nv, { recursive: true, force: true });
  }
});

test('two fleets call each other: phone i of one calls 7001 + i of the other (--call 7001+), each call connects and ends', async () => {
  const lab = await Lab.create('10.82.0');
  const data = await tempDir('fleet-calls-cm');
  const nv = await tempDir('fleet-calls-nv');
  try {
    const phones = [
      { mac: '025e00002000', model: '8841', dn: '7001' }, { mac: '025e00002001', model: '8841', dn: '7002' },
      { mac: '025e00003000', model: '8841', dn: '7101' }, { mac: '025e00003001', model: '8841', dn: '7102' },
    ];
    await startCompanion(lab, data, { security: { mode: 'none' }, phones });
    const start = async (name: string, host: number, args: string[]) => {
      const ns = await lab.addHost(name, { address: `10.82.0.${host}/24` });
      await lab.ns(ns, 'ip', 'route', 'add', '255.255.255.255/32', 'dev', 'eth0');
      return lab.spawn(name, ns, SEPI, ['fleet', '--iface', 'eth0', '--count', '2', '--nvram-root', nv, '--until', 'call-ended', '--timeout', '60', '--json', ...args]);
    };
    const callees = await start('callees', 60, ['--mac-base', '02:5e:00:00:20:00', '--auto-answer']);
    // A call to a DN registered nowhere yet is a 480: the callers start once both callees registered.
    await callees.waitForEvent('both callees registered', (e) => e['type'] === 'progress' && Number(e['register']) >= 2, 60_000);
    const callers = await start('callers', 61, ['--mac-base', '02:5e:00:00:30:00', '--call', '7001+', '--dtmf', '12', '--hangup-after', '2']);
    assert.is(await callers.exit(120_000), 0, callers.tail());
    assert.is(await callees.exit(120_000), 0, callees.tail());
    for (const f of [callers, callees]) {
      const summary = f.events().at(-1)!;
      assert.is(summary['type'], 'summary');
      assert.is(summary['reached'], 2);
      assert.is(summary['until'], 'call-ended');
    }
  } finally {
    await lab.destroy();
    await rm(data, { recursive: true, force: true });
    await rm(nv, { recursive: true, force: true });
  }
});

test.run();
