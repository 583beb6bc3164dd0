/**
 * The companion's leases survive kill -9 in the middle of a storm (issue 12). 500 MACs from the
 * load generator (bench/dhcp-load.ts, playing a relay: giaddr set, replies heard only when they
 * are unicast to the relay's address, port 67), the companion killed with SIGKILL after ~100
 * ACKs, then:
 *  - before anything restarts, every lease the generator was ACKed is in the database with the
 *    address the ACK gave (an ACK leaves only after the commit that made its lease durable);
 *  - restarted on the same data folder, the companion serves the same storm to the end (the
 *    generator retransmits through the outage): all 500 bound, no address ACKed to two MACs;
 *  - the same 500 MACs again: each gets the address it was given, read back from the table.
 * Nothing here is timed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Lab } from '../support/lab.ts';
import type { Proc } from '../support/proc.ts';
import { ROOT, TempDirs, startCompanion } from '../support/sepi.ts';

const LOAD = join(ROOT, 'bench/dhcp-load.ts');
const crash = suite('companion DHCP: kill -9 mid-storm, restart, continue');
let lab: Lab;
const dirs = new TempDirs();
const SERVER = '10.86.0.1';
const RELAY = '10.86.0.60';
const CLIENTS = 500;
// A /16 so the relay (10.86.0.60) is on the pool's network; 768 addresses for 500 MACs.
const CONFIG = { prefix: 16, security: { mode: 'none' }, dhcp: { poolFirst: '10.86.1.0', poolLast: '10.86.3.255' } };

crash.before(async () => {
  lab = await Lab.create('10.86.0');
});

crash.after(async () => {
  await lab?.destroy();
  await dirs.removeAll();
});

function storm(ns: string, name: string, extra: string[] = []): Proc {
  return lab.spawn(name, ns, process.execPath, [
    LOAD, '--server', SERVER, '--relay', RELAY, '--clients', String(CLIENTS), '--rate', '200', '--mac-base', '025e86000000',
    '--json', '--acks', '--timeout-ms', '500', '--retries', '80', '--idle-secs', '45', '--max-secs', '150', ...extra,
  ]);
}

/** MAC -> address, from the generator's ACK lines so far. */
function acks(p: Proc): Map<string, string> {
  return new Map(p.events().filter((e) => typeof e['ack'] === 'string').map((e) => [String(e['ack']), String(e['address'])]));
}

/** MAC -> address in the companion's table, read with SQLite itself. */
function tableLeases(data: string): Map<string, string> {
  const db = new DatabaseSync(join(data, 'companion.sqlite'));
  try {
    return new Map((db.prepare('SELECT mac, address FROM leases').all() as Array<{ mac: string; address: string }>).map((r) => [r.mac, r.address]));
  } finally {
    db.close();
  }
}

const summaryOf = (p: Proc) => p.waitForEvent('the summary', (e) => e['summary'] === true, 180_000);

crash('every ACKed lease is in the table after kill -9; after the restart the storm completes with no address given twice; the same MACs get the same addresses back', async () => {
  const data = await dirs.make('cm');
  let companion = await startCompanion(lab, data, CONFIG);
  const ns = await lab.addHost('relay', { address: `${RELAY}/24` });
  const first = storm(ns, 'storm');
  await first.waitFor('100 ACKs', () => acks(first).size >= 100 || undefined, 60_000);
  await companion.kill();
  // ACKs already on the wire when it died reach the generator; then the count stands still.
  await new Promise((r) => setTimeout(r, 500));
  const before = acks(first);
  assert.ok(before.size < CLIENTS, `killed mid-storm (${before.size} of ${CLIENTS} bound)`);
  const table = tableLeases(data);
  const lost = [...before].filter(([mac, address]) => table.get(mac) !== address);
  assert.equal(lost, [], `ACKed but not in the table after kill -9 (${before.size} ACKed, ${table.size} rows)`);

  companion = await startCompanion(lab, data, CONFIG);
  const s = await summaryOf(first);
  assert.is(s['acked'], CLIENTS, `all bound after the restart: ${JSON.stringify(s)}\n${first.tail(5)}`);
  assert.is(s['duplicates'], 0, 'no address ACKed to two MACs');
  const all = acks(first);
  assert.is(new Set(all.values()).size, CLIENTS, 'distinct addresses');
  for (const [mac, address] of before) assert.is(all.get(mac), address, `${mac} kept its ACK`);
  const rows = tableLeases(data);
  assert.equal([...all].filter(([mac, address]) => rows.get(mac) !== address), [], 'every ACK is a row');

  const again = storm(ns, 'again');
  const s2 = await summaryOf(again);
  assert.is(s2['acked'], CLIENTS, JSON.stringify(s2));
  assert.equal([...acks(again)].filter(([mac, address]) => all.get(mac) !== address), [], 'the same address for the same MAC');
  assert.ok(companion.lines.some((l) => /dhcp (ack|note)/.test(l)), companion.tail());
});

crash.run();
