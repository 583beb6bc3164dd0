/**
 * Boots that complete on a bad LAN (issue 7): 30 % of the packets from the phone to the
 * companion and 30 % of those from the companion to the phone are lost — DHCP broadcasts, TFTP,
 * HTTP, SIP alike — and phones still get an address, their files and a registration, by
 * retransmission and backoff alone. The loss is nftables' `numgen random` on the receiving end
 * of each direction (a drop there is a packet lost on the wire; a drop on the way out would be
 * an EPERM to the sender instead). Delay (this kernel has no `sch_netem`) is
 * test/e2e/delay-lan.test.ts, through a user-space delay line.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../support/lab.ts';
import { needs } from '../support/proc.ts';
import { TempDirs, isRegistered, startCompanion, startPhone } from '../support/sepi.ts';

const LOSS_PERCENT = 30;

/** Drops LOSS_PERCENT of what arrives in `ns`, from `fromMac` only when given. */
async function lossy(lab: Lab, ns: string, fromMac?: string): Promise<void> {
  await lab.ns(ns, 'nft', 'add', 'table', 'inet', 'lossy');
  await lab.ns(ns, 'nft', 'add', 'chain', 'inet', 'lossy', 'in', '{ type filter hook input priority 0; }');
  await lab.ns(ns, 'nft', 'add', 'rule', 'inet', 'lossy', 'in', ...(fromMac ? ['ether', 'saddr', fromMac] : []), 'numgen', 'random', 'mod', '100', '<', String(LOSS_PERCENT), 'counter', 'drop');
}

const dropped = async (lab: Lab, ns: string) => [...(await lab.ns(ns, 'nft', 'list', 'table', 'inet', 'lossy')).matchAll(/packets (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);

test(`phones boot to Registered through ${LOSS_PERCENT} % loss each way, trust on`, async () => {
  await needs('nft');
  const lab = await Lab.create('10.88.0');
  const dirs = new TempDirs();
  try {
    const data = await dirs.make('cm');
    const companion = await startCompanion(lab, data, { phones: [{ mac: '0011223344d1', model: '8841', dn: '1401' }, { mac: '0011223344d2', model: '7975', dn: '1402' }] });
    for (const [mac, model] of [['0011223344d1', '8841'], ['0011223344d2', '7975']] as const) {
      const colons = mac.replace(/(..)(?!$)/g, '$1:');
      const ns = await lab.addHost(`lossy${mac.slice(-1)}`, { mac: colons });
      await lossy(lab, ns);
      await lossy(lab, lab.server, colons).catch(async () => {
        // The server's table exists from the first phone: add this phone's rule to it.
        await lab.ns(lab.server, 'nft', 'add', 'rule', 'inet', 'lossy', 'in', 'ether', 'saddr', colons, 'numgen', 'random', 'mod', '100', '<', String(LOSS_PERCENT), 'counter', 'drop');
      });
      const phone = startPhone(lab, ns, mac, await dirs.make('nv'), ['--model', model, '--until', 'registered', '--timeout', '240']);
      assert.is(await phone.exit(300_000), 0, phone.tail());
      const reg = phone.events().find(isRegistered('device'))!;
      assert.is(reg['line'], model === '8841' ? '1401' : '1402');
      // The loss was real: nftables counted drops both ways.
      assert.ok((await dropped(lab, ns)) > 0, 'packets to the phone were dropped');
      assert.ok((await dropped(lab, lab.server)) > 0, 'packets from the phone were dropped');
    }
    assert.is(companion.exitCode, undefined);
  } finally {
    await lab.destroy();
    await dirs.removeAll();
  }
});

test.run();
