/**
 * A firmware upgrade end to end in network namespaces (issue 11): `make firmware`'s script
 * builds a newer load (`--no-runtime`: the phone runs the bundle with this Node), `sepi cm load
 * add` puts it in the companion's TFTP root, and Device Defaults (or the phone's own setting)
 * names it. The phone (`sepi phone --nvram DIR --firmware-cert …`) downloads it over HTTP 6970,
 * checks it against the firmware certificate, writes it to bank B, and re-executes the bank's
 * bundle in its own process (same pid, same stdout): the power event names the new load, the
 * process's command line is `DIR/bank-b/lib/sepi/sepi.mjs`, it registers and the trial passes.
 * A restart boots the bank again.
 *
 * Then what must not install: a component corrupted in the TFTP root, a `.loads` signed with
 * another key, a component truncated, and a companion SIGKILLed half-way through the download.
 * Each phone keeps running its old firmware (the sources, not a bank) and registers on it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Lab } from '../support/lab.ts';
import type { Proc } from '../support/proc.ts';
import { ROOT, TempDirs, cm, cmJson, isRegistered, startCompanion, startPhone } from '../support/sepi.ts';

const run = promisify(execFile);
const dirs = new TempDirs();
const FACTORY = 'sip88xx.14-2-1-0001-14';

/** `make firmware`'s script, fast: no Pi runtime. */
async function buildLoad(out: string, keys: string, loadId: string): Promise<string> {
  const r = await run(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'scripts', 'build-firmware.ts'), '--out', out, '--keys', keys, '--no-runtime', '--load-id', loadId], { cwd: ROOT });
  assert.match(r.stdout, new RegExp(`firmware ${loadId.replace(/\./g, '\\.')}: \\d+ files`));
  return join(out, loadId);
}

/** The phone's process command line (the lab execs through `ip netns exec` and bin/sepi: the same pid). */
const cmdline = async (p: Proc) => (await readFile(`/proc/${p.child.pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
const powers = (p: Proc) => p.events().filter((e) => e['step'] === 'power' && e['state'] === 'start');
const banksOf = async (nv: string) => JSON.parse(await readFile(join(nv, 'banks.json'), 'utf8').catch(() => 'null')) as { active: string; loads: Record<string, string>; trial?: unknown; files?: Record<string, unknown[]> } | null;

test('the companion offers a newer load: the phone installs it in bank B, re-executes its bundle, registers, and the trial passes', async () => {
  const lab = await Lab.create('10.86.0');
  try {
    const tmp = await dirs.make('fw-up');
    const load = await buildLoad(join(tmp, 'out'), join(tmp, 'keys'), 'sepi88xx.1-0-1-0002');
    const data = await dirs.make('fw-cm');
    await startCompanion(lab, data);
    assert.match(await cm(data, 'load', 'add', load), /added load sepi88xx\.1-0-1-0002: \d+ files, [\d.]+ MiB, signed by CN=sepi firmware signer/);
    assert.match(await cm(data, 'device-defaults', 'set', '--model', '8841', '--load', 'sepi88xx.1-0-1-0002'), /8841: loadInformation683 sepi88xx\.1-0-1-0002/);
    await cm(data, 'phone', 'add', '--mac', '00:11:22:33:44:c1', '--model', '8841', '--dn', '1801');
    const listed = await cmJson<{ loads: Array<{ id: string; kind: string; complete: boolean }>; defaults: Array<{ code: number; load: string; from: string }> }>(data, 'load', 'list');
    assert.equal(listed.loads.map((l) => [l.id, l.kind, l.complete]), [['sepi88xx.1-0-1-0002', 'sepi', true]]);
    assert.equal(listed.defaults, [{ code: 683, model: '8841', load: 'sepi88xx.1-0-1-0002', from: 'device-defaults' }]);

    const nv = await dirs.make('fw-nv');
    const ns = await lab.addHost('up', { mac: '00:11:22:33:44:c1' });
    const phone = startPhone(lab, ns, '0011223344C1', nv, ['--firmware-cert', join(tmp, 'keys', 'firmware.cert.pem')]);
    await phone.waitForEvent('the power-on', (e) => e['step'] === 'power', 60_000);
    assert.match((await cmdline(phone)).join(' '), /src\/cli\/main\.ts phone /, 'it starts as the sources');
    const installed = await phone.waitForEvent('the load installed', (e) => e['step'] === 'load' && e['state'] === 'done', 120_000);
    assert.is(installed['bank'], 'B');
    const upgraded = await phone.waitForEvent('the boot on the new load', (e) => e['step'] === 'power' && e['load'] === 'sepi88xx.1-0-1-0002', 60_000);
    assert.is(upgraded['reason'], 'load-installed');
    assert.is(upgraded['inactiveLoad'], FACTORY);
    await phone.waitForEvent('registered on the new load', isRegistered('device'), 60_000);
    await phone.waitForEvent('the trial passed', (e) => e['step'] === 'load' && e['trial'] === 'passed', 30_000);
    // The same process now runs the bank's bundle: only that path says so.
    const argv = await cmdline(phone);
    const at = argv.indexOf(join(nv, 'bank-b', 'lib', 'sepi', 'sepi.mjs'));
    assert.ok(at > 0, argv.join(' '));
    assert.equal(argv.slice(at + 1), ['phone', '--iface', 'eth0', '--mac', '0011223344C1', '--model', '8841', '--nvram', nv, '--json-events', '--json-screens', '--firmware-cert', join(tmp, 'keys', 'firmware.cert.pem')], 'with the same arguments');
    assert.ok(phone.errLines.some((l) => /bank B: running load sepi88xx\.1-0-1-0002/.test(l)), phone.tail());
    assert.equal(powers(phone).map((e) => e['load']), [FACTORY, 'sepi88xx.1-0-1-0002']);
    const banks = await banksOf(nv);
    assert.ok(banks && banks.active === 'B' && banks.trial === undefined && (banks.files?.['B']?.length ?? 0) > 100, JSON.stringify(banks?.loads));
    const shown = await cmJson<{ activeLoad?: string }>(data, 'phone', 'show', '0011223344C1');
    assert.is(shown.activeLoad, 'sepi88xx.1-0-1-0002.loads', 'the REGISTER named the active load (ActiveLoad=, as Cisco phones name it)');
    await phone.stop();

    // Power it on again: the bank's firmware runs from the start.
    const again = startPhone(lab, ns, '0011223344C1', nv, ['--firmware-cert', join(tmp, 'keys', 'firmware.cert.pem')]);
    const boot = await again.waitForEvent('the power-on', (e) => e['step'] === 'power' && e['state'] === 'start', 60_000);
    assert.equal([boot['load'], boot['inactiveLoad'], boot['reason']], ['sepi88xx.1-0-1-0002', FACTORY, 'power-on']);
    assert.ok((await cmdline(again)).includes(join(nv, 'bank-b', 'lib', 'sepi', 'sepi.mjs')));
    await again.waitForEvent('registered', isRegistered('device'), 60_000);
    assert.not.ok(again.events().some((e) => e['step'] === 'load' && e['state'] === 'start'), 'nothing more to install');
  } finally {
    await lab.destroy();
    await dirs.removeAll();
  }
});

test('a corrupted component, a .loads signed with another key, a truncated component: each phone keeps its old firmware and registers', async () => {
  const lab = await Lab.create('10.87.0');
  try {
    const tmp = await dirs.make('fw-bad');
    const keys = join(tmp, 'keys');
    const ids = { corrupt: 'sepi88xx.1-0-1-0003', foreign: 'sepi88xx.1-0-1-0004', truncated: 'sepi88xx.1-0-1-0005' } as const;
    const folders = [await buildLoad(join(tmp, 'out'), keys, ids.corrupt), await buildLoad(join(tmp, 'out'), join(tmp, 'other-keys'), ids.foreign), await buildLoad(join(tmp, 'out'), keys, ids.truncated)];
    const data = await dirs.make('fw-bad-cm');
    await startCompanion(lab, data);
    const added = await cm(data, 'load', 'add', ...folders);
    assert.is(added.trim().split('\n').length, 3, added);
    // Damaged in the TFTP root after they were added: one byte changed, half a file gone.
    const bundle = (id: string) => join(data, 'tftp-root', id, 'lib', 'sepi', 'sepi.mjs');
    const bytes = await readFile(bundle(ids.corrupt));
    bytes[bytes.length >> 1]! ^= 0x20;
    await writeFile(bundle(ids.corrupt), bytes);
    await truncate(bundle(ids.truncated), (await stat(bundle(ids.truncated))).size >> 1);
    const listed = await cmJson<{ loads: Array<{ id: string; complete: boolean; missing: string[] }> }>(data, 'load', 'list');
    assert.equal(listed.loads.map((l) => [l.id, l.complete]), [[ids.corrupt, true], [ids.foreign, true], [ids.truncated, false]], 'the list checks sizes, not hashes');

    const cases = [
      { mac: '0011223344C3', load: ids.corrupt, reason: /lib\/sepi\/sepi\.mjs is not the file the signed list names/ },
      { mac: '0011223344C4', load: ids.foreign, reason: /sepi88xx\.1-0-1-0004\.loads is not signed by .*sepi firmware signer/ },
      { mac: '0011223344C5', load: ids.truncated, reason: /lib\/sepi\/sepi\.mjs is not the file the signed list names/ },
    ];
    const phones: Array<{ phone: Proc; nv: string; c: (typeof cases)[number] }> = [];
    for (const [i, c] of cases.entries()) {
      assert.match(await cm(data, 'phone', 'add', '--mac', c.mac, '--model', '8841', '--dn', `190${i}`, '--load', c.load), new RegExp(`SEP${c.mac}: load ${c.load.replace(/\./g, '\\.')}`));
      const nv = await dirs.make(`fw-bad-nv${i}`);
      const ns = await lab.addHost(`bad${i}`, { mac: c.mac.replace(/(..)(?!$)/g, '$1:') });
      phones.push({ phone: startPhone(lab, ns, c.mac, nv, ['--firmware-cert', join(keys, 'firmware.cert.pem')]), nv, c });
    }
    for (const { phone, nv, c } of phones) {
      const refused = await phone.waitForEvent(`${c.load} refused`, (e) => e['step'] === 'load' && e['state'] === 'fail', 120_000);
      assert.match(String(refused['reason']), c.reason, String(refused['message']));
      await phone.waitForEvent('registered on the old load', isRegistered('device'), 60_000);
      assert.equal(powers(phone).map((e) => e['load']), [FACTORY]);
      assert.match((await cmdline(phone)).join(' '), /src\/cli\/main\.ts phone /, 'still the old firmware');
      const banks = await banksOf(nv);
      assert.ok(banks === null || (banks.active === 'A' && !banks.files?.['B']), JSON.stringify(banks));
    }
  } finally {
    await lab.destroy();
    await dirs.removeAll();
  }
});

test('the companion killed half-way through the download: the old bank stays, and the phone registers when it is back', async () => {
  const lab = await Lab.create('10.88.0');
  try {
    const tmp = await dirs.make('fw-kill');
    const id = 'sepi88xx.1-0-1-0006';
    const folder = await buildLoad(join(tmp, 'out'), join(tmp, 'keys'), id);
    const data = await dirs.make('fw-kill-cm');
    const companion = await startCompanion(lab, data);
    await cm(data, 'load', 'add', folder);
    await cm(data, 'phone', 'add', '--mac', '0011223344C6', '--model', '8841', '--dn', '1950', '--load', id);
    const nv = await dirs.make('fw-kill-nv');
    const ns = await lab.addHost('kill', { mac: '00:11:22:33:44:c6' });
    const phone = startPhone(lab, ns, '0011223344C6', nv, ['--firmware-cert', join(tmp, 'keys', 'firmware.cert.pem'), '--wait-scale', '0.05']);
    // Killed once the companion has sent a few dozen of the load's files, with hundreds to go.
    const served = () => companion.lines.filter((l) => l.includes(`${id}/`) && / sent /.test(l)).length;
    await companion.waitFor('30 components sent', () => served() >= 30 || undefined, 120_000);
    await companion.kill();
    const sent = served();
    const refused = await phone.waitForEvent('the download given up', (e) => e['step'] === 'load' && e['state'] === 'fail', 60_000);
    assert.match(String(refused['reason']), new RegExp(`^${id.replace(/\./g, '\\.')}/\\S+: `), String(refused['message']));
    const files = phone.events().filter((e) => e['step'] === 'load' && e['state'] === 'progress' && 'file' in e).length;
    assert.ok(files >= 20 && files <= sent && files < 200, `${files} components written of the load's ${sent} sent`);
    let banks = await banksOf(nv);
    assert.ok(banks === null || (banks.active === 'A' && !banks.files?.['B']), JSON.stringify(banks));
    // While it is down, the phone's load is taken back on the folder itself; then it comes back.
    assert.match(await cm(data, 'phone', 'set', '0011223344C6', '--load', ''), /SEP0011223344C6: load its model's \(none\)/);
    await startCompanion(lab, data);
    await phone.waitForEvent('registered on the old load', isRegistered('device'), 120_000);
    assert.equal(powers(phone).map((e) => e['load']), [FACTORY]);
    assert.match((await cmdline(phone)).join(' '), /src\/cli\/main\.ts phone /);
    banks = await banksOf(nv);
    assert.ok(banks === null || banks.active === 'A', JSON.stringify(banks));
  } finally {
    await lab.destroy();
    await dirs.removeAll();
  }
});

test.run();
