/**
 * The test command. Runs every test file (`test/**\/*.test.ts`) in its own Node process with
 * uvu, so one crashing file cannot take the others down, and ends with the line CI reads:
 * `N passed, N failed`. A file that dies before uvu prints its totals counts as one failure;
 * skipped tests are never counted as passed.
 *
 *   node test/run.ts            all files (unit first, then end-to-end)
 *   node test/run.ts unit       only test/unit
 *   node test/run.ts e2e FILTER only test/e2e files whose name contains FILTER
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const [group, filter] = process.argv.slice(2);
const FILE_TIMEOUT_MS = 15 * 60_000;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else if (e.name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

const groups = group && group !== 'all' ? [group] : ['unit', 'e2e'];
const list = groups.flatMap((g) => files(join(root, 'test', g))).filter((f) => !filter || f.includes(filter));

interface Outcome {
  file: string;
  total: number;
  passed: number;
  skipped: number;
  crashed: string | undefined;
}

function runFile(file: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', '--expose-gc', file], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), FILE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const num = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(out)?.[1] ?? NaN);
      const total = num('Total');
      const passed = num('Passed');
      const skipped = num('Skipped');
      const name = relative(root, file);
      if (Number.isNaN(total) || Number.isNaN(passed)) {
        resolve({ file: name, total: 1, passed: 0, skipped: 0, crashed: signal ? `killed by ${signal}` : `exited ${code} before reporting` });
      } else {
        const crashed = code !== 0 && passed === total ? `exited ${code} after its tests` : undefined;
        resolve({ file: name, total: Math.max(total, 1), passed: crashed ? Math.max(0, passed - 1) : passed, skipped: skipped || 0, crashed });
      }
    });
  });
}

let passed = 0;
let failed = 0;
let skipped = 0;
const problems: string[] = [];
for (const f of list) {
  process.stdout.write(`\n== ${relative(root, f)}\n`);
  const r = await runFile(f);
  passed += r.passed;
  skipped += r.skipped;
  const bad = r.total - r.passed - r.skipped;
  failed += bad;
  if (bad > 0 || r.crashed) problems.push(`${r.file}: ${bad} failed${r.crashed ? ` (${r.crashed})` : ''}`);
}
process.stdout.write('\n');
for (const p of problems) process.stdout.write(`FAILED ${p}\n`);
if (skipped) process.stdout.write(`${skipped} skipped (not counted as passed)\n`);
if (list.length === 0) {
  failed++;
  process.stdout.write('no test files matched\n');
}
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 ? 1 : 0;
