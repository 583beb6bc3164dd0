/**
 * `sepi fleet`: many emulated phones in one process on one interface (the interface keeps its
 * own address; each phone's lease is its own in name only). Prints a summary, and with --json
 * one line of JSON: how many registered, boot times, and the process's memory.
 */
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { MacAddress } from '../wire/mac.ts';
import { modelByName } from '../wire/models.ts';
import { SystemClock } from '../common/clock.ts';
import { Firmware } from '../phone/firmware.ts';
import { NodeNetwork, UnmanagedInterface } from '../phone/node-ports.ts';
import { Nvram } from '../phone/nvram.ts';
import { UsageError, parse, positiveInt, required } from './args.ts';
import { type UntilGoal, reaches, settingsFromFlags } from './phone-command.ts';

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
  const until = (v.until ?? 'registered') as UntilGoal;
  const timeoutSecs = positiveInt(v.timeout, '--timeout', 300);
  const root = v['nvram-root'] ?? join(tmpdir(), `sepi-fleet-${process.pid}`);
  const stagger = v['stagger-ms'] === undefined ? 20 : Number(v['stagger-ms']);
  const clock = new SystemClock();
  const network = new NodeNetwork();
  const baseInt = BigInt(`0x${base.hex}`);
  const started = Date.now();
  const reachedAt = new Map<string, number>();
  const phones: Firmware[] = [];
  let finish: () => void = () => {};
  const all = new Promise<void>((r) => (finish = r));
  for (let i = 0; i < count; i++) {
    const mac = MacAddress.parse((baseInt + BigInt(i)).toString(16).padStart(12, '0'))!;
    const fw = new Firmware({
      mac, model, network, iface: new UnmanagedInterface(iface), clock, nvram: new Nvram(join(root, mac.deviceName)),
      settingsOverride: settingsFromFlags(v),
      onEvent: (e) => {
        if (!reachedAt.has(mac.hex) && reaches(until, e)) {
          reachedAt.set(mac.hex, Date.now() - started);
          if (reachedAt.size === count) finish();
        }
      },
    });
    phones.push(fw);
    fw.powerOn();
    if (stagger > 0) await clock.sleep(stagger);
  }
  const deadline = new AbortController();
  const timedOut = await Promise.race([all.then(() => false), clock.sleep(timeoutSecs * 1000, deadline.signal).then(() => true, () => false)]);
  deadline.abort();
  global.gc?.();
  const mem = process.memoryUsage();
  const times = [...reachedAt.values()].sort((a, b) => a - b);
  const summary = {
    count, reached: reachedAt.size, until, timedOut,
    firstMs: times[0] ?? null, medianMs: times[Math.floor(times.length / 2)] ?? null, lastMs: times.at(-1) ?? null,
    rssBytes: mem.rss, heapUsedBytes: mem.heapUsed,
    // What the phones that did not make it were last doing, so a lab can see why.
    stragglers: phones.filter((p) => !reachedAt.has(p.status.deviceName.slice(3))).slice(0, 20).map((p) => ({ device: p.status.deviceName, phase: p.status.phase, last: p.status.problem ?? p.status.log.at(-1) ?? '' })),
  };
  await Promise.all(phones.map((p) => p.powerOff()));
  await network.close();
  if (v.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else {
    process.stdout.write(`${summary.reached}/${count} phones reached ${until}${timedOut ? ` (timed out after ${timeoutSecs} s)` : ''}; median ${summary.medianMs} ms; RSS ${(mem.rss / 1048576).toFixed(1)} MiB, heap ${(mem.heapUsed / 1048576).toFixed(1)} MiB\n`);
    for (const s of summary.stragglers) process.stdout.write(`  ${s.device}: ${s.phase}: ${s.last}\n`);
  }
  return summary.reached === count ? 0 : 1;
}
