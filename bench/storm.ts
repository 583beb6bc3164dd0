/**
 * The boot-storm curve (issue 12): N phones in one `sepi fleet` process, all powered on at once,
 * against the companion with trust on (ITL, signed files) on one /16 LAN, for each N given —
 * time until every phone registered, CPU of the fleet and of the companion, the fleet's RSS and
 * RSS per phone, percentiles per step. Run alone (`node bench/storm.ts 1000 2000 5000 10000`) or
 * from `make bench` (bench/run.ts). Prints a table; records the row `storm` in bench/results.json.
 * It asserts nothing: the machine's speed is not the product's. SEPI_STORM_RATE powers phones on
 * at a rate instead; SEPI_STORM_PROFILE=DIR writes CPU profiles of both processes; SEPI_STORM_SNMP=1
 * prints the server namespace's TCP and UDP counters after each run (drops, resets).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Lab } from '../test/support/lab.ts';
import { SEPI, tempDir } from '../test/support/sepi.ts';
import { stormLab } from '../test/support/storm-lab.ts';
import { processCpu, totalSeconds } from './proc-cpu.ts';

export interface StormPoint {
  phones: number;
  registered: number;
  allRegisteredMs: number | null;
  fleetCpuMs: number;
  companionCpuMs: number;
  fleetRssMiB: number;
  rssPerPhoneKiB: number | null;
  steps: Record<string, { p50: number | null; p90: number | null; p99: number | null }>;
  failures: Record<string, number>;
  /** Every 5th second of the fleet's progress: phones with a lease, a configuration, registered. */
  timeline: Array<[t: number, dhcp: number, config: number, register: number]>;
}

/** SEPI_STORM_PROFILE=DIR writes a V8 CPU profile of the companion and of the fleet per run (to find what the storm costs). */
function profileEnv(who: string, n: number): NodeJS.ProcessEnv {
  const dir = process.env['SEPI_STORM_PROFILE'];
  return dir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir} --cpu-prof-name=${who}-${n}.cpuprofile` } : {};
}

/** User + system CPU of a process so far (ms). */
const cpuMsOf = async (pid: number): Promise<number> => totalSeconds(await processCpu(pid)) * 1000;

/** Phones powered on per second (`--rate`); 0, the default, is all at once. SEPI_STORM_RATE for another. */
const RATE = Number(process.env['SEPI_STORM_RATE'] ?? 0);

export async function storm(counts: number[], o: { timeoutSecs?: number; rate?: number } = {}): Promise<StormPoint[]> {
  const points: StormPoint[] = [];
  for (const n of counts) {
    const data = await tempDir(`storm-${n}`);
    let lab: Lab | undefined;
    try {
      const storm = await stormLab('10.100.0', data, {
        poolLast: '10.100.254.254', dnRange: ['100000', '139999'], perAddressBurst: 20000, perAddressPerMinute: 1000000, maxUnregisteredPerAddress: 20000,
      }, profileEnv('companion', n));
      lab = storm.lab;
      const cm = storm.companion;
      const ns = storm.fleetHost;
      const cpu0 = await cpuMsOf(cm.child.pid!);
      const fleet = lab.spawn('fleet', ns, SEPI, ['fleet', '--iface', 'eth0', '--count', String(n), '--mac-base', '02:5f:00:00:00:00', '--memory-nvram', '--rate', String(o.rate ?? RATE), '--until', 'registered-any', '--timeout', String(o.timeoutSecs ?? 300), '--json'], { NODE_OPTIONS: `--expose-gc --max-old-space-size=8192 ${profileEnv('fleet', n)['NODE_OPTIONS'] ?? ''}` });
      await fleet.exit((o.timeoutSecs ?? 300) * 1000 + 120_000);
      if (process.env['SEPI_STORM_SNMP']) process.stdout.write((await lab.ns(lab.server, 'cat', '/proc/net/snmp')).split('\n').filter((l) => l.startsWith('Tcp:') || l.startsWith('Udp:')).join('\n') + '\n');
      const summary = fleet.events().find((e) => e['type'] === 'summary') as Record<string, unknown> | undefined;
      if (!summary) throw new Error(`fleet of ${n} gave no summary:\n${fleet.tail()}`);
      const steps = summary['steps'] as StormPoint['steps'];
      points.push({
        phones: n, registered: Number(summary['reached']), allRegisteredMs: summary['reached'] === n ? Number(summary['lastMs']) : null,
        fleetCpuMs: Number(summary['cpuMs']), companionCpuMs: Math.round((await cpuMsOf(cm.child.pid!)) - cpu0),
        fleetRssMiB: Math.round(Number(summary['rssBytes']) / 1048576), rssPerPhoneKiB: summary['rssPerPhoneBytes'] === null ? null : Math.round(Number(summary['rssPerPhoneBytes']) / 1024),
        steps: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, { p50: v.p50, p90: v.p90, p99: v.p99 }])),
        failures: summary['failures'] as Record<string, number>,
        timeline: fleet.events().filter((e) => e['type'] === 'progress').filter((_, i) => i % 5 === 4)
          .map((e) => [Math.round(Number(e['t']) / 1000), Number(e['dhcp']), Number(e['config']), Number(e['register'])]),
      });
    } finally {
      await lab?.destroy();
      await rm(data, { recursive: true, force: true });
    }
  }
  return points;
}

export function stormTable(points: StormPoint[]): string {
  const s = (ms: number | null) => (ms === null ? '   -  ' : `${(ms / 1000).toFixed(1).padStart(5)} s`);
  return [
    'boot storm: N phones at once in one sepi fleet process against the companion (trust on), until all registered:',
    '   phones  registered   all in   fleet CPU   cm CPU   fleet RSS  per phone   DHCP p50/p99    register p50/p99',
    ...points.map((p) => `  ${String(p.phones).padStart(7)} ${String(p.registered).padStart(11)}  ${s(p.allRegisteredMs)}  ${s(p.fleetCpuMs)}  ${s(p.companionCpuMs)}  ${String(p.fleetRssMiB).padStart(6)} MiB  ${String(p.rssPerPhoneKiB ?? '-').padStart(5)} KiB  ${s(p.steps['dhcp']?.p50 ?? null)}/${s(p.steps['dhcp']?.p99 ?? null)}  ${s(p.steps['register']?.p50 ?? null)}/${s(p.steps['register']?.p99 ?? null)}`),
  ].join('\n') + '\n';
}

if (import.meta.main) {
  const counts = process.argv.slice(2).map(Number).filter((n) => n > 0);
  const points = await storm(counts.length ? counts : [1000, 2000, 5000, 10000]);
  process.stdout.write(stormTable(points));
  for (const p of points) {
    if (Object.keys(p.failures).length) process.stdout.write(`  ${p.phones}: ${JSON.stringify(p.failures)}\n`);
    process.stdout.write(`  ${p.phones} [s, dhcp, config, register]: ${p.timeline.map((x) => `[${x.join(',')}]`).join(' ')}\n`);
  }
  const { recordRow } = await import('./results.ts');
  await recordRow('storm', { points });
}
