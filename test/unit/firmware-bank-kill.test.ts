/**
 * kill -9 at random points of the bank write never leaves a phone that cannot boot (issue 11).
 *
 * Each round is one process, as a phone's life between two power cuts: it boots (bank-exec.ts
 * `chooseBank`, what `sepi phone` runs at power-on: the trial counted, the active bank's every
 * file checked), says which bank and load it would run, lets that load register (the trial
 * passes), then installs the next load into the other bank through the same calls the load
 * step makes (banks.ts: beginInstall, writeComponent per file, unpackRuntime for the load's
 * Node runtime package, finishInstall). The test
 * SIGKILLs it at a random instant after it booted, spread over the whole write, and then checks
 * the NVRAM folder itself: the banks record readable, the active bank complete (every file, its
 * size and SHA-256, the firmware entry among them) or the factory one, and a load the process
 * said was switched to active. The next round's process — a fresh boot — must then choose a
 * complete bank without falling back from a damaged one. At the end the chosen bank's firmware
 * is run.
 *
 * The file is its own child: `node firmware-bank-kill.test.ts writer DIR ROUND`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { BANK_ENTRY, type BankFile, type BanksState } from '../../src/phone/banks.ts';
import { writeTar } from '../../src/wire/tar.ts';

const FACTORY = { active: 'sip88xx.14-2-1-0001-14', inactive: 'sip88xx.12-8-1-0001-455' };
const KILLS = 200;
const FILES = 24;
/** The load's Node runtime package: its "binary" (1 MiB) is unpacked into the bank, and can be cut short by a kill too. */
const RUNTIME = `node-linux-${process.arch}.tgz`;

const loadId = (round: number) => `sepi88xx.1-${Math.floor(round / 1000)}-${round % 1000}-0001`;

/** A load's files, made from its ID: the firmware entry (a script that names the load) and data files of assorted sizes. */
function loadFiles(load: string): Array<{ file: string; data: Buffer }> {
  const out = [{ file: BANK_ENTRY, data: Buffer.from(`process.stdout.write(${JSON.stringify(load)} + '\\n');\n`) }];
  for (let i = 1; i < FILES; i++) {
    const seed = createHash('sha256').update(`${load}/${i}`).digest();
    const size = 4096 + (seed.readUInt32BE(0) % (192 * 1024));
    const data = Buffer.alloc(size);
    for (let o = 0; o < size; o += 32) seed.copy(data, o, 0, Math.min(32, size - o));
    out.push({ file: i % 3 === 0 ? `board/b${i}/board.json` : `lib/node_modules/@x/p${i}/index.js`, data });
  }
  const node = Buffer.alloc(1024 * 1024);
  const seed = createHash('sha256').update(`${load}/node`).digest();
  for (let o = 0; o < node.length; o += 32) seed.copy(node, o);
  out.push({ file: RUNTIME, data: gzipSync(writeTar([{ name: 'package/bin/node', data: node, mode: 0o755 }]), { level: 1 }) });
  return out;
}

const listOf = (files: Array<{ file: string; data: Buffer }>): BankFile[] => files.map((f) => ({ file: f.file, size: f.data.length, sha256: createHash('sha256').update(f.data).digest('hex') }));

// ---- the child: one power-on, then an install ---------------------------------------------------

async function writer(dir: string, round: number): Promise<void> {
  const [{ Banks }, { chooseBank }, { FileNvram }] = await Promise.all([import('../../src/phone/banks.ts'), import('../../src/phone/bank-exec.ts'), import('../../src/phone/nvram.ts')]);
  const say = (x: unknown) => process.stdout.write(JSON.stringify(x) + '\n');
  const nvram = new FileNvram(dir);
  const factory = { execArgv: [], script: '/factory/sepi.mjs' };
  const choice = await chooseBank(nvram, FACTORY, factory, factory, (problem) => say({ problem }));
  say({ booted: choice.boot.bank, load: choice.boot.load, script: choice.run === 'exec' ? choice.launch.script : 'factory', fellBack: choice.boot.fellBack ?? null });
  const banks = await Banks.load(nvram, FACTORY);
  await banks.registered();
  say({ step: 'registered' });
  const load = loadId(round);
  const files = loadFiles(load);
  const bank = await banks.beginInstall();
  say({ step: 'cleared', bank, load });
  for (const [i, f] of files.entries()) {
    await banks.writeComponent(bank, f.file, f.data);
    say({ step: 'wrote', n: i + 1 });
  }
  const node = await banks.unpackRuntime(bank, RUNTIME);
  if (!node) throw new Error('a FileNvram bank unpacks its runtime');
  say({ step: 'unpacked' });
  await banks.finishInstall(load, [...listOf(files), node], { target: process.arch, package: RUNTIME });
  say({ step: 'switched', load });
}

if (process.argv[2] === 'writer') {
  await writer(process.argv[3]!, Number(process.argv[4]));
} else {
  // ---- the test -------------------------------------------------------------------------------

  const run = promisify(execFile);
  /** Compiled code kept between the rounds' processes: a round is then mostly the write. */
  const cache = await mkdtemp(join(tmpdir(), 'sepi-bank-kill-cache-'));

  interface Round {
    lines: Array<Record<string, unknown>>;
    code: number | null;
    signal: string | null;
    /** ms from the boot line to the kill (or the end). */
    at: number;
  }

  /** Runs one round; `killAfterMs` after the boot line it is SIGKILLed (undefined: runs to the end). */
  function round(dir: string, n: number, killAfterMs: number | undefined): Promise<Round> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', import.meta.filename, 'writer', dir, String(n)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_COMPILE_CACHE: cache } });
      const lines: Array<Record<string, unknown>> = [];
      let buf = '';
      let err = '';
      let bootAt = 0;
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString('utf8');
        const parts = buf.split('\n');
        buf = parts.pop() ?? '';
        for (const p of parts) {
          const v = JSON.parse(p) as Record<string, unknown>;
          lines.push(v);
          if ('booted' in v) {
            bootAt = performance.now();
            if (killAfterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
          }
        }
      });
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        if (code !== 0 && signal === null) return reject(new Error(`round ${n} exited ${code}: ${err}`));
        resolve({ lines, code, signal, at: performance.now() - bootAt });
      });
    });
  }

  /** What a power-on finds, checked here without the firmware's code: which bank and load, and whether it is whole. */
  async function onDisk(dir: string): Promise<{ state: BanksState | undefined; bank: string; load: string; problem: string | undefined }> {
    const raw = await readFile(join(dir, 'banks.json'), 'utf8').catch(() => undefined);
    if (raw === undefined) return { state: undefined, bank: 'A', load: FACTORY.active, problem: undefined };
    let state: BanksState;
    try {
      state = JSON.parse(raw) as BanksState;
    } catch {
      return { state: undefined, bank: '?', load: '?', problem: 'banks.json does not parse' };
    }
    // A trial that already booted once falls back at this boot: its fallback bank is what runs.
    const bank = state.trial?.booted ? state.trial.previous : state.active;
    const load = state.loads[bank];
    const files = state.files?.[bank];
    if (!files) return { state, bank, load, problem: undefined };
    if (!files.some((f) => f.file === BANK_ENTRY)) return { state, bank, load, problem: 'no firmware entry' };
    for (const f of files) {
      const data = await readFile(join(dir, `bank-${bank.toLowerCase()}`, ...f.file.split('/'))).catch(() => undefined);
      if (!data) return { state, bank, load, problem: `${f.file} missing` };
      if (data.length !== f.size || createHash('sha256').update(data).digest('hex') !== f.sha256) return { state, bank, load, problem: `${f.file} differs` };
    }
    return { state, bank, load, problem: undefined };
  }

  const phase = (r: Round): string => {
    const last = r.lines.at(-1)!;
    if ('booted' in last) return 'writing the trial passed';
    if (last['step'] === 'registered') return 'emptying the inactive bank';
    if (last['step'] === 'cleared') return 'writing file 1';
    if (last['step'] === 'wrote') return Number(last['n']) === FILES + 1 ? 'unpacking the runtime' : `writing file ${Number(last['n']) + 1}`;
    if (last['step'] === 'unpacked') return 'switching banks';
    return 'after the switch';
  };

  interface LaneResult {
    kills: number;
    rounds: number;
    phases: Map<string, number>;
    bootsOnNew: number;
    writeMs: number;
  }

  /** One phone's folder, killed `kills` times; every assertion is made as it goes. */
  async function lane(dir: string, kills: number): Promise<LaneResult> {
    // Two uninterrupted rounds: the factory bank A is left behind, and how long a write takes is known.
    let n = 0;
    const full: number[] = [];
    for (; n < 2; n++) {
      const r = await round(dir, n, undefined);
      assert.ok(r.lines.some((l) => l['step'] === 'switched'), JSON.stringify(r.lines.at(-1)));
      full.push(r.at);
    }
    // Kill instants spread over a whole write: a little past the median of the writes that ran to the end.
    const span = () => [...full].sort((a, b) => a - b)[full.length >> 1]! * 1.1;
    const res: LaneResult = { kills: 0, rounds: 0, phases: new Map(), bootsOnNew: 0, writeMs: 0 };
    let previous: Round | undefined;
    let expected = await onDisk(dir);
    for (; res.kills < kills && n < kills * 4; n++) {
      const r = await round(dir, n, Math.random() * span());
      res.rounds++;
      if (r.signal === null) full.push(r.at);
      // This process booted first: what it chose is what the folder held after the last kill.
      const boot = r.lines.find((l) => 'booted' in l)!;
      assert.not.ok(r.lines.some((l) => 'problem' in l), `round ${n}: a bank could not start: ${JSON.stringify(r.lines.filter((l) => 'problem' in l))}`);
      assert.is(`${boot['booted']} ${boot['load']}`, `${expected.bank} ${expected.load}`, `round ${n} booted what the folder held`);
      if (previous?.lines.some((l) => l['step'] === 'switched')) res.bootsOnNew++;
      if (r.signal === 'SIGKILL') {
        res.kills++;
        const where = phase(r);
        res.phases.set(where, (res.phases.get(where) ?? 0) + 1);
      }
      // The folder after the kill (or the end): a whole bank to boot, and a switch that was said is kept.
      expected = await onDisk(dir);
      assert.is(expected.problem, undefined, `after round ${n} (${r.signal ? `killed ${phase(r)}` : 'finished'}): bank ${expected.bank} ${expected.problem}`);
      const switched = r.lines.find((l) => l['step'] === 'switched');
      if (switched) assert.is(expected.load, switched['load'], `round ${n} switched to ${String(switched['load'])}`);
      previous = r;
    }
    // The last folder boots for real: the chosen bank's firmware runs and names its load.
    res.writeMs = span() / 1.1;
    const last = await round(dir, n, undefined);
    const boot = last.lines.find((l) => 'booted' in l)!;
    assert.is(`${boot['booted']} ${boot['load']}`, `${expected.bank} ${expected.load}`);
    if (boot['script'] !== 'factory') assert.is((await run(process.execPath, [String(boot['script'])])).stdout.trim(), boot['load']);
    return res;
  }

  test(`kill -9 at random points of the bank write (${KILLS} times) never leaves a phone that cannot boot`, async () => {
    // Two phones' folders at once: most of a round is waiting for fsync.
    const dirs = [await mkdtemp(join(tmpdir(), 'sepi-bank-kill-')), await mkdtemp(join(tmpdir(), 'sepi-bank-kill-'))];
    const started = performance.now();
    try {
      const lanes = await Promise.all(dirs.map((d) => lane(d, KILLS / dirs.length)));
      const secs = (performance.now() - started) / 1000;
      const kills = lanes.reduce((a, l) => a + l.kills, 0);
      assert.ok(kills >= KILLS, `${kills} kills`);
      const phases = new Map<string, number>();
      for (const l of lanes) for (const [k, v] of l.phases) phases.set(k, (phases.get(k) ?? 0) + v);
      const writing = [...phases].filter(([k]) => k.startsWith('writing file')).reduce((a, [, v]) => a + v, 0);
      const other = [...phases].filter(([k]) => !k.startsWith('writing file')).map(([k, v]) => `${k} ${v}`).join(', ');
      process.stdout.write(`  ${kills} kills in ${lanes.reduce((a, l) => a + l.rounds, 0)} rounds, ${secs.toFixed(1)} s (a whole write ${lanes.map((l) => Math.round(l.writeMs)).join('/')} ms, median); killed while writing a file ${writing} (${new Set([...phases.keys()].filter((k) => k.startsWith('writing file'))).size} of ${FILES + 1} files hit), ${other}; ${lanes.reduce((a, l) => a + l.bootsOnNew, 0)} boots on a load switched to just before\n`);
    } finally {
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    }
  });

  test.after(() => rm(cache, { recursive: true, force: true }));
  test.run();
}
