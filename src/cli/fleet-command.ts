/**
 * `sepi fleet`: many emulated phones in one process on one interface (the interface keeps its
 * own address; each phone's lease is its own in name only). Flags in, handsets out; the
 * statistics are a subscriber on each handset (phone/fleet-stats.ts). Prints a summary, and
 * with --json one line of JSON: how many reached the goal, when, and the process's memory.
 */
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { MacAddress } from '../wire/mac.ts';
import { modelByName } from '../wire/models.ts';
import { SystemClock } from '../common/clock.ts';
import { FleetStats } from '../phone/fleet-stats.ts';
import { Handset } from '../phone/handset.ts';
import { NodeNetwork, UnmanagedInterface } from '../phone/node-ports.ts';
import { FileNvram } from '../phone/nvram.ts';
import { UsageError, parse, positiveInt, required } from './args.ts';
import { settingsFromFlags, untilGoal } from './phone-command.ts';

export async function fleetCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    iface: { type: 'string' }, count: { type: 'string' }, 'mac-base': { type: 'string' }, model: { type: 'string' },
    'nvram-root': { type: 'string' }, until: { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean' },
    'tftp-server': { type: 'string' }, 'stagger-ms': { type: 'string' },
  });
  const iface = required(v.iface, '--iface');
  const count = positiveInt(v.count, '--count', 10);
  const base = MacAddress.parse(v['mac-base'] ?? '02:5e:91:00:00:00');
  if (!base) throw new UsageError('--mac-base must be a MAC address');
  const model = modelByName(v.model ?? '8841');
  if (!model) throw new UsageError('--model is not a known model');
  const until = untilGoal(v.until ?? 'registered')!;
  const timeoutSecs = positiveInt(v.timeout, '--timeout', 300);
  const root = v['nvram-root'] ?? join(tmpdir(), `sepi-fleet-${process.pid}`);
  const stagger = v['stagger-ms'] === undefined ? 20 : Number(v['stagger-ms']);
  if (!Number.isInteger(stagger) || stagger < 0) throw new UsageError('--stagger-ms must be a whole number of milliseconds');
  const settingsOverride = settingsFromFlags(v);

  const clock = new SystemClock();
  const network = new NodeNetwork();
  const stats = new FleetStats(until, count, clock);
  const baseInt = BigInt(`0x${base.hex}`);
  const phones: Handset[] = [];
  for (let i = 0; i < count; i++) {
    const mac = MacAddress.parse((baseInt + BigInt(i)).toString(16).padStart(12, '0'))!;
    const phone = new Handset({ mac, model, network, iface: new UnmanagedInterface(iface), clock, nvram: new FileNvram(join(root, mac.deviceName)), settingsOverride });
    stats.watch(phone);
    phones.push(phone);
    phone.powerOn();
    if (stagger > 0) await clock.sleep(stagger);
  }
  const timedOut = await stats.settled(timeoutSecs * 1000);
  global.gc?.();
  const summary = stats.summary(phones, timedOut, process.memoryUsage());
  await Promise.all(phones.map((p) => p.powerOff()));
  await network.close();
  if (v.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else {
    process.stdout.write(`${summary.reached}/${count} phones reached ${until}${timedOut ? ` (timed out after ${timeoutSecs} s)` : ''}; median ${summary.medianMs} ms; RSS ${(summary.rssBytes / 1048576).toFixed(1)} MiB, heap ${(summary.heapUsedBytes / 1048576).toFixed(1)} MiB\n`);
    for (const s of summary.stragglers) process.stdout.write(`  ${s.device}: ${s.phase}: ${s.last}\n`);
  }
  return summary.reached === count ? 0 : 1;
}
