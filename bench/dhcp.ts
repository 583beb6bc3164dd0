/**
 * The DHCP row of `make bench`: 4-way exchanges (DISCOVER, OFFER, REQUEST, ACK) completed per
 * second by the companion, Kea (kea-dhcp4 2.2, memfile leases, its packaged INFO logging) and
 * dnsmasq, in the same run, one after the other in the server namespace of one lab, each from an
 * empty lease store, with the same pool (a /16, 65,000 addresses), options and lease time.
 *
 * The load is ISC's perfdhcp (Debian's kea-admin) acting as a relay: it sends from its own
 * address with giaddr set and hears replies on port 67, the way a router's DHCP relay would — a
 * server that broadcasts its replies scores nothing. Two offered rates: the issue's 5,000/s, and
 * a higher one to find each server's ceiling. sepi and Kea are run ROUNDS times, alternating,
 * and the median is quoted with every run beside it (this is a shared 2-core machine: perfdhcp,
 * the server and the kernel compete for the cores, and other work on the machine moves the
 * figures from run to run). Beside each rate, the CPU time the server process used per exchange
 * (user + system of all its threads, from /proc): what an exchange costs the server, a figure
 * the machine's other work moves much less than the rate. Then sepi's own generator (dhcp-load.ts: each MAC once, so every
 * exchange is a new lease; it counts only replies unicast to the relay and checks that no
 * address went to two MACs) against all three.
 *
 * Figures are printed and written to bench/results.json (row "dhcp"); nothing is asserted.
 *
 *   node bench/dhcp.ts            this row alone
 *   SEPI_BENCH_DHCP_RATES=5000,12000 SEPI_BENCH_DHCP_CLIENTS=20000 SEPI_BENCH_DHCP_SECONDS=20
 *   SEPI_BENCH_DHCP_ROUNDS=3 SEPI_BENCH_DHCP_SERVERS=sepi,kea,dnsmasq
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Lab } from '../test/support/lab.ts';
import { type Proc, needs } from '../test/support/proc.ts';
import { ROOT, startCompanion, tempDir } from '../test/support/sepi.ts';
import { processCpu, totalSeconds } from './proc-cpu.ts';
import { recordRow } from './results.ts';

type Server = 'sepi' | 'kea' | 'dnsmasq';
const env = (name: string, fallback: string) => process.env[`SEPI_BENCH_DHCP_${name}`] ?? fallback;
const RATES = env('RATES', '5000,12000').split(',').map(Number);
const CLIENTS = Number(env('CLIENTS', '20000'));
/** perfdhcp's test period at the first rate; the ceiling runs take half. */
const SECONDS = Number(env('SECONDS', '20'));
const ROUNDS = Number(env('ROUNDS', '3'));
const SERVERS = env('SERVERS', 'sepi,kea,dnsmasq').split(',') as Server[];
const SUBNET = '10.93.0';
const SERVER = `${SUBNET}.1`;
const RELAY = `${SUBNET}.60`;
/** A /16 so 20,000 clients fit: 10.93.1.0 – 10.93.255.254, the same for every server. */
const POOL = { first: '10.93.1.0', last: '10.93.255.254', prefix: 16, mask: '255.255.0.0' };
const LEASE_SECS = 3600;
const LOAD = join(ROOT, 'bench/dhcp-load.ts');
const LABEL: Record<Server, string> = { sepi: 'sepi', kea: 'Kea', dnsmasq: 'dnsmasq' };

export interface PerfdhcpRun {
  /** perfdhcp's "Rate:" line: 4-way exchanges per second over the test period. */
  rate: number;
  /**
   * CPU time the server process used (user + system, all its threads, from /proc) per exchange
   * completed, in µs: what one exchange costs the server, much less moved by other work on the
   * machine than the rate is.
   */
  cpuMicros: number;
  /** DISCOVERs and REQUESTs sent, OFFERs and ACKs received. */
  sent: { discover: number; request: number };
  received: { offer: number; ack: number };
}

export interface LoadRun {
  exchangesPerSecond: number;
  acked: number;
  duplicates: number;
  naks: number;
  retransmits: number;
}

function perfdhcpFigures(p: Proc): PerfdhcpRun {
  const out = [...p.lines, ...p.errLines].join('\n');
  const rate = /Rate:\s*([\d.]+)\s*4-way exchanges/.exec(out);
  // "sent packets: N" / "received packets: N" appear once per exchange kind: DO first, then RA.
  const sent = [...out.matchAll(/sent packets:\s*(\d+)/g)].map((m) => Number(m[1]));
  const received = [...out.matchAll(/received packets:\s*(\d+)/g)].map((m) => Number(m[1]));
  if (!rate) throw new Error(`perfdhcp printed no rate:\n${p.tail(60)}`);
  return { rate: Math.round(Number(rate[1])), cpuMicros: 0, sent: { discover: sent[0] ?? 0, request: sent[1] ?? 0 }, received: { offer: received[0] ?? 0, ack: received[1] ?? 0 } };
}

/** User + system CPU seconds of a process so far (all its threads). */
const cpuSeconds = async (pid: number): Promise<number> => totalSeconds(await processCpu(pid));

async function perfdhcp(lab: Lab, ns: string, server: Proc, label: string, rate: number, seconds: number): Promise<PerfdhcpRun> {
  const pid = server.child.pid!;
  const before = await cpuSeconds(pid);
  // -l: send from the relay's address, so giaddr is set and replies come back to it on port 67.
  const p = lab.spawn(`perfdhcp-${label}`, ns, 'perfdhcp', ['-4', '-l', RELAY, '-r', String(rate), '-R', String(CLIENTS), '-p', String(seconds), '-b', 'mac=02:5e:01:00:00:00', '-g', 'single', SERVER]);
  await p.exit((seconds + 60) * 1000);
  const used = (await cpuSeconds(pid)) - before;
  const f = perfdhcpFigures(p);
  return { ...f, cpuMicros: f.rate > 0 ? Math.round((used * 1e6) / (f.rate * seconds)) : 0 };
}

async function load(lab: Lab, ns: string, label: string, rate: number): Promise<LoadRun> {
  const p = lab.spawn(`load-${label}`, ns, process.execPath, [LOAD, '--server', SERVER, '--relay', RELAY, '--rate', String(rate), '--clients', String(CLIENTS), '--mac-base', '025e02000000', '--json', '--max-secs', '120']);
  await p.exit(200_000);
  const s = p.events().find((e) => e['summary']);
  if (!s) throw new Error(`dhcp-load printed no summary:\n${p.tail(40)}`);
  return { exchangesPerSecond: Math.round(Number(s['exchangesPerSecond'])), acked: Number(s['acked']), duplicates: Number(s['duplicates']), naks: Number(s['nak']), retransmits: Number(s['retransmit']) };
}

async function kea(lab: Lab, dir: string): Promise<Proc> {
  const conf = join(dir, 'kea-dhcp4.json');
  await writeFile(conf, JSON.stringify({
    Dhcp4: {
      'interfaces-config': { interfaces: ['br0'], 'dhcp-socket-type': 'udp' },
      'lease-database': { type: 'memfile', persist: true, name: join(dir, 'leases4.csv'), 'lfc-interval': 0 },
      'valid-lifetime': LEASE_SECS, 'renew-timer': LEASE_SECS / 2, 'rebind-timer': (LEASE_SECS * 7) / 8,
      subnet4: [{
        id: 1, subnet: `${SUBNET.split('.').slice(0, 2).join('.')}.0.0/${POOL.prefix}`, pools: [{ pool: `${POOL.first} - ${POOL.last}` }],
        'option-data': [
          { name: 'routers', data: SERVER }, { name: 'domain-name-servers', data: SERVER }, { name: 'tftp-server-name', data: SERVER },
          { code: 150, 'csv-format': false, data: Buffer.from(SERVER.split('.').map(Number)).toString('hex') },
        ],
      }],
      // Its packaged default: INFO, one line per lease allocated.
      loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'INFO' }],
    },
  }, null, 2));
  const p = lab.spawn('kea-dhcp4', lab.server, 'kea-dhcp4', ['-c', conf], { KEA_LOCKFILE_DIR: dir, KEA_PIDFILE_DIR: dir });
  await p.waitForLine(/DHCP4_STARTED/, 30_000);
  return p;
}

async function dnsmasq(lab: Lab, dir: string): Promise<Proc> {
  const p = lab.spawn('dnsmasq', lab.server, 'dnsmasq', [
    '--keep-in-foreground', '--conf-file=/dev/null', '--interface=br0', '--bind-interfaces', '--port=0', '--no-ping', '--log-facility=-',
    `--dhcp-range=${POOL.first},${POOL.last},${POOL.mask},${LEASE_SECS}`, `--dhcp-option=150,${SERVER}`, `--dhcp-option=66,${SERVER}`,
    `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, '--dhcp-lease-max=200000', '--user=root', '--pid-file=',
  ]);
  await p.waitFor('dnsmasq started', () => [...p.lines, ...p.errLines].some((l) => /started|DHCP, IP range/.test(l)) || undefined, 15_000);
  return p;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : Math.round((s[s.length / 2 - 1]! + s[s.length / 2]!) / 2);
};

export async function benchDhcp(): Promise<{ lines: string[]; figures: Record<string, unknown> }> {
  await needs('perfdhcp', 'kea-dhcp4', 'dnsmasq');
  const work = await tempDir('bench-dhcp');
  const lab = await Lab.create(SUBNET);
  const perf: Record<string, Partial<Record<Server, PerfdhcpRun[]>>> = {};
  const own: Partial<Record<Server, LoadRun>> = {};
  try {
    const ns = await lab.addHost('relay', { address: `${RELAY}/24` });
    let round = 0;
    /** A server with an empty lease store in a folder of its own. */
    const fresh = async (name: Server): Promise<Proc> => {
      const dir = join(work, `${name}-${round++}`);
      await mkdir(dir);
      // SEPI_BENCH_DHCP_NODE_OPTIONS: Node flags for the companion (--cpu-prof, say) when looking into a figure.
      if (name === 'sepi') return startCompanion(lab, dir, { prefix: POOL.prefix, security: { mode: 'none' }, dhcp: { poolFirst: POOL.first, poolLast: POOL.last, leaseSecs: LEASE_SECS } }, { env: { NODE_OPTIONS: env('NODE_OPTIONS', '') } });
      if (name === 'kea') return kea(lab, dir);
      return dnsmasq(lab, dir);
    };
    for (const [i, rate] of RATES.entries()) {
      const seconds = i === 0 ? SECONDS : Math.max(5, Math.round(SECONDS / 2));
      const runs: Partial<Record<Server, PerfdhcpRun[]>> = (perf[String(rate)] = {});
      // sepi and Kea alternate, so a slow spell of the machine hits both; dnsmasq (far slower) once, at the first rate.
      const order = SERVERS.filter((s) => s !== 'dnsmasq');
      for (let r = 0; r < ROUNDS; r++) {
        for (const name of r % 2 ? [...order].reverse() : order) {
          const server = await fresh(name);
          (runs[name] ??= []).push(await perfdhcp(lab, ns, server, name, rate, seconds));
          await lab.stopAll();
        }
      }
      if (i === 0 && SERVERS.includes('dnsmasq')) {
        const server = await fresh('dnsmasq');
        runs.dnsmasq = [await perfdhcp(lab, ns, server, 'dnsmasq', rate, seconds)];
        await lab.stopAll();
      }
    }
    for (const name of SERVERS) {
      await fresh(name);
      own[name] = await load(lab, ns, name, RATES[0]!);
      await lab.stopAll();
    }
  } finally {
    await lab.destroy();
    await rm(work, { recursive: true, force: true });
  }

  const lines = [`DHCP through a relay (giaddr set, replies to port 67), ${CLIENTS} MACs, 4-way exchanges/s; perfdhcp: median of ${ROUNDS} runs for sepi and Kea [each run], OFFERs/ACKs received of DISCOVERs/REQUESTs sent in the median run:`];
  const medians: Record<string, Partial<Record<Server, number>>> = {};
  const cpuMedians: Record<string, Partial<Record<Server, number>>> = {};
  for (const [i, rate] of RATES.entries()) {
    const runs = perf[String(rate)]!;
    const m: Partial<Record<Server, number>> = (medians[String(rate)] = {});
    lines.push(`  perfdhcp, ${rate}/s offered for ${i === 0 ? SECONDS : Math.max(5, Math.round(SECONDS / 2))} s:`);
    for (const name of SERVERS) {
      const rs = runs[name];
      if (!rs) continue;
      m[name] = median(rs.map((x) => x.rate));
      const mid = rs.find((x) => x.rate === m[name]) ?? rs[0]!;
      const cpu = median(rs.map((x) => x.cpuMicros));
      (cpuMedians[String(rate)] ??= {})[name] = cpu;
      lines.push(`    ${LABEL[name].padEnd(8)} ${String(m[name]).padStart(6)}/s  [${rs.map((x) => x.rate).join(', ')}]  OFFER ${mid.received.offer}/${mid.sent.discover}, ACK ${mid.received.ack}/${mid.sent.request}; server CPU ${cpu} µs an exchange`);
    }
    const c = cpuMedians[String(rate)] ?? {};
    if (m.sepi && m.kea) lines.push(`    ratio sepi / Kea ${(m.sepi / m.kea).toFixed(2)}${m.dnsmasq ? `, sepi / dnsmasq ${(m.sepi / m.dnsmasq).toFixed(1)}` : ''}; CPU an exchange sepi / Kea ${c.sepi && c.kea ? (c.sepi / c.kea).toFixed(2) : '-'}`);
  }
  lines.push(`  dhcp-load (sepi's generator as the relay), ${CLIENTS} new MACs once each at ${RATES[0]}/s offered:`);
  for (const name of SERVERS) {
    const o = own[name]!;
    lines.push(`    ${LABEL[name].padEnd(8)} ${String(o.exchangesPerSecond).padStart(6)}/s  ${o.acked}/${CLIENTS} bound, ${o.naks} NAKs, ${o.retransmits} retransmissions, ${o.duplicates} addresses given twice`);
  }
  if (own.sepi && own.kea) lines.push(`    ratio sepi / Kea ${(own.sepi.exchangesPerSecond / own.kea.exchangesPerSecond).toFixed(2)}`);
  lines.push('  (2 shared cores: the generator, the server and the kernel compete; figures move run to run, read the ratios)');
  return { lines, figures: { clients: CLIENTS, rounds: ROUNDS, ratesOffered: RATES, perfdhcp: perf, perfdhcpMedians: medians, cpuMicrosPerExchange: cpuMedians, dhcpLoad: own } };
}

if (import.meta.main) {
  const { lines, figures } = await benchDhcp();
  process.stdout.write(lines.join('\n') + '\n');
  await recordRow('dhcp', figures);
}
