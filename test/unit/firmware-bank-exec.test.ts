/**
 * The emulated phone runs the bank it boots (issue 11): bank-exec.ts chooses at power-on — the
 * factory firmware (this process) for a bank without files, a whole bank's `lib/sepi/sepi.mjs`
 * otherwise — and a bank that is not whole, or has no firmware, is left for the other one. Then
 * `sepi phone --nvram DIR` itself: it re-executes the bank's firmware with the same Node, the
 * same arguments and the note that says it is a re-exec; a bank whose firmware dies at start
 * is fallen back from at the next power-on, which the phone reports. No network is needed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BANK_BOOT_ENV, type Launch, chooseBank, takeBankBoot } from '../../src/phone/bank-exec.ts';
import { BANK_ENTRY, Banks } from '../../src/phone/banks.ts';
import { FileNvram, MemoryNvram, type Nvram } from '../../src/phone/nvram.ts';
import { wipeKeepingMic } from '../../src/phone/mic.ts';
import { ROOT, SEPI } from '../support/sepi.ts';

const run = promisify(execFile);
const FACTORY = { active: 'sip88xx.14-2-1-0001-14', inactive: 'sip88xx.12-8-1-0001-455' };
const self: Launch = { execArgv: ['--disable-warning=ExperimentalWarning'], script: '/opt/sepi/current/lib/sepi/sepi.mjs' };

/** Installs a load into the inactive bank as the load step does: the files, then the switch, on trial. */
async function install(nvram: Nvram, load: string, files: Record<string, string>): Promise<Banks> {
  const banks = await Banks.load(nvram, FACTORY);
  const bank = await banks.beginInstall();
  for (const [file, text] of Object.entries(files)) await banks.writeComponent(bank, file, Buffer.from(text));
  await banks.finishInstall(load, Object.entries(files).map(([file, text]) => ({ file, size: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') })));
  return banks;
}

const temp = () => mkdtemp(join(tmpdir(), 'sepi-bank-exec-'));

test('the power-on choice: factory here, a whole bank re-executed, a broken one left (and not tried again)', async () => {
  const dir = await temp();
  try {
    const nvram = new FileNvram(dir);
    const problems: string[] = [];
    const choose = () => chooseBank(nvram, FACTORY, self, self, (p) => problems.push(p));
    let c = await choose();
    assert.equal([c.run, c.boot.bank, c.boot.load], ['here', 'A', FACTORY.active], 'no banks record: the factory load, this process');

    await install(nvram, 'sepi88xx.2-0-0-0001', { [BANK_ENTRY]: 'firmware', 'board/x.json': '{}' });
    c = await choose();
    assert.is(c.run, 'exec');
    if (c.run === 'exec') assert.equal(c.launch, { execArgv: self.execArgv, script: join(dir, 'bank-b', 'lib', 'sepi', 'sepi.mjs') });
    assert.equal([c.boot.bank, c.boot.load, c.boot.factory], ['B', 'sepi88xx.2-0-0-0001', self]);
    let banks = await Banks.load(nvram, FACTORY);
    assert.equal(banks.state.trial, { previous: 'A', booted: true }, 'this boot counted against the trial');

    // A second power-on and it never registered: back to the factory load, which is not tried again.
    c = await choose();
    assert.equal([c.run, c.boot.bank, c.boot.load, c.boot.fellBack], ['here', 'A', FACTORY.active, { from: 'sepi88xx.2-0-0-0001', to: FACTORY.active }]);
    banks = await Banks.load(nvram, FACTORY);
    assert.ok(banks.hasFailed('sepi88xx.2-0-0-0001'));
    assert.is(problems.length, 0);

    // A bank with a file gone cannot start: left at once, whatever the trial says.
    banks = await install(nvram, 'sepi88xx.2-0-0-0002', { [BANK_ENTRY]: 'firmware 2', 'lib/x.js': 'x' });
    await banks.registered();
    await rm(join(dir, 'bank-b', 'lib', 'x.js'));
    c = await choose();
    assert.equal([c.run, c.boot.bank, c.boot.fellBack?.from], ['here', 'A', 'sepi88xx.2-0-0-0002']);
    assert.match(problems.join('\n'), /bank B \(sepi88xx\.2-0-0-0002\) cannot start: lib\/x\.js is missing from bank B/);

    // A load with no firmware entry is no firmware for this phone.
    problems.length = 0;
    await install(nvram, 'sepi88xx.2-0-0-0003', { 'README.md': 'no bundle' });
    c = await choose();
    assert.equal([c.boot.bank, c.boot.fellBack?.from], ['A', 'sepi88xx.2-0-0-0003']);
    assert.match(problems.join('\n'), /has no lib\/sepi\/sepi\.mjs/);

    // A bank changed behind the phone's back (the same size, other bytes).
    problems.length = 0;
    banks = await install(nvram, 'sepi88xx.2-0-0-0004', { [BANK_ENTRY]: 'firmware 4' });
    await banks.registered();
    await writeFile(join(dir, 'bank-b', 'lib', 'sepi', 'sepi.mjs'), 'firmware 5');
    c = await choose();
    assert.equal([c.boot.bank, c.boot.fellBack?.from], ['A', 'sepi88xx.2-0-0-0004']);
    assert.match(problems.join('\n'), /is not the file its signed list named/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('no install while on trial; a factory reset keeps the banks; a re-exec note is read once', async () => {
  const dir = await temp();
  try {
    const nvram = new FileNvram(dir);
    const banks = await install(nvram, 'sepi88xx.2-0-0-0001', { [BANK_ENTRY]: 'firmware' });
    assert.match(await banks.beginInstall().then(() => 'installed', (e: Error) => e.message), /on trial/);
    await nvram.write('settings', { dhcpEnabled: false });
    await wipeKeepingMic(nvram);
    assert.is(await nvram.read('settings'), undefined);
    assert.is(await readFile(join(dir, 'bank-b', 'lib', 'sepi', 'sepi.mjs'), 'utf8'), 'firmware');
    assert.is((await Banks.load(nvram, FACTORY)).activeLoad, 'sepi88xx.2-0-0-0001');
    // In memory (fleets, the in-process harness) the same steps keep blobs and never point at a file to run.
    const mem = new MemoryNvram();
    const m = await install(mem, 'sepi88xx.2-0-0-0001', { [BANK_ENTRY]: 'firmware' });
    assert.is(m.entry('B'), undefined);
    assert.is(await m.verify('B'), undefined);

    const env: NodeJS.ProcessEnv = { [BANK_BOOT_ENV]: JSON.stringify({ bank: 'B', load: 'x', factory: self, reason: 'load-installed' }) };
    assert.equal(takeBankBoot(env), { bank: 'B', load: 'x', factory: self, reason: 'load-installed' });
    assert.is(env[BANK_BOOT_ENV], undefined, 'taken out: a firmware this one starts does not see it');
    assert.is(takeBankBoot({ [BANK_BOOT_ENV]: '{"bank":"C"}' }), undefined);
    assert.is(takeBankBoot({}), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('sepi phone re-executes the bank with the same Node and arguments; a firmware that dies at start is fallen back from', async () => {
  const dir = await temp();
  try {
    const nvram = new FileNvram(dir);
    // This bank's "firmware" says how it was started, and stops.
    const probe = 'process.stdout.write(JSON.stringify({ argv: process.argv, execPath: process.execPath, note: process.env.SEPI_BANK_BOOT }) + "\\n");\n';
    await install(nvram, 'sepi88xx.2-0-0-0001', { [BANK_ENTRY]: probe });
    const args = ['phone', '--iface', 'lo', '--net', 'none', '--mac', '00:11:22:33:44:b7', '--nvram', dir, '--json-events', '--timeout', '2'];
    const r = await run(SEPI, args, { cwd: ROOT });
    const seen = JSON.parse(r.stdout.trim()) as { argv: string[]; execPath: string; note: string };
    assert.equal(seen.argv.slice(1), [join(dir, 'bank-b', 'lib', 'sepi', 'sepi.mjs'), ...args]);
    const note = JSON.parse(seen.note) as { bank: string; load: string; factory: Launch };
    assert.equal([note.bank, note.load, note.factory.script], ['B', 'sepi88xx.2-0-0-0001', join(ROOT, 'src', 'cli', 'main.ts')]);
    assert.match(r.stderr, /bank B: running load sepi88xx\.2-0-0-0001/);

    // It exited without registering: the next power-on falls back, runs the factory firmware, and says so.
    const again = await run(SEPI, args, { cwd: ROOT }).catch((e: { stdout: string; code: number }) => e);
    const events = again.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const power = events.find((e) => e['step'] === 'power' && e['state'] === 'start')!;
    assert.equal([power['load'], power['inactiveLoad'], power['reason']], [FACTORY.active, 'sepi88xx.2-0-0-0001', 'power-on']);
    const fell = events.find((e) => e['step'] === 'load' && e['trial'] === 'failed')!;
    assert.equal([fell['load'], fell['activeLoad']], ['sepi88xx.2-0-0-0001', FACTORY.active]);
    assert.not.ok(events.some((e) => 'argv' in e), 'the bank did not run again');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
