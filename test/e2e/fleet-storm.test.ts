/**
 * A boot storm in CI (issue 12): 1,000 phones in one `sepi fleet` process, all powered on at
 * once, against the companion with trust on (ITL trusted on first use, every file `.sgn`) and
 * autoregistration, on a /16 in namespaces. Every phone must register, each with its own lease
 * and DN; the fleet reports percentiles for each step, progress lines while it runs, and a
 * JSON + JUnit report with a test case per phone. Nothing here is timed: how fast the storm
 * goes is `make bench`'s business (bench/storm.ts), not a test's.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Lab } from '../support/lab.ts';
import { SEPI, cmJson, tempDir } from '../support/sepi.ts';
import { stormLab } from '../support/storm-lab.ts';

const COUNT = 1000;

test(`${COUNT} phones at once, trust on: every one registered on its own DN, percentiles and a JUnit report`, async () => {
  const data = await tempDir('storm-cm');
  const out = await tempDir('storm-report');
  let lab: Lab | undefined;
  try {
    const storm = await stormLab('10.101.0', data, {
      poolLast: '10.101.8.254', dnRange: ['100000', '101999'], perAddressBurst: 5000, perAddressPerMinute: 100000, maxUnregisteredPerAddress: 5000,
    });
    lab = storm.lab;
    const ns = storm.fleetHost;
    const report = join(out, 'storm.json');
    const fleet = lab.spawn('fleet', ns, SEPI, [
      'fleet', '--iface', 'eth0', '--count', String(COUNT), '--mac-base', '02:5f:01:00:00:00', '--memory-nvram', '--rate', '0',
      '--until', 'registered', '--timeout', '240', '--json', '--report', report,
    ]);
    assert.is(await fleet.exit(300_000), 0, fleet.tail());
    const events = fleet.events();
    const summary = events.find((e) => e['type'] === 'summary') as Record<string, unknown> | undefined;
    assert.ok(summary, 'a summary line');
    assert.is(summary['reached'], COUNT, 'every phone registered');
    assert.equal(summary['failures'], {}, 'no step failed for any phone');
    const steps = summary['steps'] as Record<string, { n: number; p50: number; p90: number; p99: number }>;
    for (const step of ['dhcp', 'config', 'register']) {
      const s = steps[step]!;
      assert.is(s.n, COUNT, `${step}: a time for every phone`);
      assert.ok(s.p50 > 0 && s.p50 <= s.p90 && s.p90 <= s.p99, `${step}: percentiles in order (${s.p50}, ${s.p90}, ${s.p99})`);
    }
    // Each step ends after the one before it, for the middle phone as for the slowest.
    assert.ok(steps['dhcp']!.p50 < steps['config']!.p50 && steps['config']!.p50 < steps['register']!.p50);
    const progress = events.filter((e) => e['type'] === 'progress');
    assert.ok(progress.length >= 1, 'progress lines while it ran');
    assert.is(progress.at(-1)!['register'], COUNT, 'the last progress line counts every registration');

    // The report: the same summary as JSON, and a JUnit suite with a passing case per phone.
    const written = JSON.parse(await readFile(report, 'utf8')) as { reached: number; phones: Array<{ reachedMs: number | null }> };
    assert.is(written.reached, COUNT);
    assert.is(written.phones.filter((p) => p.reachedMs !== null).length, COUNT, 'a time for every phone in the report');
    const junit = await readFile(join(out, 'storm.xml'), 'utf8');
    assert.match(junit, new RegExp(`<testsuites name="sepi fleet" tests="${COUNT}" failures="0"`));
    assert.is(junit.match(/<testcase /g)?.length, COUNT);

    // On the companion's side: a phone, a lease and a DN each, none shared.
    const phones = await cmJson<Array<{ dn: string; lease?: string; autoregistered: boolean; registered: boolean }>>(data, 'phone', 'list');
    assert.is(phones.length, COUNT);
    assert.is(new Set(phones.map((p) => p.dn)).size, COUNT, 'no DN given twice');
    assert.is(new Set(phones.map((p) => p.lease)).size, COUNT, 'no address given twice');
    assert.ok(phones.every((p) => p.autoregistered));
  } finally {
    await lab?.destroy();
    await rm(data, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  }
});

test.run();
