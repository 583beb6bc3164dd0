/**
 * TFTP Encrypted Config end to end (issue 7, defect 5), on the in-process harness with real
 * sockets: the companion schedules a CAPF install, the phone enrols an LSC over TLS 3804, the
 * companion then serves the full configuration only as SEP<MAC>.cnf.xml.enc.sgn encrypted for
 * that LSC, the phone decrypts it and registers with the digest password inside, and the plain
 * file anyone can fetch carries no secret.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate } from 'node:crypto';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import type { StepEvent } from '../../src/phone/events.ts';
import { readLsc } from '../../src/phone/lsc.ts';
import { runCapfSession } from '../../src/phone/capf-client.ts';
import { MemoryNvram } from '../../src/phone/nvram.ts';
import { parsePhoneConfig } from '../../src/wire/cnf-xml.ts';
import { Harness, type HarnessPhone } from '../support/harness.ts';

const PASSWORD = 'line-secret-77';
const seed = (mac: string, dn: string) => ({ phones: [{ mac, model: '8841', dn, password: PASSWORD }] });
const registered = (e: StepEvent) => e.step === 'register' && e.state === 'done' && e.configKind === 'device';
const certificateEvents = (p: HarnessPhone) => p.steps().filter((e) => e.step === 'certificate');

async function plainFile(h: Harness, name: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${h.companion!.endpoints.http}/${name}`);
  assert.is(r.status, 200, name);
  return r.text();
}

test('authentication string: the phone enrols an LSC, then gets its configuration only encrypted, and registers with the password inside', async () => {
  const h = await Harness.start({ companion: seed('0011223344c1', '1301') });
  try {
    const c = h.companion!;
    assert.equal(expectOk(c.status.get()).passwordsInClear, ['SEP0011223344C1'], 'before: the password is in a file anyone can fetch');
    assert.ok(h.companionLog.some((l) => /1 phone\(s\) with a line password .*SEP0011223344C1/.test(l)), 'and the log said so at start');
    const before = await plainFile(h, 'SEP0011223344C1.cnf.xml');
    assert.match(before, new RegExp(`<authPassword>${PASSWORD}</authPassword>`));
    expectOk(c.phones.certificate('SEP0011223344C1', { operation: 'install', auth: 'string', authString: '246810', encryptedConfig: true }));
    assert.match(await plainFile(h, 'SEP0011223344C1.cnf.xml'), /<capfAuthMode>1<\/capfAuthMode>[\s\S]*<capfList>/, 'the file now asks for CAPF with an authentication string');

    const p = h.phone('00:11:22:33:44:c1', { capfAuthString: '246810' });
    const reg = await h.event(p, 'registered on its own line', registered);
    const installed = certificateEvents(p).find((e) => e.state === 'done');
    assert.ok(installed && installed.certificate === 'installed', 'an LSC was installed');
    const decrypted = p.steps().find((e) => e.step === 'config' && e.state === 'done' && 'encrypted' in e && e.encrypted);
    assert.ok(decrypted, 'the configuration it registered with came encrypted and was opened');
    assert.is(reg.step === 'register' && reg.state === 'done' && reg.line, '1301');
    assert.ok(p.steps().some((e) => e.step === 'register' && e.state === 'progress' && e.registration === 'challenged'), 'the registrar challenged, and the password from the encrypted file answered');

    // What anyone can fetch now: the short file, naming the LSC, with no secret.
    const after = await plainFile(h, 'SEP0011223344C1.cnf.xml');
    assert.not.match(after, /authPassword|line-secret/);
    const short = parsePhoneConfig(after);
    if (!short.ok || short.value.kind !== 'device') return assert.unreachable('short file unreadable');
    const lsc = await readLsc(p.nvram);
    assert.ok(lsc, 'the LSC and its key are in NVRAM');
    assert.equal([short.value.fullConfig, short.value.security.encrConfig, short.value.security.certHash, short.value.security.capfAuthMode], [false, true, lsc!.certHash, 0]);
    const enc = await fetch(`http://127.0.0.1:${c.endpoints.http}/SEP0011223344C1.cnf.xml.enc.sgn`);
    const encBytes = Buffer.from(await enc.arrayBuffer());
    assert.is(enc.status, 200);
    assert.not.ok(encBytes.includes(Buffer.from(PASSWORD)), 'the encrypted file does not carry the password in the clear');

    // The companion's view: the LSC it issued (signed by its CAPF CA) is the phone's, nothing pending, nothing in the clear.
    const view = expectOk(c.phones.show('SEP0011223344C1'));
    assert.equal([view.certificate.operation, view.certificate.encryptedNow, view.certificate.lsc?.serial], ['none', true, lsc!.serial]);
    const capfCa = new X509Certificate(expectOk(c.trust.exportCertificate('capf')).pem);
    assert.ok(new X509Certificate(lsc!.held.certPem).verify(capfCa.publicKey), 'the LSC is signed by the CAPF CA');
    assert.equal(expectOk(c.status.get()).passwordsInClear, []);
    assert.ok(h.companionLog.some((l) => /^capf .* SEP0011223344C1: installed LSC/.test(l)), 'the companion logged the install');
  } finally {
    await h.stop();
  }
});

test('a wrong authentication string is refused, the phone runs on, and guessing is limited', async () => {
  const h = await Harness.start({ companion: seed('0011223344c2', '1302') });
  try {
    const c = h.companion!;
    expectOk(c.phones.certificate('SEP0011223344C2', { operation: 'install', auth: 'string', authString: '111111', encryptedConfig: true }));
    const p = h.phone('00:11:22:33:44:c2', { capfAuthString: '999999' });
    const refused = await h.event(p, 'CAPF refused', (e) => e.step === 'certificate' && e.state === 'fail');
    assert.is(refused.step === 'certificate' && refused.certificate, 'refused');
    // No LSC, so the file was still the full one: the phone registers without one.
    await h.event(p, 'registered anyway', registered);
    assert.is(await readLsc(p.nvram), undefined);
    assert.ok(h.companionLog.some((l) => /capf .* SEP0011223344C2: refused authentication string: wrong authentication string/.test(l)));
    assert.is(expectOk(c.phones.show('SEP0011223344C2')).certificate.operation, 'install', 'the operation stays pending');

    // Guessing: 5 tries at once, then 2 a minute, and 10 wrong ones cancel the operation.
    const capfCert = p.handset.firmware.trust.capfRecords()[0]!.certificate!;
    const guess = (n: number) => runCapfSession({ network: h.network, clock: h.clock, nvram: new MemoryNvram(), deviceName: 'SEP0011223344C2', host: '127.0.0.1', port: c.endpoints.capf!, capfCertificates: [capfCert], authString: String(100000 + n) });
    const outcomes: string[] = [];
    for (let i = 0; i < 9; i++) {
      const r = await guess(i);
      outcomes.push(r.kind === 'refused' ? 'refused' : r.kind);
      if (i === 5) assert.ok(h.companionLog.some((l) => /limit capf-auth SEP0011223344C2: authentication string tried too often/.test(l)), 'the rate limit bit');
      await h.clock.advance(5_000);
    }
    assert.ok(outcomes.every((o) => o === 'refused'), outcomes.join(','));
    assert.is(expectOk(c.phones.show('SEP0011223344C2')).certificate.operation, 'install', 'still pending after 9 wrong strings (some not even checked)');
    for (let i = 9; i < 20 && expectOk(c.phones.show('SEP0011223344C2')).certificate.operation === 'install'; i++) {
      await guess(i);
      await h.clock.advance(30_000);
    }
    assert.is(expectOk(c.phones.show('SEP0011223344C2')).certificate.operation, 'none', '10 wrong strings cancelled the operation');
    assert.ok(h.companionLog.some((l) => /10 wrong authentication strings: the operation is cancelled/.test(l)));
  } finally {
    await h.stop();
  }
});

test('typed on the keypad: the LSC update screen takes the authentication string; then delete with the LSC as proof', async () => {
  const h = await Harness.start({ companion: seed('0011223344c3', '1303') });
  try {
    const c = h.companion!;
    expectOk(c.phones.certificate('SEP0011223344C3', { operation: 'install', auth: 'string', authString: '4321', encryptedConfig: true }));
    const p = h.phone('00:11:22:33:44:c3');
    await h.until('the LSC update screen', () => /LSC update[\s\S]*authentication/.test(p.handset.frame().rows.join('\n')) || undefined);
    p.keypad.press('4', '3', '2', '1', 'soft1');
    await h.event(p, 'registered with the encrypted file', registered);
    assert.ok(certificateEvents(p).some((e) => e.state === 'done' && e.certificate === 'installed'));
    assert.ok(await readLsc(p.nvram));

    // Delete, proving itself with the LSC it holds (capfAuthMode 3): the companion checks the signed data.
    expectOk(c.phones.certificate('SEP0011223344C3', { operation: 'delete', auth: 'lsc' }));
    const mark = p.events.length;
    p.handset.firmware.reboot('restart', 'user-restart');
    const deleted = await h.event(p, 'LSC deleted', (e) => e.step === 'certificate' && e.state === 'done', mark);
    assert.is(deleted.step === 'certificate' && deleted.certificate, 'deleted');
    await h.event(p, 'registered again, on the plain file', registered, mark);
    assert.is(await readLsc(p.nvram), undefined);
    const view = expectOk(c.phones.show('SEP0011223344C3'));
    assert.equal([view.certificate.operation, view.certificate.lsc, view.certificate.encryptedNow], ['none', undefined, false]);
    assert.equal(expectOk(c.status.get()).passwordsInClear, ['SEP0011223344C3'], 'without an LSC the password is in the clear again, and status says so');
  } finally {
    await h.stop();
  }
});

test('a power cut between the phone storing its LSC and saying so: the pending LSC is proof next time, then recorded', async () => {
  const h = await Harness.start({ companion: seed('0011223344c5', '1305') });
  try {
    const c = h.companion!;
    expectOk(c.phones.certificate('SEP0011223344C5', { operation: 'install', auth: 'null-string', encryptedConfig: true }));
    // Register once so the phone holds the ITL (and its CAPF record), then drive sessions by hand.
    const p = h.phone('00:11:22:33:44:c5');
    await h.event(p, 'the first install', (e) => e.step === 'certificate' && e.state === 'done');
    const capfCert = p.handset.firmware.trust.capfRecords()[0]!.certificate!;
    await p.handset.powerOff();
    expectOk(c.phones.certificate('SEP0011223344C5', { operation: 'install', auth: 'lsc' }));
    // A second install: the "power" goes the moment the new LSC is in NVRAM, before the phone answers.
    const cut = new AbortController();
    const nvram = new (class extends MemoryNvram {
      override async write(name: string, value: unknown): Promise<void> {
        await super.write(name, value);
        if (name === 'lsc' && (value as { certPem: string }).certPem !== firstPem) cut.abort(new Error('power cut'));
      }
    })();
    const firstPem = (await readLsc(p.nvram))!.held.certPem;
    await nvram.write('lsc', (await readLsc(p.nvram))!.held);
    const session = () => runCapfSession({ network: h.network, clock: h.clock, nvram, deviceName: 'SEP0011223344C5', host: '127.0.0.1', port: c.endpoints.capf!, capfCertificates: [capfCert], signal: cut.signal });
    const first = await session();
    assert.not.equal(first.kind, 'installed', 'the answer never left');
    const held = await readLsc(nvram);
    assert.ok(held && held.held.certPem !== firstPem, 'the phone holds the new LSC');
    assert.is(expectOk(c.phones.show('SEP0011223344C5')).certificate.lsc?.serial, (await readLsc(p.nvram))!.serial, 'the companion still records the old one');
    // The next session proves itself with the new (pending) LSC: accepted, recorded, and the install runs.
    const nvram2 = new MemoryNvram();
    await nvram2.write('lsc', held!.held);
    const second = await runCapfSession({ network: h.network, clock: h.clock, nvram: nvram2, deviceName: 'SEP0011223344C5', host: '127.0.0.1', port: c.endpoints.capf!, capfCertificates: [capfCert] });
    assert.is(second.kind, 'installed', JSON.stringify(second));
    assert.ok(h.companionLog.some((l) => /never confirmed storing: recorded now/.test(l)));
    assert.is(expectOk(c.phones.show('SEP0011223344C5')).certificate.lsc?.serial, (await readLsc(nvram2))!.serial, 'the LSC the phone holds is the one on record');
  } finally {
    await h.stop();
  }
});

test('the admin operation refuses what cannot work, naming the field', async () => {
  const h = await Harness.start({ companion: seed('0011223344c4', '1304') });
  try {
    const c = h.companion!;
    const bad = c.phones.certificate('SEP0011223344C4', { operation: 'install', auth: 'string', authString: '12' });
    assert.ok(bad.kind === 'invalid' && bad.field === 'authString');
    const noString = c.phones.certificate('SEP0011223344C4', { operation: 'install', auth: 'string' });
    assert.ok(noString.kind === 'invalid' && noString.field === 'authString');
    const noLsc = c.phones.certificate('SEP0011223344C4', { operation: 'delete', auth: 'lsc' });
    assert.ok(noLsc.kind === 'invalid' && noLsc.field === 'auth');
    assert.is(c.phones.certificate('SEP00112233FFFF', { operation: 'install' }).kind, 'not-found');
  } finally {
    await h.stop();
  }
});

test.run();
