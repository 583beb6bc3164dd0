/**
 * `sepi fleet`: many emulated phones in one process on one interface (the interface keeps its
 * own address; each phone's lease is its own in name only). Flags in, handsets out. The phones
 * share one DHCP socket (fleet/shared-dhcp.ts), power on at a rate or all at once, and are
 * watched by one subscriber each (fleet/fleet-stats.ts) that feeds the live progress (a line on
 * a terminal, a JSON line a second with --json), the summary with percentiles per step and
 * failures by reason, and `--report FILE` (JSON and JUnit XML). A shard (`--shard-index`, or
 * the index a Kubernetes Indexed Job gives) takes its slice of the MAC range (fleet/shard.ts).
 * The phone's call flags work here too, for every phone (`--call 7001+`: phone i calls 7001 + i).
 */
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { MacAddress } from '../wire/mac.ts';
import { isIpv4 } from '../wire/ipv4.ts';
import { modelByName } from '../wire/models.ts';
import { SystemClock } from '../common/clock.ts';
import { FleetStats } from '../fleet/fleet-stats.ts';
import { progressJson, progressLine } from '../fleet/progress.ts';
import { type PhoneOutcome, writeReport } from '../fleet/report.ts';
import { SharedDhcpNetwork } from '../fleet/shared-dhcp.ts';
import { macOf, shardFor } from '../fleet/shard.ts';
import { Handset } from '../phone/handset.ts';
import { NodeNetwork, UnmanagedInterface } from '../phone/node-ports.ts';
import { FileNvram, MemoryNvram } from '../phone/nvram.ts';
import { UsageError, parse, positiveInt, required } from './args.ts';
import { reaches } from '../phone/goals.ts';
import { callOptionsFromFlags, settingsFromFlags, untilGoal } from './phone-command.ts';

export async function fleetCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    iface: { type: 'string' }, count: { type: 'string' }, 'mac-base': { type: 'string' }, model: { type: 'string' },
    'nvram-root': { type: 'string' }, 'memory-nvram': { type: 'boolean' }, until: { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean' },
    'tftp-server': { type: 'string' }, 'stagger-ms': { type: 'string' }, rate: { type: 'string' }, report: { type: 'string' },
    'shard-index': { type: 'string' }, 'shard-index-env': { type: 'string' }, companions: { type: 'string' }, 'dry-run': { type: 'boolean' },
    call: { type: 'string' }, dtmf: { type: 'string' }, 'hangup-after': { type: 'string' }, 'auto-answer': { type: 'boolean' }, 'audio-file': { type: 'string' },
  });
  // The phone's call flags, for every phone of the fleet; `--call 7001+` has phone i call 7001 + i.
  const callTo = v.call;
  if (callTo !== undefined && !/^(\d{1,15}\+|[0-9*#+A-Za-z._-]{1,32})$/.test(callTo)) throw new UsageError('--call takes a directory number, or NUMBER+ (phone i calls NUMBER + i)');
  const callOptions = await callOptionsFromFlags(v);
  const count = positiveInt(v.count, '--count', 10);
  const base = MacAddress.parse(v['mac-base'] ?? '02:5e:91:00:00:00');
  if (!base) throw new UsageError('--mac-base must be a MAC address');
  const model = modelByName(v.model ?? '8841');
  if (!model) throw new UsageError('--model is not a known model');
  const until = untilGoal(v.until ?? 'registered')!;
  const timeoutSecs = positiveInt(v.timeout, '--timeout', 300);
  const rate = powerOnRate(v.rate, v['stagger-ms']);

  // A shard of a bigger run: its index from the flag or from the environment (JOB_COMPLETION_INDEX).
  const indexText = v['shard-index'] ?? (v['shard-index-env'] ? process.env[v['shard-index-env']] : undefined);
  if (v['shard-index-env'] && indexText === undefined) throw new UsageError(`--shard-index-env ${v['shard-index-env']}: that variable is not set`);
  const companions = v.companions ? v.companions.split(',') : [];
  if (companions.some((c) => !isIpv4(c))) throw new UsageError('--companions takes IPv4 addresses, comma-separated');
  let shard;
  try {
    if (indexText !== undefined && !/^\d{1,9}$/.test(indexText)) throw new UsageError(`shard index "${indexText}" is not a whole number >= 0`);
    shard = shardFor(indexText === undefined ? 0 : Number(indexText), count, base, companions);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message);
  }
  const tftpServer = v['tftp-server'] ?? shard.companion;
  if (v['dry-run']) {
    process.stdout.write(JSON.stringify({ shard: shard.index, count, firstMac: shard.firstMac.hex, lastMac: shard.lastMac.hex, companion: tftpServer ?? null, until, rate: rate ?? 'all-at-once' }) + '\n');
    return 0;
  }
  const iface = required(v.iface, '--iface');
  const settingsOverride = settingsFromFlags({ 'tftp-server': tftpServer, static: undefined });
  const root = v['nvram-root'] ?? join(tmpdir(), `sepi-fleet-${process.pid}`);

  const clock = new SystemClock();
  // Half the companion's 64 HTTP connections an address may hold: the rest wait their turn.
  const network = new SharedDhcpNetwork(new NodeNetwork(undefined, { connectionsPerOrigin: 32 }));
  const stats = new FleetStats(until, count, clock);
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const cpuBefore = process.cpuUsage();
  const phones: Handset[] = [];
  const showProgress = startProgress(stats, count, until, { json: v.json ?? false, tty: process.stderr.isTTY });
  const started = clock.now();
  for (let i = 0; i < count; i++) {
    const mac = macOf(shard.firstMac, i);
    const nvram = v['memory-nvram'] ? new MemoryNvram() : new FileNvram(join(root, mac.deviceName));
    const phone = new Handset({ mac, model, network, iface: new UnmanagedInterface(iface), clock, nvram, settingsOverride, calls: callOptions });
    stats.watch(phone);
    if (callTo !== undefined) dialOnceRegistered(phone, callTo.endsWith('+') ? String(BigInt(callTo.slice(0, -1)) + BigInt(i)) : callTo, clock);
    phones.push(phone);
    phone.powerOn();
    // At the rate: phone i powers on at i/rate seconds (sleeping only when ahead of that schedule).
    if (rate !== undefined) {
      const ahead = started + ((i + 1) / rate) * 1000 - clock.now();
      if (ahead >= 1) await clock.sleep(ahead);
    } else if (i % 256 === 255) await new Promise((r) => setImmediate(r)); // all at once, but let the sockets breathe
  }
  const timedOut = await stats.settled(timeoutSecs * 1000);
  showProgress.stop();
  global.gc?.();
  const summary = stats.summary(phones, timedOut, process.memoryUsage(), rssBefore, process.cpuUsage(cpuBefore));
  if (v.report) {
    const outcomes: PhoneOutcome[] = phones.map((p) => ({ device: p.deviceName, reachedMs: stats.reachedMs(p.deviceName), phase: p.status.phase, last: p.status.problem ?? p.status.log.at(-1) ?? '' }));
    const written = await writeReport(v.report, summary, outcomes);
    process.stderr.write(`sepi fleet: report in ${written.json} and ${written.junit}\n`);
  }
  await Promise.all(phones.map((p) => p.powerOff()));
  await network.close();
  if (v.json) process.stdout.write(JSON.stringify({ type: 'summary', ...summary }) + '\n');
  else process.stdout.write(summaryText(summary, timeoutSecs));
  return summary.reached === count ? 0 : 1;
}

/** Dials once, the first time the phone registers on its own configuration (as sepi phone --call). */
function dialOnceRegistered(phone: Handset, number: string, clock: SystemClock): void {
  const unsubscribe = phone.subscribe((e) => {
    if (!reaches('registered', e)) return;
    unsubscribe();
    // A phone that cannot dial stays short of --until call-ended: a straggler, with what it was doing.
    clock.timer(0, () => void phone.firmware.calls.dial(number));
  });
}

/** Phones per second from --rate, or from the older --stagger-ms; undefined means all at once. */
function powerOnRate(rate: string | undefined, staggerMs: string | undefined): number | undefined {
  if (rate !== undefined) {
    const r = Number(rate);
    if (!(r >= 0) || !Number.isFinite(r)) throw new UsageError('--rate takes phones per second (0: all at once)');
    return r === 0 ? undefined : r;
  }
  if (staggerMs === undefined) return 50;
  const s = Number(staggerMs);
  if (!Number.isInteger(s) || s < 0) throw new UsageError('--stagger-ms must be a whole number of milliseconds');
  return s === 0 ? undefined : 1000 / s;
}

function startProgress(stats: FleetStats, count: number, goal: string, o: { json: boolean; tty: boolean }): { stop(): void } {
  if (!o.json && !o.tty) return { stop() {} };
  const tick = () => {
    const p = stats.progress();
    if (o.json) process.stdout.write(progressJson(p));
    else process.stderr.write(`\r${progressLine(p, count, goal)}\x1b[K`);
  };
  const timer = setInterval(tick, 1000);
  return {
    stop() {
      clearInterval(timer);
      tick();
      if (!o.json) process.stderr.write('\n');
    },
  };
}

function summaryText(s: ReturnType<FleetStats['summary']>, timeoutSecs: number): string {
  const ms = (x: number | null) => (x === null ? '-' : `${x} ms`);
  const lines = [
    `${s.reached}/${s.count} phones reached ${s.until}${s.timedOut ? ` (timed out after ${timeoutSecs} s)` : ''}; last at ${ms(s.lastMs)}`,
    ...(['dhcp', 'config', 'register'] as const).map((k) => `  ${k.padEnd(8)} n=${s.steps[k].n} p50 ${ms(s.steps[k].p50)} p90 ${ms(s.steps[k].p90)} p99 ${ms(s.steps[k].p99)}`),
    `  CPU ${(s.cpuMs / 1000).toFixed(1)} s; RSS ${(s.rssBytes / 1048576).toFixed(1)} MiB (${s.rssPerPhoneBytes === null ? '-' : `${(s.rssPerPhoneBytes / 1024).toFixed(0)} KiB`} a phone), heap ${(s.heapUsedBytes / 1048576).toFixed(1)} MiB`,
    ...Object.entries(s.failures).slice(0, 10).map(([k, n]) => `  ${n} × ${k}`),
    ...s.stragglers.map((x) => `  ${x.device}: ${x.phase}: ${x.last}`),
  ];
  return lines.join('\n') + '\n';
}
