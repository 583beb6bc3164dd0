/**
 * The companion's TFTP server attacked from the lab LAN (issue 7): each test is a regression for
 * a defect of the npm `tftp` package the companion used to serve with — an enormous blksize
 * refused instead of lowered, an ACK from another transfer ID accepted, no limit on transfers,
 * replies from the interface's first address instead of the companion's — and ends with the
 * companion still serving. The probe (helpers/tftp-probe.ts) runs in a host namespace.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Lab } from '../support/lab.ts';
import type { Proc } from '../support/proc.ts';
import { ROOT, TempDirs, isRegistered, startCompanion, startPhone } from '../support/sepi.ts';

const run = promisify(execFile);
const PROBE = join(ROOT, 'test/e2e/helpers/tftp-probe.ts');
const lan = suite('companion TFTP under attack from the LAN');
let lab: Lab;
const dirs = new TempDirs();
let companion: Proc;
let attacker = '';

async function probe(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run('ip', ['netns', 'exec', attacker, process.execPath, '--disable-warning=ExperimentalWarning', PROBE, ...args], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

const lines = (re: RegExp) => companion.lines.filter((l) => re.test(l));

lan.before(async () => {
  lab = await Lab.create('10.91.0');
  // Trust lists on (the default): ITLFile.tlv is a file of several blocks.
  companion = await startCompanion(lab, await dirs.make('cm'));
  attacker = await lab.addHost('attacker', { address: '10.91.0.66/24' });
});

lan.after(async () => {
  await lab?.destroy();
  await dirs.removeAll();
});

lan('blksize 65535 is lowered in the OACK (RFC 2348), and the transfer completes', async () => {
  const r = await probe('big-blksize', '10.91.0.1', 'XMLDefault.cnf.xml');
  const first = r['first'] as { op: string; options?: Record<string, string> };
  assert.is(first.op, 'OACK', JSON.stringify(r));
  const blksize = Number(first.options!['blksize']);
  assert.ok(blksize >= 512 && blksize < 65535, `blksize ${blksize}`);
  assert.is(r['complete'], true);
  assert.is(r['bytes'], Number(first.options!['tsize']), 'as many bytes as tsize announced');
});

lan('an ACK from another port gets ERROR 5 and the real transfer still completes (RFC 1350)', async () => {
  const r = await probe('stranger-ack', '10.91.0.1', 'ITLFile.tlv');
  assert.equal(r['stranger'], { op: 'ERROR', code: 5, message: 'Unknown transfer ID' }, JSON.stringify(r));
  assert.is(r['strangerFromTid'], true, 'the error comes from the transfer port');
  assert.is(r['complete'], true);
  assert.ok(Number(r['bytes']) > 512, 'more than one block');
});

lan('300 RRQs for absent files, 64 transfers at once from one address: limits bite, then a 7975 boots over TFTP', async () => {
  const absent = await probe('absent-flood', '10.91.0.1', '300');
  assert.equal(absent['counts'], { error1: 300 }, JSON.stringify(absent));
  const flood = await probe('flood', '10.91.0.1', 'XMLDefault.cnf.xml', '64');
  const counts = flood['counts'] as Record<string, number>;
  assert.is(counts['DATA'], 16, `at most 16 transfers per address: ${JSON.stringify(flood)}\n${companion.tail(80)}`);
  assert.is(counts['error0'], 48);
  assert.match(String(flood['busyMessage']), /busy/i);
  // Every refusal is logged: as its own line, or — past 200 file lines a second, and the 300
  // absent files above already took the budget — counted in the storm's summary line.
  const refusals = () => lines(/ tftp 10\.91\.0\.66 XMLDefault\.cnf\.xml: refused$/).length
    + lines(/files note \(storm: /).reduce((n, l) => n + Number(/(\d+) tftp refused/.exec(l)?.[1] ?? 0), 0);
  await companion.waitFor('the refusals logged', () => refusals() === 48 || undefined, 10_000);
  assert.is(companion.exitCode, undefined, 'the companion is still up');
  const ns = await lab.addHost('m7975', { mac: '00:11:22:33:44:7a' });
  const phone = startPhone(lab, ns, '00112233447A', await dirs.make('nv'), ['--model', '7975', '--until', 'registered', '--timeout', '60']);
  assert.is(await phone.exit(90_000), 0, phone.tail());
  assert.ok(phone.events().some(isRegistered()));
  const config = phone.events().find((e) => e['step'] === 'config' && e['state'] === 'progress' && e['result'] === 'found');
  assert.is(config?.['via'], 'tftp');
});

lan('a companion on the second address of an interface answers from that address', async () => {
  const second = await lab.addServerAddress(2);
  const other = await startCompanion(lab, await dirs.make('cm2'), { address: second, dhcp: { enabled: false }, http: { enabled: false }, sip: { enabled: false }, security: { mode: 'none' } });
  const r = await probe('source', second, 'XMLDefault.cnf.xml');
  assert.is((r['first'] as { op: string }).op, 'DATA', JSON.stringify(r));
  assert.is(r['address'], second, 'the transfer socket is bound to the companion\'s address');
  await other.stop();
});

lan.run();
