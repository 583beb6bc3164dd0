/**
 * The file-service row of `make bench`: one 16 MiB file of random bytes fetched over TFTP and
 * HTTP 6970 from the companion and from the servers it stands in for, in the same run:
 *
 *  - the companion (`sepi cm serve`, security off, no DHCP) on NET.1: the file in its TFTP root
 *    folder (tftp-root.ts), TFTP on 69 and HTTP on 6970;
 *  - tftpd-hpa (`in.tftpd --secure`, Debian 12's 5.2) and busybox httpd on NET.2, another
 *    address of the same server namespace, with the same file in their root folders.
 *
 * The clients run in a host namespace across the lab's bridge (veth, as a phone would be):
 *
 *  - tftp-hpa's `tftp` (RFC 1350 only: 512-byte blocks, lock-step), both servers;
 *  - atftp with `--option "blksize 1428"` (lock-step), both servers; and atftp asking
 *    windowsize too, against the companion (tftpd-hpa 5.2 has no RFC 7440);
 *  - sepi's own client, the phone's (src/phone/tftp-client.ts), blksize 1428 and windowsize
 *    WINDOW, against the companion, and against tftpd-hpa (which leaves windowsize out of its
 *    OACK, so the same client runs lock-step: the client's own cost at windowsize 1); and at
 *    the companion's windowsize cap, 64;
 *  - curl against HTTP 6970 and busybox httpd.
 *
 * In the two lock-step modes, a third server: the Node floor (node-floor-tftp.ts, on NET.3), a
 * bare Node server that sends each block for the least Node can — what the runtime costs per
 * datagram, beside what the companion costs.
 *
 * After one untimed fetch from each server over TFTP and HTTP (the companion's code compiled
 * and the file in its memory, the peers' in the page cache), every mode is fetched RUNS times from each server, the servers
 * alternating (so a slow spell of the machine hits both), and the median MiB/s is quoted with
 * every run beside it. tftp and
 * atftp are timed from their start to their exit (~4 ms of process start with `ip netns exec`,
 * a few % of a transfer of 100 ms or more, the same for both servers); curl reports its own
 * time; sepi's client runs as `node bench/files.ts fetch …` in the namespace, fetches once to
 * warm up and times the second transfer itself, so Node's start-up and compilation are not
 * counted against it. Every fetch is checked for its size, the first two of each mode byte for
 * byte. Beside the rates, the CPU time each server process (children included) used per fetch,
 * from perf when it is installed: a figure the machine's other work moves less than the rates.
 *
 *   node bench/files.ts             this row alone (root: network namespaces)
 *   SEPI_BENCH_FILES_RUNS=7 SEPI_BENCH_FILES_WINDOW=16 SEPI_BENCH_FILES_MIB=16   (the defaults)
 *   SEPI_BENCH_FILES_MODES=tftpHpa512,http  only these modes (keys of MODES)
 *   SEPI_BENCH_FILES_NODE_OPTIONS=--cpu-prof   Node flags for the companion, when looking into a figure
 *
 * Figures are printed and written to bench/results.json (row "files"); nothing is asserted.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Lab } from '../test/support/lab.ts';
import { needs } from '../test/support/proc.ts';
import { ROOT, startCompanion, tempDir } from '../test/support/sepi.ts';
import { printAndRecord } from './results.ts';

const run = promisify(execFile);
const env = (name: string, fallback: string) => process.env[`SEPI_BENCH_FILES_${name}`] ?? fallback;
const RUNS = Number(env('RUNS', '7'));
const WINDOW = Number(env('WINDOW', '16'));
const MIB = Number(env('MIB', '16'));
/** The companion's cap (DEFAULT_MAX_WINDOWSIZE): fewer ACKs, so fewer times each side sleeps and wakes. */
const MAX_WINDOW = 64;
const NET = '10.84.0';
const CM = `${NET}.1`;
const PEER = `${NET}.2`;
const CLIENT = `${NET}.10`;
/** The Node floor (node-floor-tftp.ts), for the lock-step modes. */
const FLOOR = `${NET}.3`;
const FILE = 'bench-file.bin';
const HTTP_PORT = 6970;

type Server = 'companion' | 'peer' | 'floor';

interface Mode {
  key: string;
  label: string;
  /** What serves it on the peer's side, or undefined when only the companion is measured. */
  peer: string | undefined;
  /** Also fetched from the Node floor (a bare lock-step TFTP server): what Node costs per block. */
  floor?: boolean;
  /**
   * The command for one fetch into `out`. `timed` reads the transfer's own time (ms) from what
   * the command printed, when it measures it; `fetches` is how many times it fetched the file
   * (the server's CPU is shared out).
   */
  command: (host: string, out: string) => { cmd: string; args: string[]; timed?: (stdout: string) => number; fetches?: number };
}

const MODES: Mode[] = [
  {
    key: 'tftpHpa512', label: 'tftp-hpa, 512-byte blocks', peer: 'tftpd-hpa', floor: true,
    command: (host, out) => ({ cmd: 'tftp', args: ['-m', 'binary', host, '-c', 'get', FILE, out] }),
  },
  {
    key: 'atftp1428', label: 'atftp, blksize 1428', peer: 'tftpd-hpa', floor: true,
    command: (host, out) => ({ cmd: 'atftp', args: ['--option', 'blksize 1428', '--get', '--remote-file', FILE, '--local-file', out, host, '69'] }),
  },
  {
    key: 'sepiWindow', label: `sepi client, blksize 1428, windowsize ${WINDOW}`, peer: 'tftpd-hpa (lock-step: no RFC 7440)',
    command: (host, out) => sepiClient(host, WINDOW, out),
  },
  {
    key: 'sepiWindowMax', label: `sepi client, blksize 1428, windowsize ${MAX_WINDOW}`, peer: undefined,
    command: (host, out) => sepiClient(host, MAX_WINDOW, out),
  },
  {
    key: 'atftpWindow', label: `atftp, blksize 1428, windowsize ${WINDOW}`, peer: undefined,
    command: (host, out) => ({ cmd: 'atftp', args: ['--option', 'blksize 1428', '--option', `windowsize ${WINDOW}`, '--get', '--remote-file', FILE, '--local-file', out, host, '69'] }),
  },
  {
    key: 'http', label: 'curl, HTTP (6970)', peer: 'busybox httpd',
    // curl's own total (connection, request, transfer): its start-up (~14 ms with `ip netns
    // exec`) is as long as the transfer itself.
    command: (host, out) => ({ cmd: 'curl', args: ['-sS', '--fail', '-o', out, '-w', '%{time_total}', `http://${host}:${HTTP_PORT}/${FILE}`], timed: (o) => Number(o.trim()) * 1000 }),
  },
];

/** sepi's client: fetches twice in one process, the first to warm up, and prints the second's time. */
const sepiClient = (host: string, windowsize: number, out: string) => ({
  cmd: process.execPath,
  args: [join(ROOT, 'bench/files.ts'), 'fetch', host, FILE, '1428', String(windowsize), out],
  timed: (o: string) => (JSON.parse(o.trim().split('\n').at(-1) ?? '{}') as { ms: number }).ms,
  fetches: 2,
});

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * CPU time a server process and its children use while `work` runs, ms: perf's task-clock,
 * attached to the process for the duration (children included: tftpd-hpa and busybox httpd fork
 * one per transfer or connection, and neither is reaped into its parent's times). Undefined
 * without perf.
 */
async function cpuDuring<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; cpuMs: number | undefined }> {
  if (!hasPerf) return { result: await work(), cpuMs: undefined };
  const out = join(tmpdir(), `sepi-bench-files-perf-${process.pid}.txt`);
  const perf = spawn('perf', ['stat', '-e', 'task-clock', '-x', ',', '-p', String(pid), '-o', out], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => perf.once('close', () => r()));
  // perf says nothing when it has attached; it takes a few ms.
  await new Promise((r) => setTimeout(r, 150));
  let result: T;
  try {
    result = await work();
    // tftpd-hpa's child exits after the last ACK; let it finish being counted.
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    perf.kill('SIGINT');
    await exited;
  }
  const line = (await readFile(out, 'utf8').catch(() => '')).split('\n').find((l) => l.includes('task-clock'));
  await rm(out, { force: true });
  const ms = Number(line?.split(',')[0]);
  return { result, cpuMs: Number.isFinite(ms) ? ms : undefined };
}

let hasPerf = false;

interface Fetch {
  mibPerSecond: number;
  /** The server's CPU for this fetch, ms (undefined without perf). */
  serverCpuMs: number | undefined;
}

/** One fetch from one server: MiB/s and the server's CPU, checked for size (and, the first times, for content). */
async function fetchOnce(lab: Lab, ns: string, mode: Mode, host: string, pid: number, out: string, expect: { size: number; sha: string }, checkContent: boolean): Promise<Fetch> {
  await rm(out, { force: true });
  const { cmd, args, timed, fetches = 1 } = mode.command(host, out);
  const { result: { stdout, wallMs }, cpuMs } = await cpuDuring(pid, async () => {
    const t0 = process.hrtime.bigint();
    try {
      const { stdout } = await run('ip', ['netns', 'exec', ns, cmd, ...args], { maxBuffer: 1 << 20, timeout: 300_000 });
      return { stdout, wallMs: Number(process.hrtime.bigint() - t0) / 1e6 };
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`${mode.label} from ${host}: ${err.stderr || err.message}`);
    }
  });
  const ms = timed ? timed(stdout) : wallMs;
  if (!(ms > 0)) throw new Error(`${mode.label} from ${host}: no time in ${JSON.stringify(stdout.slice(-200))}`);
  const size = (await stat(out)).size;
  if (size !== expect.size) throw new Error(`${mode.label} from ${host}: ${size} bytes, not ${expect.size}`);
  if (checkContent && createHash('sha256').update(await readFile(out)).digest('hex') !== expect.sha) throw new Error(`${mode.label} from ${host}: the bytes differ`);
  return { mibPerSecond: (size / 1048576) / (ms / 1000), serverCpuMs: cpuMs === undefined ? undefined : cpuMs / fetches };
}

/** One server's fetches in one mode. */
export interface ServerRuns {
  /** MiB/s of each fetch, in order, and their median. */
  runs: number[];
  median: number;
  /** The server's CPU per fetch (ms), median and each; undefined without perf (see cpuDuring). */
  cpuMs: number | undefined;
  cpuRuns: Array<number | undefined>;
}

export interface ModeFigures {
  label: string;
  /** The peer server, or undefined when only the companion is measured. */
  peer: string | undefined;
  companion: ServerRuns;
  peerRuns: ServerRuns | undefined;
  /** The Node floor's fetches, in the modes that have it. */
  floorRuns?: ServerRuns;
  /** companion / peer, medians of MiB/s. */
  ratio: number | undefined;
  /** floor / peer: no Node server gets past it. */
  floorRatio?: number;
}

export interface FilesFigures {
  bytes: number;
  runs: number;
  windowsize: number;
  modes: Record<string, ModeFigures>;
  /** sepi's windowed client (WINDOW, then the companion's cap) against the companion, over atftp blksize 1428 against the faster server. */
  windowedOverAtftp: number | undefined;
  windowedMaxOverAtftp: number | undefined;
}

export async function benchFiles(): Promise<{ lines: string[]; figures: FilesFigures }> {
  await needs('in.tftpd', 'tftp', 'atftp', 'busybox', 'curl');
  hasPerf = await run('perf', ['--version']).then(() => true, () => false);
  const work = await tempDir('bench-files');
  const lab = await Lab.create(NET);
  const figures: FilesFigures = { bytes: MIB * 1048576, runs: RUNS, windowsize: WINDOW, modes: {}, windowedOverAtftp: undefined, windowedMaxOverAtftp: undefined };
  try {
    const content = randomBytes(figures.bytes);
    const expect = { size: content.length, sha: createHash('sha256').update(content).digest('hex') };
    const data = join(work, 'cm');
    await mkdir(join(data, 'tftp-root'), { recursive: true });
    await writeFile(join(data, 'tftp-root', FILE), content);
    const peerRoot = join(work, 'peer');
    await mkdir(peerRoot);
    await writeFile(join(peerRoot, FILE), content);
    const written = Date.now();

    await lab.addServerAddress(2);
    await lab.addServerAddress(3);
    const companion = await startCompanion(lab, data, { security: { mode: 'none' }, dhcp: { enabled: false }, autoRegistration: { enabled: false } }, { env: { NODE_OPTIONS: env('NODE_OPTIONS', '') } });
    const hpa = lab.spawn('tftpd-hpa', lab.server, 'in.tftpd', ['--foreground', '--address', `${PEER}:69`, '--secure', peerRoot, '--user', 'root']);
    const floor = lab.spawn('node-floor', lab.server, process.execPath, [join(ROOT, 'bench/node-floor-tftp.ts'), FLOOR, join(peerRoot, FILE)]);
    const httpd = lab.spawn('busybox-httpd', lab.server, 'busybox', ['httpd', '-f', '-p', `${PEER}:${HTTP_PORT}`, '-h', peerRoot]);
    await lab.waitForTcp(lab.server, PEER, HTTP_PORT);
    await lab.waitForTcp(lab.server, CM, HTTP_PORT);
    const ns = await lab.addHost('client', { address: `${CLIENT}/24` });
    // Received files go to memory, so no disk write is timed.
    const outDir = await mkdtemp('/dev/shm/sepi-bench-files-').catch(() => tempDir('bench-files-out'));
    try {
      // The companion keeps a root file in memory only once it is 2 s old (tftp-root.ts).
      await new Promise((r) => setTimeout(r, Math.max(0, written + 2500 - Date.now())));
      // One fetch from each server over each protocol first, untimed: the companion is a
      // long-running process (its code compiled, the file in memory), the peers' file is in
      // the page cache.
      for (const key of ['atftp1428', 'http']) {
        const warm = MODES.find((m) => m.key === key)!;
        for (const [host, p] of [[CM, companion], [PEER, key === 'http' ? httpd : hpa]] as const) await fetchOnce(lab, ns, warm, host, p.child.pid!, join(outDir, 'warm-up'), expect, true);
      }
      const only = env('MODES', '').split(',').filter(Boolean);
      for (const mode of MODES.filter((m) => only.length === 0 || only.includes(m.key))) {
        const fetches: Record<Server, Fetch[]> = { companion: [], peer: [], floor: [] };
        const order: Server[] = [...(['companion'] as const), ...(mode.peer ? (['peer'] as const) : []), ...(mode.floor ? (['floor'] as const) : [])];
        for (let r = 0; r < RUNS; r++) {
          for (const server of r % 2 ? [...order].reverse() : order) {
            const pid = (server === 'companion' ? companion : server === 'floor' ? floor : mode.key === 'http' ? httpd : hpa).child.pid!;
            fetches[server].push(await fetchOnce(lab, ns, mode, server === 'companion' ? CM : server === 'floor' ? FLOOR : PEER, pid, join(outDir, `${mode.key}-${server}`), expect, r < 2));
          }
        }
        const summary = (fs: Fetch[]): ServerRuns => ({
          runs: fs.map((f) => round1(f.mibPerSecond)), median: round1(median(fs.map((f) => f.mibPerSecond))),
          cpuMs: fs.every((f) => f.serverCpuMs !== undefined) ? Math.round(median(fs.map((f) => f.serverCpuMs!))) : undefined,
          cpuRuns: fs.map((f) => (f.serverCpuMs === undefined ? undefined : Math.round(f.serverCpuMs))),
        });
        const cm = summary(fetches.companion);
        const peer = mode.peer ? summary(fetches.peer) : undefined;
        const ratio = (a: ServerRuns, b: ServerRuns) => Math.round((a.median / b.median) * 100) / 100;
        figures.modes[mode.key] = { label: mode.label, peer: mode.peer, companion: cm, peerRuns: peer, ratio: peer ? ratio(cm, peer) : undefined };
        if (mode.floor) {
          const f = summary(fetches.floor);
          figures.modes[mode.key]!.floorRuns = f;
          if (peer) figures.modes[mode.key]!.floorRatio = ratio(f, peer);
        }
      }
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  } finally {
    await lab.destroy();
    if (!process.env['SEPI_BENCH_KEEP']) await rm(work, { recursive: true, force: true });
  }
  const a = figures.modes['atftp1428'];
  const atftpBest = a && Math.max(a.companion.median, a.peerRuns?.median ?? 0);
  for (const [key, w] of [['windowedOverAtftp', figures.modes['sepiWindow']], ['windowedMaxOverAtftp', figures.modes['sepiWindowMax']]] as const) {
    if (w && atftpBest) figures[key] = Math.round((w.companion.median / atftpBest) * 100) / 100;
  }
  return { lines: table(figures), figures };
}

function table(f: FilesFigures): string[] {
  const lines = [`file service: ${MIB} MiB of random bytes from the TFTP root / HTTP 6970, MiB/s, median of ${f.runs} fetches per server, alternating [each run]; server CPU per fetch:`];
  const num = (x: number | undefined, w = 7) => (x === undefined ? '-' : x.toFixed(1)).padStart(w);
  const cpu = (r: ServerRuns | undefined) => (r?.cpuMs === undefined ? '-' : `${r.cpuMs} ms`).padStart(8);
  lines.push(`  ${'client'.padEnd(42)} ${'sepi'.padStart(7)} ${'peer'.padStart(7)}  ratio  ${'CPU sepi'.padStart(8)} ${'CPU peer'.padStart(8)}  peer`);
  for (const m of Object.values(f.modes)) {
    lines.push(`  ${m.label.padEnd(42)} ${num(m.companion.median)} ${num(m.peerRuns?.median)}  ${m.ratio === undefined ? '   - ' : m.ratio.toFixed(2).padStart(5)}  ${cpu(m.companion)} ${cpu(m.peerRuns)}  ${m.peer ?? '(companion only)'}`);
    lines.push(`  ${''.padEnd(42)} [${m.companion.runs.join(', ')}]${m.peerRuns ? ` / [${m.peerRuns.runs.join(', ')}]` : ''}`);
    if (m.floorRuns) lines.push(`  ${'  the Node floor (a bare lock-step server)'.padEnd(42)} ${num(m.floorRuns.median)} ${num(m.peerRuns?.median)}  ${m.floorRatio === undefined ? '   - ' : m.floorRatio.toFixed(2).padStart(5)}  ${cpu(m.floorRuns)} ${cpu(m.peerRuns)}  [${m.floorRuns.runs.join(', ')}]`);
  }
  if (f.windowedOverAtftp !== undefined) lines.push(`  windowed (sepi client, companion) / atftp blksize 1428 (the faster server's): windowsize ${f.windowsize} ${f.windowedOverAtftp.toFixed(2)}${f.windowedMaxOverAtftp !== undefined ? `, windowsize ${MAX_WINDOW} ${f.windowedMaxOverAtftp.toFixed(2)}` : ''}`);
  lines.push('  (2 shared cores: client, server and kernel compete; read the ratios of one run)');
  return lines;
}

/** `node bench/files.ts fetch HOST[:PORT] NAME BLKSIZE WINDOWSIZE OUT`: one fetch by the phone's TFTP client, timed by itself. */
async function fetchWithPhoneClient(argv: string[]): Promise<void> {
  const [server, name, blksize, windowsize, out] = argv;
  const [host, port] = server!.split(':');
  const { SystemClock } = await import('../src/common/clock.ts');
  const { NodeNetwork } = await import('../src/phone/node-ports.ts');
  const { tftpGet } = await import('../src/phone/tftp-client.ts');
  const network = new NodeNetwork();
  const get = () => tftpGet(
    { network, clock: new SystemClock(), ...(port ? { port: Number(port) } : {}), request: { blksize: Number(blksize), windowsize: Number(windowsize), tsize: true, timeoutSecs: 1 }, retransmitMs: 1000, retries: 5, maxBytes: 1 << 30 },
    host!, name!, new AbortController().signal,
  );
  // A first fetch untimed, so the second runs on compiled code as a C client does: a phone
  // fetching its loads is a long-running process, not one started for one file.
  await get();
  const t0 = process.hrtime.bigint();
  const r = await get();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await network.close();
  if (r.kind !== 'file') throw new Error(`${r.kind}: ${'message' in r ? r.message : ''}`);
  await writeFile(out!, r.data);
  process.stdout.write(JSON.stringify({ ms, bytes: r.data.length, blksize: r.blksize, windowsize: r.windowsize }) + '\n');
}

/** bench/run.ts's row: print and record `files`. */
export const benchFilesRow = (): Promise<void> => printAndRecord('files', benchFiles);

if (import.meta.main) {
  if (process.argv[2] === 'fetch') await fetchWithPhoneClient(process.argv.slice(3));
  else await benchFilesRow();
}
