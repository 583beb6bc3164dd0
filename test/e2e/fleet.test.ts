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

test.run();
