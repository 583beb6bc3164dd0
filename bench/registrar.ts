/**
 * SIP REGISTERs per second, the companion against kamailio in the same run (issue 12): SIPp
 * registers known phones (Cisco Contacts: +sip.instance, +u.sip!devicename, From = the DN) as
 * fast as each server answers, over TCP, in the server namespace of a lab (root):
 *
 *  (a) one TCP socket for everything (`-t t1`), SEPI_BENCH_REG_T1 REGISTERs (100,000);
 *  (b) a socket per REGISTER (`-t tn`: connect, REGISTER, 200, close), SEPI_BENCH_REG_TN (10,000);
 *  (c) digest: REGISTER, 401, REGISTER with Authorization, 200, on one socket,
 *      SEPI_BENCH_REG_AUTH registrations (30,000), all of one phone (see AUTHED);
 *  (d) 10,000 TCP connections held at once (SEPI_BENCH_REG_HOLD), each registering a phone,
 *      then each refreshing on its own connection (test/support/sip-hold.ts): resets counted.
 *
 * SIPp runs closed-loop: at most SEPI_BENCH_REG_LIMIT (1000) registrations in progress (`-l`),
 * a new one as soon as one ends (`-r` far above either server's rate) — a floor of phones
 * registering together, each waiting for its own answer. The companion answers a batch after
 * its group commit, so with few in progress it waits on the disk with nothing else to do
 * (200 in progress: 0.38 of kamailio's rate where 1000 gave 0.58, in one run). Each phone is a line of
 * an injection file used in turn; the companion knows them all (written into its database
 * before it starts, test/support/registrar-phones.ts), kamailio saves whatever comes.
 *
 *  - companion: `sepi cm serve`, security none, DHCP/TFTP/HTTP off; bindings durable before
 *    each 200 (group commit, SQLite WAL synchronous=FULL). sip.maxUnregisteredPerAddress is
 *    raised (SIPp is one address with many connections); its digest is qop=auth, MD5.
 *  - kamailio: registrar + usrloc in memory (db_mode 0: nothing written, nothing survives a
 *    restart), 2 TCP workers; digest with the auth module's pv_auth_check against a fixed
 *    password (no database), qop=auth.
 *
 * Each mode runs SEPI_BENCH_REG_ROUNDS times (3) per server, alternating which goes first; the
 * run with the median rate is shown, all rates beside it.
 * Figures: SIPp's successful and failed registrations, their rate over the run, the server's
 * CPU time (user + system, all its threads and processes, from /proc) per registration, and
 * for (b) the TCP resets SIPp met. Asserts nothing.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { kamailioConfig } from '../test/support/kamailio.ts';
import { registerExchange } from '../test/support/sipp-xml.ts';
import { processCpu, processTreeCpu } from './proc-cpu.ts';
import { printAndRecord } from './results.ts';
import { Lab } from '../test/support/lab.ts';
import { type Proc, needs } from '../test/support/proc.ts';
import { provisionPhones, sippPhones } from '../test/support/registrar-phones.ts';
import { ROOT, startCompanion, tempDir } from '../test/support/sepi.ts';
import type { HoldFigures } from '../test/support/sip-hold.ts';

const NET = '10.82.0';
const IP = `${NET}.1`;
const num = (name: string, fallback: number) => Number(process.env[`SEPI_BENCH_REG_${name}`] ?? fallback);
const T1_CALLS = num('T1', 100_000);
const TN_CALLS = num('TN', 10_000);
const AUTH_CALLS = num('AUTH', 30_000);
const HOLD = num('HOLD', 10_000);
const LIMIT = num('LIMIT', 1000);
const PHONES = num('PHONES', 2000);
const ROUNDS = num('ROUNDS', 3);
const PASSWORD = 'bench-secret';
const OPEN = { count: PHONES, macBase: 0x02be00010000n, dnBase: 100000 };
// SIPp 3.6 takes the digest user name from -au, one for the whole run (an injection field
// inside [authentication] is not expanded), and the companion wants the line's DN as the user
// name: the digest run registers one phone over and over, each time with a new Call-ID.
const AUTHED = { count: 1, macBase: 0x02be00110000n, dnBase: 200000 };
const HELD = { count: HOLD, macBase: 0x02be00200000n, dnBase: 300000 };
const PORTS = { sepi: 5060, kamailio: 5070, kamailioAuth: 5072, floor: 5090 };

export interface RegisterRun {
  registrations: number;
  successful: number;
  failed: number;
  perSecond: number;
  elapsedSeconds: number;
  /** Server CPU (user + system) per successful registration. */
  cpuMicros: number;
  /** Of which in the kernel (system). */
  systemCpuMicros: number;
  /** TCP resets and broken pipes SIPp reported. */
  resets: number;
  /** SIPp's own CPU (user + system) per registration: near 1 s a second, SIPp is the limit. */
  sippCpuMicros: number;
}

type Mode = 't1' | 'tn' | 'auth';

/** Phone `[field0]` (its MAC) registers DN `[field1]` with a Cisco Contact; with digest when `auth` (SIPp's -au/-ap). */
const register = (auth: boolean) => `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="bench-register">
${registerExchange({
  user: '[field1]', tag: '[pid]r[call_number]',
  contactParams: ';+sip.instance="<urn:uuid:00000000-0000-0000-0000-[field0]>";+u.sip!devicename.ccm.cisco.com="SEP[field0]";+u.sip!model.ccm.cisco.com="683"',
  ...(auth ? { authentication: '[authentication]' } : {}),
})}</scenario>
`;

const KAMAILIO_CFG = kamailioConfig({
  purpose: `The registrar bench's kamailio: registrar + usrloc in memory; REGISTERs to port ${PORTS.kamailioAuth}\n`
    + 'must answer a digest challenge against one fixed password (auth module, no database).',
  globals: ['tcp_max_connections=15000', 'tcp_connection_lifetime=3605'],
  modules: ['auth'],
  modparams: ['modparam("auth", "qop", "auth")'],
  route: `if (is_method("REGISTER")) {
  if ($Rp == ${PORTS.kamailioAuth}) {
    if (!pv_auth_check("$td", "${PASSWORD}", "0", "1")) { auth_challenge("$td", "0"); exit; }
    consume_credentials();
  }
  if (!save("location")) sl_reply_error();
  exit;
}
if (is_method("OPTIONS")) { sl_send_reply("200", "OK"); exit; }
sl_send_reply("501", "Not Implemented");`,
});

/**
 * The run with the median rate (the lower middle of an even count), among the runs that
 * registered anything: kamailio now and then resets SIPp's connection at the very start of a
 * run (seen in runs of (a) and (c), never against the companion; the run then counts nothing),
 * which says nothing about its rate. Such runs stay in the list of all runs and their resets.
 */
function medianRun(rs: RegisterRun[]): RegisterRun {
  const ran = rs.filter((r) => r.successful > 0);
  const sorted = (ran.length ? ran : rs).slice().sort((a, b) => a.perSecond - b.perSecond);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** SIPp's -trace_stat file: the last row's totals. */
function parseStats(csv: string): { successful: number; failed: number; elapsedSeconds: number } {
  const rows = csv.trim().split('\n').map((l) => l.split(';'));
  const head = rows[0] ?? [];
  const last = rows.slice(1).filter((r) => r.length >= head.length - 1).at(-1) ?? [];
  const col = (name: string) => Number(last[head.indexOf(name)] ?? NaN);
  // ElapsedTime is in whole seconds; StartTime and CurrentTime end with the epoch in microseconds.
  const epoch = (name: string) => Number((last[head.indexOf(name)] ?? '').split(/\s+/).at(-1) ?? NaN);
  return { successful: col('SuccessfulCall(C)'), failed: col('FailedCall(C)'), elapsedSeconds: epoch('CurrentTime') - epoch('StartTime') };
}

async function sippRun(lab: Lab, from: { ns: string; ip: string }, work: string, label: string, port: number, mode: Mode, server: Proc, tree: boolean): Promise<RegisterRun> {
  const scenario = join(work, `${mode}.xml`);
  const stats = join(work, `${label}-${mode}.csv`);
  const errors = join(work, `${label}-${mode}.err`);
  const calls = mode === 't1' ? T1_CALLS : mode === 'tn' ? TN_CALLS : AUTH_CALLS;
  const cpu = () => (tree ? processTreeCpu(server.child.pid!) : processCpu(server.child.pid!));
  const before = await cpu();
  // Under /usr/bin/time: SIPp's own CPU says when the load generator, not the server, is the limit.
  const p = lab.spawn(`sipp-${label}-${mode}`, from.ns, '/usr/bin/time', ['-f', 'sipp-cpu %U %S', 'sipp',
    `${IP}:${port}`, '-sf', scenario, '-inf', join(work, mode === 'auth' ? 'authed.csv' : 'open.csv'), '-i', from.ip, '-p', '0', '-t', mode === 'tn' ? 'tn' : 't1', '-max_socket', '15000',
    ...(mode === 'auth' ? ['-au', String(AUTHED.dnBase), '-ap', PASSWORD] : []),
    '-r', '100000', '-l', String(LIMIT), '-m', String(calls), '-nostdin', '-timeout', '300s', '-max_recv_loops', '10000', '-max_sched_loops', '10000',
    '-trace_stat', '-stf', stats, '-fd', '1', '-trace_err', '-error_file', errors,
  ]);
  await p.exit(400_000);
  const after = await cpu();
  const used = after.user + after.system - before.user - before.system;
  const system = after.system - before.system;
  const s = parseStats(await readFile(stats, 'utf8').catch(() => ''));
  const errText = await readFile(errors, 'utf8').catch(() => '');
  const sippCpu = /sipp-cpu ([\d.]+) ([\d.]+)/.exec(p.errLines.join('\n'));
  const resets = (errText.match(/reset by peer|ECONNRESET|Broken pipe|EPIPE/gi) ?? []).length;
  return {
    registrations: calls, ...s, perSecond: s.elapsedSeconds > 0 ? Math.round(s.successful / s.elapsedSeconds) : 0,
    cpuMicros: s.successful > 0 ? Math.round((used * 1e6) / s.successful) : 0,
    systemCpuMicros: s.successful > 0 ? Math.round((system * 1e6) / s.successful) : 0, resets,
    sippCpuMicros: sippCpu && s.successful > 0 ? Math.round(((Number(sippCpu[1]) + Number(sippCpu[2])) * 1e6) / s.successful) : 0,
  };
}

async function holdRun(lab: Lab, ns: string, port: number, label: string): Promise<HoldFigures | { error: string }> {
  // Each side needs a descriptor per connection: the machine's limit (ulimit -n) must be above HOLD.
  const p = lab.spawn(`hold-${label}`, ns, process.execPath, [ '--disable-warning=ExperimentalWarning', join(ROOT, 'test/support/sip-hold.ts'),
    '--server', `${IP}:${port}`, '--count', String(HOLD), '--mac-base', HELD.macBase.toString(16).padStart(12, '0'), '--dn-base', String(HELD.dnBase), '--hold-secs', '5']);
  const code = await p.exit(300_000);
  const line = p.lines.find((l) => l.startsWith('{'));
  return code === 0 && line ? (JSON.parse(line) as HoldFigures) : { error: `exit ${code}: ${p.errLines.slice(-5).join(' | ')}` };
}

export async function benchRegistrar(): Promise<{ lines: string[]; figures: Record<string, unknown> }> {
  await needs('sipp', 'kamailio');
  const work = await tempDir('bench-registrar');
  const lab = await Lab.create(NET);
  try {
    await writeFile(join(work, 't1.xml'), register(false));
    await writeFile(join(work, 'tn.xml'), register(false));
    await writeFile(join(work, 'auth.xml'), register(true));
    await writeFile(join(work, 'open.csv'), sippPhones(OPEN));
    await writeFile(join(work, 'authed.csv'), sippPhones(AUTHED));
    // Each SIPp run and each hold from a host of its own on the LAN: SIPp closes each
    // connection of a socket-per-REGISTER run, so its side keeps them in TIME_WAIT for a
    // minute, and binding new ports grows slow as the range fills (SIPp binds before it
    // connects). A fresh host per run gives each server the same empty port range.
    let hosts = 2;
    const client = async (name: string): Promise<{ ns: string; ip: string }> => {
      const ip = `${NET}.${hosts++}`;
      const ns = await lab.addHost(name, { address: `${ip}/24` });
      await lab.ns(ns, 'sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=1024 65535');
      return { ns, ip };
    };

    const data = join(work, 'cm');
    await provisionPhones(data, [OPEN, { ...AUTHED, password: PASSWORD }, HELD]);
    const cm = await startCompanion(lab, data, {
      security: { mode: 'none' }, autoRegistration: { enabled: false }, dhcp: { enabled: false }, tftp: { enabled: false }, http: { enabled: false },
      sip: { maxUnregisteredPerAddress: 30_000 },
    }, { env: { NODE_OPTIONS: process.env['SEPI_BENCH_REG_NODE_OPTIONS'] ?? '' } });
    const kcfg = join(work, 'kamailio.cfg');
    await writeFile(kcfg, KAMAILIO_CFG);
    const kam = lab.spawn('kamailio', lab.server, 'kamailio', ['-DD', '-E', '-f', kcfg, '-l', `tcp:${IP}:${PORTS.kamailio}`, '-l', `tcp:${IP}:${PORTS.kamailioAuth}`, '-Y', work, '-P', join(work, 'k.pid'), '-m', '256', '-M', '32']);
    await lab.waitForTcp(lab.server, IP, PORTS.kamailio);

    // The Node floor (node-floor-registrar.ts) beside them, without digest (it checks nothing).
    const floor = lab.spawn('node-floor', lab.server, process.execPath, [join(ROOT, 'bench/node-floor-registrar.ts'), IP, String(PORTS.floor)]);
    await lab.waitForTcp(lab.server, IP, PORTS.floor);

    const runs = {} as Record<Mode, { sepi: RegisterRun[]; kamailio: RegisterRun[]; floor: RegisterRun[] }>;
    for (const mode of ['t1', 'tn', 'auth'] as const) {
      const r = (runs[mode] = { sepi: [] as RegisterRun[], kamailio: [] as RegisterRun[], floor: [] as RegisterRun[] });
      for (let round = 0; round < ROUNDS; round++) {
        const sepiRun = async () => r.sepi.push(await sippRun(lab, await client(`s-${mode}${round}`), work, 'sepi', PORTS.sepi, mode, cm, false));
        const kamRun = async () => r.kamailio.push(await sippRun(lab, await client(`k-${mode}${round}`), work, 'kamailio', mode === 'auth' ? PORTS.kamailioAuth : PORTS.kamailio, mode, kam, true));
        const floorRun = async () => {
          if (mode !== 'auth') r.floor.push(await sippRun(lab, await client(`f-${mode}${round}`), work, 'floor', PORTS.floor, mode, floor, false));
        };
        // Alternate who goes first, so a slow spell of the machine does not always hit the same one.
        for (const run of round % 2 === 0 ? [sepiRun, kamRun, floorRun] : [kamRun, floorRun, sepiRun]) await run();
      }
    }
    const holdSepi = await holdRun(lab, (await client('s-hold')).ns, PORTS.sepi, 'sepi');
    const holdKam = await holdRun(lab, (await client('k-hold')).ns, PORTS.kamailio, 'kamailio');
    const limits = cm.lines.filter((l) => /limit|storm/.test(l)).slice(-5);
    // What kamailio said (kept with SEPI_BENCH_KEEP=1).
    await writeFile(join(work, 'kamailio.log'), [...kam.lines, ...kam.errLines].join('\n'));
    await lab.stopAll();

    const title: Record<Mode, string> = { t1: '(a) one TCP socket', tn: '(b) a socket per REGISTER', auth: '(c) digest (401, then authorised), one socket' };
    const row = (name: string, r: RegisterRun) =>
      `    ${name.padEnd(10)} ${String(r.perSecond).padStart(7)}/s   ${String(r.successful).padStart(6)} ok ${String(r.failed).padStart(5)} failed   ${String(r.cpuMicros).padStart(5)} µs CPU each (${String(r.systemCpuMicros).padStart(3)} system; SIPp ${String(r.sippCpuMicros).padStart(4)} µs)   ${r.elapsedSeconds.toFixed(1)} s${r.resets ? `   ${r.resets} resets` : ''}`;
    const lines = [`SIP registrar: SIPp REGISTERs over TCP, Cisco Contacts, ${PHONES} phones in turn, at most ${LIMIT} in progress; the median of ${ROUNDS} runs each, alternating:`];
    const ratios: Record<string, number> = {};
    const medians = {} as Record<Mode, { sepi: RegisterRun; kamailio: RegisterRun; floor: RegisterRun | undefined }>;
    const ratio = (a: RegisterRun, b: RegisterRun) => Math.round((a.perSecond / Math.max(1, b.perSecond)) * 100) / 100;
    for (const mode of ['t1', 'tn', 'auth'] as const) {
      const m = (medians[mode] = { sepi: medianRun(runs[mode].sepi), kamailio: medianRun(runs[mode].kamailio), floor: runs[mode].floor.length ? medianRun(runs[mode].floor) : undefined });
      ratios[mode] = ratio(m.sepi, m.kamailio);
      const all = (rs: RegisterRun[]) => `      all runs: [${rs.map((x) => x.perSecond).join(', ')}]/s${rs.some((x) => x.resets || x.failed) ? `, resets [${rs.map((x) => x.resets).join(', ')}], failed [${rs.map((x) => x.failed).join(', ')}]` : ''}`;
      lines.push(`  ${title[mode]}:`, row('companion', m.sepi), all(runs[mode].sepi), row('kamailio', m.kamailio), all(runs[mode].kamailio));
      if (m.floor) {
        ratios[`${mode}Floor`] = ratio(m.floor, m.kamailio);
        lines.push(row('node floor', m.floor), all(runs[mode].floor));
      }
      lines.push(`    ratio companion / kamailio   ${ratios[mode]!.toFixed(2)}${m.floor ? `   (node floor / kamailio ${ratios[`${mode}Floor`]!.toFixed(2)}: no Node registrar gets past it)` : ''}`);
    }
    const holdLine = (name: string, h: HoldFigures | { error: string }) =>
      'error' in h
        ? `    ${name.padEnd(10)} failed: ${h.error}`
        : `    ${name.padEnd(10)} ${h.heldAtOnce} held at once of ${h.count} (${h.registered} registered in ${(h.registerMs / 1000).toFixed(1)} s), ${h.resets} resets, ${h.closedByServer} closed by the server, ${h.answeredAfter} answered after the hold${Object.keys(h.connectFailures).length ? `, connect failures ${JSON.stringify(h.connectFailures)}` : ''}${Object.keys(h.refusedStatus).length ? `, refused ${JSON.stringify(h.refusedStatus)}` : ''}`;
    lines.push(`  (d) ${HOLD} TCP connections at once, each registering a phone, held 5 s, then each refreshing:`, holdLine('companion', holdSepi), holdLine('kamailio', holdKam));
    if (limits.length) lines.push(`  companion limit lines: ${limits.join(' / ')}`);
    return { lines, figures: { phones: PHONES, limit: LIMIT, rounds: ROUNDS, medians, runs, ratios, hold: { companion: holdSepi, kamailio: holdKam } } };
  } finally {
    await lab.destroy();
    if (!process.env['SEPI_BENCH_KEEP']) await rm(work, { recursive: true, force: true });
  }
}

/** bench/run.ts's row: print and record `registrar`. */
export const benchRegistrarRow = (): Promise<void> => printAndRecord('registrar', benchRegistrar);

if (import.meta.main) await benchRegistrarRow();
