/**
 * kill -9 of the companion in the middle of a boot storm and a run of admin writes (issue 7):
 * after a restart on the same data folder nothing it acknowledged is lost — every phone the admin
 * API answered 201 for is there, every lease a phone was ACKed is the companion's record for
 * that phone, no address is held by two phones — and every phone of the storm registers.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AdminClient } from '../../src/cm/admin-client.ts';
import { Lab } from '../support/lab.ts';
import { SEPI, TempDirs, cmJson, startCompanion } from '../support/sepi.ts';

const COUNT = 30;

test('nothing acknowledged is lost when the companion is killed mid-storm', async () => {
  const lab = await Lab.create('10.89.0');
  const dirs = new TempDirs();
  try {
    const data = await dirs.make('cm');
    const config = { security: { mode: 'none' }, autoRegistration: { enabled: true, dnRange: ['5000', '5999'] }, dhcp: { poolFirst: '10.89.0.100', poolLast: '10.89.0.250' } };
    let companion = await startCompanion(lab, data, config);
    const ns = await lab.addHost('storm', { address: '10.89.0.50/24' });
    await lab.ns(ns, 'ip', 'route', 'add', '255.255.255.255/32', 'dev', 'eth0');
    const nv = await dirs.make('nv');
    const fleet = lab.spawn('fleet', ns, SEPI, ['fleet', '--iface', 'eth0', '--count', String(COUNT), '--mac-base', '02:5e:00:00:20:00', '--nvram-root', nv, '--until', 'registered', '--timeout', '150', '--stagger-ms', '40', '--json']);

    // Admin writes, one after the other, until the companion dies under them.
    const client = new AdminClient(data);
    const acknowledged: string[] = [];
    let writing = true;
    const writes = (async () => {
      for (let i = 0; writing && i < 500; i++) {
        const mac = `02:7a:00:00:00:${i.toString(16).padStart(2, '0')}`;
        try {
          await client.call('POST', '/v1/phones', { mac, model: '8841', dn: String(7000 + i) });
          acknowledged.push(mac.replace(/:/g, '').toUpperCase());
        } catch {
          return;
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 1200));
    await companion.kill(); // SIGKILL: no shutdown of any kind
    writing = false;
    await writes;
    assert.ok(acknowledged.length > 0, 'some writes were acknowledged before the kill');
    companion = await startCompanion(lab, data, config);

    assert.is(await fleet.exit(200_000), 0, fleet.tail());
    const phones = await cmJson<Array<{ deviceName: string; mac: string | null; lease?: string }>>(data, 'phone', 'list');
    const names = new Set(phones.map((p) => p.deviceName));
    for (const mac of acknowledged) assert.ok(names.has(`SEP${mac}`), `acknowledged SEP${mac} survived`);
    // Every storm phone's lease, as its NVRAM holds it, is the companion's lease for it; no address twice.
    const seen = new Map<string, string>();
    for (let i = 0; i < COUNT; i++) {
      const name = `SEP025E000020${i.toString(16).padStart(2, '0').toUpperCase()}`;
      const lease = JSON.parse(await readFile(join(nv, name, 'lease.json'), 'utf8')) as { address: string };
      assert.not.ok(seen.has(lease.address), `${lease.address} given to ${seen.get(lease.address)} and ${name}`);
      seen.set(lease.address, name);
      const record = phones.find((p) => p.deviceName === name);
      assert.ok(record, `${name} is known`);
      assert.is(record!.lease, lease.address, `${name}'s lease is the companion's`);
    }
    await companion.stop();
  } finally {
    await lab.destroy();
    await dirs.removeAll();
  }
});

test.run();
