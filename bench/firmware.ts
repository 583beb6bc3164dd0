/**
 * `make bench`, the firmware rows (issue 11): the bundled firmware (`make firmware`'s
 * `lib/sepi/sepi.mjs`, one esbuild bundle, plain JavaScript) against the unbundled sources
 * (`src/cli/main.ts`, Node stripping the types of every module it loads), in the same run, with
 * the same Node, in the same network namespace:
 *
 *  - cold start to the first LCD frame: from the spawn of `sepi phone --json-screens` to the
 *    first screen line on its stdout (fresh NVRAM each time, alternating the two);
 *  - RSS of one idle registered phone: registered on its own file against the companion, then
 *    left alone for a few seconds, /proc/PID/status VmRSS.
 *
 * Never asserted; the figures also go to bench/results.json (row "firmware").
 *
 *   node bench/firmware.ts          (make bench runs it after the other rows)
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Lab } from '../test/support/lab.ts';
import { ROOT, TempDirs, cm, startCompanion } from '../test/support/sepi.ts';
import { printAndRecord } from './results.ts';

const run = promisify(execFile);
const RUNS = Number(process.env['SEPI_BENCH_RUNS'] ?? 7);
const IDLE_MS = 5000;
const MAC = '0011223344E7';
const LOAD = 'sepi88xx.1-0-0-0099';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

/** Starts the phone in the namespace; resolves at the first line that `until` accepts, with the ms since the spawn. */
function phone(ns: string, entry: string[], nv: string, until: (line: string) => boolean): { child: ChildProcess; reached: Promise<number> } {
  const started = performance.now();
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...entry, 'phone', '--iface', 'eth0', '--mac', MAC, '--model', '8841', '--nvram', nv, '--json-events', '--json-screens'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const reached = new Promise<number>((resolve, reject) => {
    let buf = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      if (lines.some(until)) resolve(performance.now() - started);
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => reject(new Error(`the phone (${entry.at(-1)}) exited ${code} first: ${err.slice(-500)}`)));
  });
  return { child, reached };
}

const stop = (c: ChildProcess) => new Promise<void>((resolve) => {
  if (c.exitCode !== null || c.signalCode !== null) return resolve();
  c.once('close', () => resolve());
  c.kill('SIGTERM');
});

export interface FirmwareFigures {
  [k: string]: unknown;
  runs: number;
  coldStartMs: { bundle: number; sources: number; ratio: number; bundleRuns: number[]; sourcesRuns: number[] };
  idleRssBytes: { bundle: number; sources: number; ratio: number };
}

export async function benchFirmware(): Promise<{ lines: string[]; figures: FirmwareFigures }> {
  const dirs = new TempDirs();
  const lab = await Lab.create('10.91.0');
  try {
    const tmp = await dirs.make('bench-fw');
    await run(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'scripts', 'build-firmware.ts'), '--out', tmp, '--keys', join(tmp, 'keys'), '--no-runtime', '--load-id', LOAD], { cwd: ROOT });
    const variants = {
      bundle: [join(tmp, LOAD, 'lib', 'sepi', 'sepi.mjs')],
      sources: ['--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli', 'main.ts')],
    };
    const data = await dirs.make('bench-fw-cm');
    await startCompanion(lab, data, { security: { mode: 'none' } });
    await cm(data, 'phone', 'add', '--mac', MAC, '--model', '8841', '--dn', '1777');
    const ns = await lab.addHost('fw', { mac: '00:11:22:33:44:e7' });

    // Cold start: spawn to the first frame, alternating, fresh NVRAM each time.
    const cold: Record<keyof typeof variants, number[]> = { bundle: [], sources: [] };
    for (let i = 0; i < RUNS; i++) {
      for (const name of (i % 2 ? ['sources', 'bundle'] : ['bundle', 'sources']) as Array<keyof typeof variants>) {
        const p = phone(ns, variants[name], await dirs.make(`bench-fw-nv-${name}`), (l) => l.startsWith('{"type":"screen"'));
        cold[name].push(Math.round(await p.reached));
        await stop(p.child);
      }
    }

    // An idle registered phone, one at a time.
    const rss: Record<keyof typeof variants, number> = { bundle: 0, sources: 0 };
    for (const name of ['bundle', 'sources'] as const) {
      const p = phone(ns, variants[name], await dirs.make(`bench-fw-idle-${name}`), (l) => l.includes('"step":"register"') && l.includes('"state":"done"') && l.includes('"configKind":"device"'));
      await p.reached;
      await new Promise((r) => setTimeout(r, IDLE_MS));
      const status = await readFile(`/proc/${p.child.pid}/status`, 'utf8');
      rss[name] = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
      await stop(p.child);
    }

    const b = median(cold.bundle);
    const s = median(cold.sources);
    const figures: FirmwareFigures = {
      runs: RUNS,
      coldStartMs: { bundle: b, sources: s, ratio: Number((b / s).toFixed(3)), bundleRuns: cold.bundle, sourcesRuns: cold.sources },
      idleRssBytes: { bundle: rss.bundle, sources: rss.sources, ratio: Number((rss.bundle / rss.sources).toFixed(3)) },
    };
    const lines = [
      `firmware: cold start of sepi phone to its first LCD frame (spawn to the first --json-screens line), median of ${RUNS}:`,
      `  bundle  (lib/sepi/sepi.mjs)                 ${b.toFixed(0).padStart(6)} ms   [${cold.bundle.join(', ')}]`,
      `  sources (src/cli/main.ts, types stripped)   ${s.toFixed(0).padStart(6)} ms   [${cold.sources.join(', ')}]`,
      `  ratio bundle / sources                      ${(b / s).toFixed(2).padStart(6)}`,
      `firmware: RSS of one idle registered phone (${IDLE_MS / 1000} s after Registered):`,
      `  bundle ${mib(rss.bundle)}, sources ${mib(rss.sources)}, ratio bundle / sources ${(rss.bundle / rss.sources).toFixed(2)}`,
    ];
    return { lines, figures };
  } finally {
    await lab.destroy();
    await dirs.removeAll();
  }
}

/** bench/run.ts's row: print and record `firmware`. */
export const benchFirmwareRow = (): Promise<void> => printAndRecord('firmware', benchFirmware);

if (process.argv[1] === import.meta.filename) await benchFirmwareRow();
