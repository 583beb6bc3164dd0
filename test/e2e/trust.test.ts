/**
 * Trust end to end, in network namespaces: a factory-fresh phone trusts the companion's ITL on
 * first use and registers on signed files; a second cluster's ITL is refused while TVS says no
 * (the phone keeps its last good configuration) and accepted once TVS says yes; TVS down is on
 * the screen and retried; a rotated TFTP certificate strands nobody; rollback, the Settings
 * menu's erase (behind **#) and factory reset; a mixed-mode CTL. The companion's files are also
 * checked with OpenSSL, not only with our own code.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseSignedFile, parseTrustList, signedBytes } from '../../src/wire/tlv.ts';
import { Lab } from '../support/lab.ts';
import type { Proc } from '../support/proc.ts';
import { SEPI, cm, isRegistered, startCompanion, startPhone, TempDirs } from '../support/sepi.ts';

const run = promisify(execFile);
const trust = suite('trust: ITL, signed files, TVS');
let lab: Lab;
const dirs = new TempDirs();
const dir = (label: string) => dirs.make(label);
const MAC = '0011223344A7';
const phones = [{ mac: MAC, model: '8841', dn: '1101' }];

trust.before(async () => {
  lab = await Lab.create('10.85.0');
});
trust.after.each(async () => lab.dropHosts());
trust.after(async () => {
  await lab?.destroy();
  await dirs.removeAll();
});

/** A file from the companion over HTTP 6970, fetched inside the lab. */
async function httpFile(ns: string, host: string, name: string): Promise<Buffer> {
  const script = `const r = await fetch('http://${host}:6970/${name}'); if (r.status !== 200) { console.error(r.status); process.exit(1); } process.stdout.write(Buffer.from(await r.arrayBuffer()).toString('base64'));`;
  const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script]);
  return Buffer.from(stdout, 'base64');
}

async function openssl(...args: string[]): Promise<string> {
  const r = await run('openssl', args).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: `${e.stdout ?? ''}${e.stderr ?? ''}`, stderr: '' }));
  return r.stdout + r.stderr;
}

const since = (p: Proc, n: number) => p.events().slice(n);
const trustEvent = (p: Proc, after: number, what: (e: Record<string, unknown>) => boolean, label: string, ms = 60_000) => p.waitForEvent(label, (e) => e['step'] === 'trust' && what(e), ms, after);

trust('a fresh phone trusts the first ITL, registers on signed files; OpenSSL checks the files', async () => {
  const data = await dir('cmA');
  await startCompanion(lab, data, { phones });
  const ns = await lab.addHost('fresh', { mac: '00:11:22:33:44:a7' });
  const nv = await dir('nv');
  const phone = startPhone(lab, ns, MAC, nv, ['--until', 'registered', '--timeout', '60']);
  assert.is(await phone.exit(90_000), 0, phone.tail());
  const ev = phone.events();
  const installed = ev.find((e) => e['trust'] === 'installed')!;
  assert.match(String(installed['how']), /first use/);
  const cfg = ev.find((e) => e['step'] === 'config' && e['state'] === 'done')!;
  assert.is(cfg['file'], `SEP${MAC}.cnf.xml.sgn`);
  assert.is(cfg['signed'], true);
  assert.is(ev.find(isRegistered('device'))!['line'], '1101');

  // What the companion serves, checked with OpenSSL.
  const work = await dir('ossl');
  const itl = await httpFile(ns, '10.85.0.1', 'ITLFile.tlv');
  const sgn = await httpFile(ns, '10.85.0.1', `SEP${MAC}.cnf.xml.sgn`);
  const plain = await httpFile(ns, '10.85.0.1', `SEP${MAC}.cnf.xml`);
  assert.ok(Buffer.from(await readFile(join(nv, 'trust/itl.tlv'))).equals(itl), 'the phone keeps exactly what was served');
  await writeFile(join(work, 'sast.pem'), await cm(data, 'trust', 'export', 'sast'));
  await writeFile(join(work, 'tftp.pem'), await cm(data, 'trust', 'export', 'tftp'));
  const list = parseTrustList(itl);
  if (!list.ok) return assert.unreachable(list.error.message);
  await writeFile(join(work, 'rec0.der'), list.value.records[0]!.certificate!);
  await writeFile(join(work, 'rec1.der'), list.value.records[1]!.certificate!);
  const fp = (s: string) => /Fingerprint=([0-9A-F:]+)/.exec(s)?.[1];
  assert.is(fp(await openssl('x509', '-inform', 'DER', '-in', join(work, 'rec0.der'), '-noout', '-fingerprint', '-sha256')), fp(await openssl('x509', '-in', join(work, 'sast.pem'), '-noout', '-fingerprint', '-sha256')), 'record 1 is the SAST certificate');
  assert.is(fp(await openssl('x509', '-inform', 'DER', '-in', join(work, 'rec1.der'), '-noout', '-fingerprint', '-sha256')), fp(await openssl('x509', '-in', join(work, 'tftp.pem'), '-noout', '-fingerprint', '-sha256')), 'record 2 is the CallManager certificate');
  await openssl('x509', '-in', join(work, 'sast.pem'), '-pubkey', '-noout', '-out', join(work, 'sast.pub'));
  await openssl('x509', '-in', join(work, 'tftp.pem'), '-pubkey', '-noout', '-out', join(work, 'tftp.pub'));
  await writeFile(join(work, 'itl.signed'), signedBytes(itl, list.value.header));
  await writeFile(join(work, 'itl.sig'), list.value.header.signature);
  assert.match(await openssl('dgst', '-sha1', '-verify', join(work, 'sast.pub'), '-signature', join(work, 'itl.sig'), join(work, 'itl.signed')), /Verified OK/);
  const s = parseSignedFile(sgn);
  if (!s.ok) return assert.unreachable(s.error.message);
  assert.ok(Buffer.from(s.value.body).equals(plain), 'the .sgn carries the plain file unchanged');
  await writeFile(join(work, 'sgn.signed'), signedBytes(sgn, s.value.header));
  await writeFile(join(work, 'sgn.sig'), s.value.header.signature);
  assert.match(await openssl('dgst', '-sha1', '-verify', join(work, 'tftp.pub'), '-signature', join(work, 'sgn.sig'), join(work, 'sgn.signed')), /Verified OK/);
  assert.not.match(await openssl('dgst', '-sha1', '-verify', join(work, 'sast.pub'), '-signature', join(work, 'sgn.sig'), join(work, 'sgn.signed')), /Verified OK/);
  // And our own command line says the same.
  await writeFile(join(work, 'itl.tlv'), itl);
  const { stdout } = await run(SEPI, ['tlv', 'verify', join(work, 'itl.tlv'), '--cert', join(work, 'sast.pem')]);
  assert.match(stdout, /^valid: ITLFile\.tlv is signed by CN=SAST-sepi-10\.85\.0\.1/);
});

trust('another cluster: refused while TVS says no (last good file kept), accepted once TVS vouches; TVS down retried', async () => {
  const dataA = await dir('cmA');
  const dataB = await dir('cmB');
  const dataC = await dir('cmC');
  const nv = await dir('nv');
  const ns = await lab.addHost('move', { mac: '00:11:22:33:44:a7' });
  let a = await startCompanion(lab, dataA, { phones });
  let phone = startPhone(lab, ns, MAC, nv, ['--until', 'registered', '--timeout', '60']);
  assert.is(await phone.exit(90_000), 0, phone.tail());
  await a.stop();

  // The old cluster keeps only SIP and TVS; a new cluster B at .2 now answers DHCP and TFTP.
  a = await startCompanion(lab, dataA, { phones, dhcp: { enabled: false }, tftp: { enabled: false }, http: { enabled: false } });
  // Each cluster on its own host (the npm tftp server answers from the interface's first address).
  const b2 = '10.85.0.2';
  const hostB = await lab.addHost('cmB', { address: `${b2}/24` });
  const cmB = { phones, dhcp: { router: '10.85.0.1' }, callManagers: [{ host: b2, sipPort: 5060 }] };
  let b = await startCompanion(lab, dataB, cmB, { ns: hostB, iface: 'eth0' });
  phone = startPhone(lab, ns, MAC, nv, ['--keys', 'stdin']);
  const refused = await trustEvent(phone, 0, (e) => e['trust'] === 'refused', 'the new ITL refused');
  assert.match(String(refused['reason']), /signed by unknown CN=SAST-sepi-10\.85\.0\.2.*TVS says it is not valid/);
  const badFile = await phone.waitForEvent('the new file refused', (e) => e['step'] === 'config' && e['state'] === 'fail');
  assert.is(badFile['error'], 'signature');
  const lastGood = await phone.waitForEvent('the last good file', (e) => e['step'] === 'config' && e['state'] === 'done');
  assert.is(lastGood['lastGood'], true);
  const reg = await phone.waitForEvent('registered on the old cluster', isRegistered('device'));
  assert.is(reg['cm'], '10.85.0.1');
  // Registered, and the screen still says a file was refused; Status messages has the whole line.
  const shown = await phone.waitFor('the refusal on the registered screen', () => phone.events().find((e) => Array.isArray(e['screen']) && /Registered[\s\S]*!SEP0011223344A7\.cnf/.test((e['screen'] as string[]).join('\n'))));
  assert.ok(shown);
  const before = phone.events().length;
  phone.send(`settings 2 ${'up '.repeat(12)}`);
  const log = await phone.waitFor('the refusal in Status messages', () => since(phone, before).find((e) => Array.isArray(e['screen']) && (e['screen'] as string[])[0]!.startsWith('Status messages') && /refused/.test((e['screen'] as string[]).join(' '))));
  assert.ok(log);
  phone.send('back back');

  // The old cluster's TVS learns the new SAST: the phone takes the new ITL at its next restart.
  const bSast = join(dataB, 'b-sast.pem');
  await writeFile(bSast, await cm(dataB, 'trust', 'export', 'sast'));
  await cm(dataA, 'trust', 'import', bSast, '--roles', 'SAST');
  let seen = phone.events().length;
  await cm(dataA, 'phone', 'reset', MAC, '--restart');
  const viaTvs = await trustEvent(phone, seen, (e) => e['trust'] === 'installed', 'the new ITL accepted');
  assert.match(String(viaTvs['how']), /TVS/);
  const regB = await phone.waitForEvent('registered on the new cluster', isRegistered('device'), 60_000, seen);
  assert.is(regB['cm'], b2);
  assert.ok(since(phone, seen).some((e) => e['step'] === 'config' && e['state'] === 'done' && e['signed'] === true && e['lastGood'] === undefined));

  // TVS down: the phone holds B's list; C at .3 is unknown and B's TVS is gone.
  await phone.stop();
  await lab.stopAll();
  const c3 = '10.85.0.3';
  const hostC = await lab.addHost('cmC', { address: `${c3}/24` });
  await startCompanion(lab, dataC, { phones, dhcp: { router: '10.85.0.1' }, callManagers: [{ host: c3, sipPort: 5060 }] }, { ns: hostC, iface: 'eth0' });
  phone = startPhone(lab, ns, MAC, nv);
  await trustEvent(phone, 0, (e) => e['tvs'] === 'unavailable', 'TVS unavailable');
  const screen = await phone.waitFor('TVS on the screen', () => phone.events().find((e) => Array.isArray(e['screen']) && /TVS/.test((e['screen'] as string[]).join(' '))));
  assert.ok(screen);
  await phone.waitFor('a second try', () => phone.events().filter((e) => e['tvs'] === 'unavailable').length >= 2 || undefined, 60_000);
  // B comes back with TVS (and SIP) only, vouching for C's SAST: the next try succeeds.
  b = await startCompanion(lab, dataB, { ...cmB, dhcp: { enabled: false }, tftp: { enabled: false }, http: { enabled: false } }, { ns: hostB, iface: 'eth0' });
  const cSast = join(dataC, 'c-sast.pem');
  await writeFile(cSast, await cm(dataC, 'trust', 'export', 'sast'));
  await cm(dataB, 'trust', 'import', cSast, '--roles', 'SAST');
  seen = 0;
  const accepted = await trustEvent(phone, seen, (e) => e['trust'] === 'installed', 'C accepted after TVS came back', 90_000);
  assert.match(String(accepted['how']), /TVS/);
  const regC = await phone.waitForEvent('registered on C', isRegistered('device'), 60_000);
  assert.is(regC['cm'], c3);
  void b;
});

trust('a rotated TFTP certificate strands nobody; rollback releases; **# erase and factory reset from the menu', async () => {
  const data = await dir('cmR');
  await startCompanion(lab, data, { phones });
  const ns = await lab.addHost('rot', { mac: '00:11:22:33:44:a7' });
  const phone = startPhone(lab, ns, MAC, await dir('nv'), ['--keys', 'stdin']);
  await phone.waitForEvent('registered', isRegistered('device'), 60_000);

  let seen = phone.events().length;
  await cm(data, 'trust', 'rotate-tftp');
  await cm(data, 'phone', 'reset', MAC, '--restart');
  const rotated = await trustEvent(phone, seen, (e) => e['trust'] === 'installed', 'the rotated ITL');
  assert.match(String(rotated['how']), /signed by a trusted SAST/);
  await phone.waitForEvent('registered on the new certificate', (e) => isRegistered('device')(e) && String(e['file']).endsWith('.sgn'), 60_000, seen);

  seen = phone.events().length;
  await cm(data, 'trust', 'rollback', 'on');
  await cm(data, 'phone', 'reset', MAC, '--restart');
  await trustEvent(phone, seen, (e) => e['trust'] === 'installed', 'the rollback ITL');
  const plain = await phone.waitForEvent('registered on a plain file', isRegistered('device'), 60_000, seen);
  assert.is(plain['file'], `SEP${MAC}.cnf.xml`, 'a rollback ITL asks for no signed files');
  seen = phone.events().length;
  await cm(data, 'trust', 'rollback', 'off');
  await cm(data, 'phone', 'reset', MAC, '--restart');
  const back = await trustEvent(phone, seen, (e) => e['trust'] === 'installed', 'the full ITL again');
  assert.match(String(back['how']), /rollback list/);
  await phone.waitForEvent('registered signed again', (e) => isRegistered('device')(e) && String(e['file']).endsWith('.sgn'), 60_000, seen);

  // Erase is locked until **# is typed.
  seen = phone.events().length;
  phone.send('settings 1 soft1');
  await phone.waitFor('the lock shown', () => since(phone, seen).find((e) => Array.isArray(e['screen']) && /Locked: \*\*# unlocks/.test((e['screen'] as string[]).join(' '))));
  assert.not.ok(since(phone, seen).some((e) => e['reason'] === 'trust-list-erased'));
  phone.send('* * # soft1');
  await phone.waitForEvent('the erase', (e) => e['reason'] === 'trust-list-erased', 30_000, seen);
  const relearned = await trustEvent(phone, seen, (e) => e['trust'] === 'installed', 'trust on first use again');
  assert.match(String(relearned['how']), /first use/);
  await phone.waitForEvent('registered after the erase', isRegistered('device'), 60_000, seen);

  seen = phone.events().length;
  phone.send('settings 4 * * # soft1');
  await phone.waitForEvent('the factory reset', (e) => e['reason'] === 'factory-reset', 30_000, seen);
  const after = await phone.waitForEvent('registered after the factory reset', isRegistered('device'), 90_000, seen);
  assert.ok(after);
  const dhcp = since(phone, seen).filter((e) => e['step'] === 'dhcp' && e['state'] === 'progress').map((e) => e['dhcp']);
  assert.is(dhcp[0], 'discover', 'the lease was wiped: DHCP from DISCOVER');
  assert.ok(since(phone, seen).some((e) => e['trust'] === 'installed' && /first use/.test(String(e['how']))));
});

trust('mixed mode: the CTL is trusted first, and the ITL is checked against it', async () => {
  const data = await dir('cmM');
  await startCompanion(lab, data, { phones, security: { mode: 'mixed' } });
  const ns = await lab.addHost('mixed', { mac: '00:11:22:33:44:a7' });
  const phone = startPhone(lab, ns, MAC, await dir('nv'), ['--until', 'registered', '--timeout', '60']);
  assert.is(await phone.exit(90_000), 0, phone.tail());
  const installs = phone.events().filter((e) => e['trust'] === 'installed');
  assert.equal(installs.map((e) => String(e['file']).slice(0, 3)), ['CTL', 'ITL']);
  assert.match(String(installs[1]!['how']), /trusted SAST/, 'the ITL is judged by the CTL, not trusted on first use');
});

trust.run();
