/**
 * CAPF and TFTP Encrypted Config held against implementations nobody here wrote (issue 7,
 * defect 5): usecallmanager.nz's capfc (a phone's CAPF client) against the companion's CAPF,
 * our phone's CAPF client against their capfd, and their enccnf reading the companion's
 * .enc.sgn and building one our phone opens. Real TLS on loopback; the peers run as separate
 * processes on Debian's python3 (test/peers/usecallmanager/README.md).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate, createPrivateKey, verify as cryptoVerify } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemClock } from '../../src/common/clock.ts';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import { Companion } from '../../src/cm/companion.ts';
import { loopbackConfig } from '../../src/cm/config.ts';
import { runCapfSession } from '../../src/phone/capf-client.ts';
import { Lsc, readLsc } from '../../src/phone/lsc.ts';
import { NodeNetwork } from '../../src/phone/node-ports.ts';
import { MemoryNvram } from '../../src/phone/nvram.ts';
import { openEncryptedConfig, parseEncryptedConfig } from '../../src/wire/enc-config.ts';
import { verifySignedFile } from '../../src/wire/tlv.ts';
import { freeTcpPort } from '../support/proc.ts';
import { capfdDatabase, capfdDevices, enccnf, runCapfc, startCapfd, ucmPeersMissing } from '../support/ucm-peers.ts';

let dir = '';
let companion: Companion;
const log: string[] = [];
const network = new NodeNetwork();
const clock = new SystemClock();
let capfPem = '';

test.before(async () => {
  const missing = ucmPeersMissing();
  if (missing) throw new Error(missing);
  dir = await mkdtemp(join(tmpdir(), 'sepi-capf-peers-'));
  companion = new Companion({ dataDir: join(dir, 'cm'), config: loopbackConfig(), log: (l) => log.push(l) });
  await companion.start();
  capfPem = join(dir, 'capf.crt');
  await writeFile(capfPem, expectOk(companion.trust.exportCertificate('capf')).pem);
});

test.after(async () => {
  await companion?.stop();
  await network.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const addPhone = (mac: string, dn: string) => expectOk(companion.phones.add({ mac, model: '8841', dn, password: `pw-${dn}` }));
const capfc = (deviceName: string, o: { password?: string; lscPem?: string; outPem: string }) =>
  runCapfc({ host: '127.0.0.1', port: companion.endpoints.capf!, capfCertPem: capfPem, deviceName, outPem: o.outPem, ...(o.password ? { password: o.password } : {}), ...(o.lscPem ? { lscPem: o.lscPem } : {}), timeoutSecs: 20 });

test('capfc against the companion: an authentication string installs an LSC, a wrong one is refused, the LSC then proves the phone for a delete', async () => {
  addPhone('0011223344d1', '1401');
  expectOk(companion.phones.certificate('SEP0011223344D1', { operation: 'install', auth: 'string', authString: '135790', encryptedConfig: true }));
  const out = join(dir, 'SEP0011223344D1.pem');

  const wrong = await capfc('SEP0011223344D1', { password: '000000', outPem: out });
  assert.match(wrong.stdout, /Server ended session: 7/, `${wrong.stdout}${wrong.stderr}`);
  assert.ok(log.some((l) => /capf .* SEP0011223344D1: refused authentication string: wrong authentication string/.test(l)));

  const good = await capfc('SEP0011223344D1', { password: '135790', outPem: out });
  assert.is(good.code, 0, good.stderr);
  assert.match(good.stdout, /Wrote/);
  const written = await readFile(out, 'utf8');
  const issued = new X509Certificate(written);
  const view = expectOk(companion.phones.show('SEP0011223344D1'));
  assert.equal([view.certificate.operation, view.certificate.lsc?.serial, view.certificate.encryptedNow], ['none', issued.serialNumber.toLowerCase(), true], 'the companion recorded the LSC capfc stored');
  assert.match(issued.subject, /CN=SEP0011223344D1/);
  assert.ok(issued.verify(new X509Certificate(await readFile(capfPem)).publicKey), 'signed by the CAPF CA');
  // The key capfc made is the one certified.
  assert.ok(issued.checkPrivateKey(createPrivateKey(written)), 'the key capfc made is the one certified');

  // Nothing pending now: capfc is told so.
  const again = await capfc('SEP0011223344D1', { password: '135790', outPem: join(dir, 'unused.pem') });
  assert.match(again.stdout, /No scheduled operation/);

  // Delete, authenticated by the LSC (capfc signs device name + certificate with its key).
  expectOk(companion.phones.certificate('SEP0011223344D1', { operation: 'delete', auth: 'lsc' }));
  const del = await capfc('SEP0011223344D1', { lscPem: out, outPem: out });
  assert.is(del.code, 0, del.stderr);
  assert.match(del.stdout, /Deleted/);
  assert.is(expectOk(companion.phones.show('SEP0011223344D1')).certificate.lsc, undefined);
});

test('capfc for a phone the companion does not know, and with nothing scheduled', async () => {
  const unknown = await capfc('SEP00112233EEEE', { outPem: join(dir, 'x.pem') });
  assert.match(unknown.stdout, /Unknown device: SEP00112233EEEE/);
  addPhone('0011223344d2', '1402');
  const idle = await capfc('SEP0011223344D2', { outPem: join(dir, 'y.pem') });
  assert.match(idle.stdout, /No scheduled operation/);
});

test('enccnf reads what the companion serves: the signature holds with the TFTP certificate, and the LSC\'s key opens the full file', async () => {
  addPhone('0011223344d3', '1403');
  expectOk(companion.phones.certificate('SEP0011223344D3', { operation: 'install', auth: 'null-string', encryptedConfig: true }));
  const lscPem = join(dir, 'SEP0011223344D3.pem');
  const r = await capfc('SEP0011223344D3', { outPem: lscPem });
  assert.is(r.code, 0, r.stderr);
  const http = `http://127.0.0.1:${companion.endpoints.http}`;
  const short = await (await fetch(`${http}/SEP0011223344D3.cnf.xml`)).text();
  assert.not.match(short, /pw-1403/);
  const encPath = join(dir, 'SEP0011223344D3.cnf.xml.enc.sgn');
  await writeFile(encPath, Buffer.from(await (await fetch(`${http}/SEP0011223344D3.cnf.xml.enc.sgn`)).arrayBuffer()));
  const tftpCrt = join(dir, 'tftp.crt');
  await writeFile(tftpCrt, expectOk(companion.trust.exportCertificate('tftp')).pem);
  const parsed = await enccnf(['--parse', '--tftp', tftpCrt, encPath]);
  assert.match(parsed.stdout, /Valid signature/, parsed.stdout + parsed.stderr);
  assert.match(parsed.stdout, /Filename:\s+SEP0011223344D3\.cnf\.xml\.enc\.sgn/);
  const opened = await enccnf(['--remove', '--key', lscPem, encPath], dir);
  assert.is(opened.code, 0, opened.stdout + opened.stderr);
  const plain = await readFile(join(dir, 'SEP0011223344D3.cnf.xml'), 'utf8');
  assert.match(plain, /<authPassword>pw-1403<\/authPassword>/);
  // enccnf's certHash (MD5 of the certificate) is the one the companion's short file names.
  const certHash = /<certHash>([0-9a-f]+)<\/certHash>/.exec(short)?.[1];
  assert.is(certHash, new Lsc({ certPem: await readFile(lscPem, 'utf8'), keyPem: await readFile(lscPem, 'utf8') }).certHash);
});

test('our phone opens what enccnf builds: its signature verifies and its LSC key decrypts it', async () => {
  // enccnf signs with a TFTP certificate and key file, and encrypts for a device certificate.
  const work = await mkdtemp(join(dir, 'enccnf-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(work, 'tftp.key'), '-out', join(work, 'tftp.crt'), '-subj', '/CN=TFTP-peer', '-days', '2'], { stdio: 'ignore' });
  await writeFile(join(work, 'tftp.pem'), (await readFile(join(work, 'tftp.crt'), 'utf8')) + (await readFile(join(work, 'tftp.key'), 'utf8')));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(work, 'dev.key'), '-out', join(work, 'dev.crt'), '-subj', '/CN=SEP0011223344D4', '-days', '2'], { stdio: 'ignore' });
  const xml = '<device><fullConfig>true</fullConfig><deviceProtocol>SIP</deviceProtocol><devicePool><name>x</name></devicePool><authPassword>from-enccnf</authPassword></device>\n';
  await writeFile(join(work, 'SEP0011223344D4.cnf.xml'), xml);
  const built = await enccnf(['--build', '--tftp', join(work, 'tftp.pem'), '--certificate', join(work, 'dev.crt'), join(work, 'SEP0011223344D4.cnf.xml')], work);
  assert.is(built.code, 0, built.stdout + built.stderr);
  const file = await readFile(join(work, 'SEP0011223344D4.cnf.xml.enc.sgn'));
  const e = parseEncryptedConfig(file);
  if (!e.ok) return assert.unreachable(e.error.message);
  const tftpCert = new X509Certificate(await readFile(join(work, 'tftp.crt')));
  assert.ok(verifySignedFile(file, e.value.file.header, (d, data, sig) => cryptoVerify(d, data, tftpCert.publicKey, sig)), 'signature verifies');
  const lsc = new Lsc({ certPem: await readFile(join(work, 'dev.crt'), 'utf8'), keyPem: await readFile(join(work, 'dev.key'), 'utf8') });
  const plain = openEncryptedConfig(e.value, (w) => lsc.unwrap(w));
  assert.ok(plain.ok && plain.value.toString('utf8') === xml, 'decrypted byte for byte');
  const short = await readFile(join(work, 'SEP0011223344D4.cnf.xml.sgn'));
  assert.ok(short.includes(Buffer.from(`<certHash>${lsc.certHash}</certHash>`)), 'enccnf names the certificate by the same hash');
});

test('our phone\'s CAPF client against capfd: install (authentication string), fetch, then delete proving itself with the LSC', async () => {
  const work = await mkdtemp(join(dir, 'capfd-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(work, 'capf.key'), '-out', join(work, 'capf.crt'), '-subj', '/CN=CAPF-peer/O=peer lab', '-days', '2'], { stdio: 'ignore' });
  await writeFile(join(work, 'capf.pem'), (await readFile(join(work, 'capf.crt'), 'utf8')) + (await readFile(join(work, 'capf.key'), 'utf8')));
  const name = 'SEP0011223344D5';
  const dbPath = await capfdDatabase(work, [{ deviceName: name, operation: 'install', authentication: 'password', password: '8642', keySize: 2048 }]);
  const port = await freeTcpPort();
  const capfd = await startCapfd({ dbPath, certsDir: work, capfPem: join(work, 'capf.pem'), port });
  try {
    const capfCert = new X509Certificate(await readFile(join(work, 'capf.crt'))).raw;
    const nvram = new MemoryNvram();
    const session = (authString?: string) => runCapfSession({ network, clock, nvram, deviceName: name, host: '127.0.0.1', port, capfCertificates: [capfCert], ...(authString ? { authString } : {}) });

    const wrong = await session('1111');
    assert.is(wrong.kind, 'refused', JSON.stringify(wrong));
    const r = await session('8642');
    assert.is(r.kind, 'installed', JSON.stringify(r));
    const lsc = await readLsc(nvram);
    const row = capfdDevices(dbPath).find((d) => d.deviceName === name)!;
    assert.ok(lsc && row.certificate && new X509Certificate(row.certificate).raw.equals(lsc.der), 'capfd recorded the certificate the phone stored');
    assert.is(row.operation, 'none');

    // capfd asks for the certificate back (fetch), the phone authenticating with it.
    execFileSync('/usr/bin/python3', ['-I', '-c', `import sqlite3; d=sqlite3.connect(${JSON.stringify(dbPath)}); d.execute("UPDATE devices SET operation='fetch', authentication='certificate' WHERE device_name=?", (${JSON.stringify(name)},)); d.commit()`]);
    const fetched = await session();
    assert.is(fetched.kind, 'fetched', JSON.stringify(fetched));

    execFileSync('/usr/bin/python3', ['-I', '-c', `import sqlite3; d=sqlite3.connect(${JSON.stringify(dbPath)}); d.execute("UPDATE devices SET operation='delete', authentication='certificate' WHERE device_name=?", (${JSON.stringify(name)},)); d.commit()`]);
    const deleted = await session();
    assert.is(deleted.kind, 'deleted', JSON.stringify(deleted) + capfd.output());
    assert.is(await readLsc(nvram), undefined);
    assert.is(capfdDevices(dbPath).find((d) => d.deviceName === name)!.certificate, null);

    // A CAPF server whose certificate is not the trusted one gets nothing from the phone.
    const untrusted = await runCapfSession({ network, clock, nvram, deviceName: name, host: '127.0.0.1', port, capfCertificates: [new X509Certificate(expectOk(companion.trust.exportCertificate('capf')).pem).raw] });
    assert.ok(untrusted.kind === 'failed' && /not in the trust list/.test(untrusted.reason));
  } finally {
    await capfd.stop();
  }
});

test.run();
