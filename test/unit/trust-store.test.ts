/**
 * The phone's trust rules, list by list: trust on first use, SAST-signed replacements, forged and
 * unknown signers, TVS's say, rollback lists, CTL rules, and signed files checked under their
 * own names. Real RSA keys and certificates, a real NVRAM folder; TVS answers are given.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileNvram } from '../../src/phone/nvram.ts';
import { TrustStore, type TvsAnswer } from '../../src/phone/trust-store.ts';
import { sign as cryptoSign } from 'node:crypto';
import { Role, buildSignedFile } from '../../src/wire/tlv.ts';
import { certFacts } from '../../src/wire/x509.ts';
import { makeCert, record, signedBy } from '../support/certs.ts';

const sastA = makeCert('SAST-A');
const tftpA = makeCert('CallManager-A');
const tvsA = makeCert('TVS-A');
const sastB = makeCert('SAST-B');
const tftpB = makeCert('CallManager-B');
const tftpA2 = makeCert('CallManager-A-rotated');

const itlA = signedBy(sastA, 'ITLFile.tlv', Buffer.concat([record(sastA, Role.SAST), record(tftpA, Role.CCM_TFTP), record(tvsA, Role.TVS, { dnsName: '10.0.0.1' })]));
const itlA2 = signedBy(sastA, 'ITLFile.tlv', Buffer.concat([record(sastA, Role.SAST), record(tftpA2, Role.CCM_TFTP), record(tvsA, Role.TVS)]));
const itlB = signedBy(sastB, 'ITLFile.tlv', Buffer.concat([record(sastB, Role.SAST), record(tftpB, Role.CCM_TFTP)]));
const rollbackA = signedBy(sastA, 'ITLFile.tlv', record(sastA, Role.SAST));

const never = async (): Promise<TvsAnswer> => {
  throw new Error('TVS must not be asked');
};
const answer = (a: TvsAnswer) => async () => a;

async function store(): Promise<{ s: TrustStore; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'sepi-trust-'));
  const s = new TrustStore(new FileNvram(dir));
  await s.load();
  return { s, dir };
}

test('the first ITL is trusted on first use, kept in NVRAM, and then asks for signed files', async () => {
  const { s, dir } = await store();
  assert.not.ok(s.needsSignedFiles);
  const d = await s.considerItl(itlA, never);
  assert.is(d.kind, 'installed');
  assert.ok(s.needsSignedFiles);
  const again = new TrustStore(new FileNvram(dir));
  await again.load();
  assert.is(again.itl?.records.length, 3, 'survives a reboot');
  assert.is((await again.considerItl(itlA, never)).kind, 'unchanged');
  await rm(dir, { recursive: true });
});

test('a new ITL signed by the trusted SAST is installed (TFTP certificate rotated)', async () => {
  const { s, dir } = await store();
  await s.considerItl(itlA, never);
  const d = await s.considerItl(itlA2, never);
  assert.is(d.kind, 'installed');
  if (d.kind === 'installed') assert.match(d.how, /trusted SAST/);
  // Files signed by the rotated key now pass; by the old one no more.
  assert.ok(s.checkSignedFile(signedBy(tftpA2, 'SEP001122334455.cnf.xml.sgn', Buffer.from('<device/>'), 'sha1', [1, 0]), 'SEP001122334455.cnf.xml.sgn').ok);
  assert.not.ok(s.checkSignedFile(signedBy(tftpA, 'SEP001122334455.cnf.xml.sgn', Buffer.from('<device/>'), 'sha1', [1, 0]), 'SEP001122334455.cnf.xml.sgn').ok);
  await rm(dir, { recursive: true });
});

test('an ITL from an unknown signer: refused when TVS says invalid, installed when valid, retried when TVS is down', async () => {
  const { s, dir } = await store();
  await s.considerItl(itlA, never);
  const invalid = await s.considerItl(itlB, answer({ kind: 'invalid' }));
  assert.is(invalid.kind, 'refused');
  if (invalid.kind === 'refused') assert.match(invalid.reason, /TVS says it is not valid/);
  assert.is(s.itl?.header.signerName, 'CN=SAST-A,O=sepi test', 'the installed list stays');
  const down = await s.considerItl(itlB, answer({ kind: 'unreachable', reason: 'refused' }));
  assert.is(down.kind, 'tvs-unavailable');
  const wrongRole = await s.considerItl(itlB, answer({ kind: 'valid', roles: [Role.TVS], ttlSecs: 60 }));
  assert.is(wrongRole.kind, 'refused');
  let asked: Uint8Array | undefined;
  const valid = await s.considerItl(itlB, async (cert) => {
    asked = cert;
    return { kind: 'valid', roles: [Role.SAST], ttlSecs: 3600 };
  });
  assert.is(valid.kind, 'installed');
  assert.ok(asked && Buffer.from(asked).equals(sastB.der), 'TVS was asked about the new signer\'s certificate');
  await rm(dir, { recursive: true });
});

test('a forged ITL (signature not matching) is refused without asking TVS', async () => {
  const { s, dir } = await store();
  await s.considerItl(itlA, never);
  const forged = Buffer.from(itlA2);
  forged[forged.length - 40]! ^= 0x01; // inside the last record: the signature no longer covers it
  const d = await s.considerItl(forged, never);
  assert.is(d.kind, 'refused');
  // An impostor: the header and a SAST record claim A's serial, but the key and certificate are
  // B's, so the list is consistent with itself. The trusted certificate of A must refuse it.
  const a = certFacts(sastA.der);
  if (!a.ok) return assert.unreachable();
  const impostor = buildSignedFile({
    version: [1, 2], digest: 'sha1', filename: 'ITLFile.tlv',
    signer: { name: a.value.subject, serial: a.value.serial, issuer: a.value.issuer, modulusBytes: 256 },
    body: record(sastB, Role.SAST, { serial: a.value.serial }), sign: (d, data) => cryptoSign(d, data, sastB.privateKey),
  });
  const i = await s.considerItl(impostor, never);
  assert.ok(i.kind === 'refused' && /forged/.test(i.reason), i.kind === 'refused' ? i.reason : i.kind);
  const misnamed = signedBy(sastA, 'CTLFile.tlv', record(sastA, Role.SAST));
  const m = await s.considerItl(misnamed, never);
  assert.ok(m.kind === 'refused' && /CTLFile/.test(m.reason));
  await rm(dir, { recursive: true });
});

test('after a rollback ITL the phone takes unsigned files and any next list', async () => {
  const { s, dir } = await store();
  await s.considerItl(itlA, never);
  assert.is((await s.considerItl(rollbackA, never)).kind, 'installed');
  assert.not.ok(s.needsSignedFiles);
  const d = await s.considerItl(itlB, never);
  assert.ok(d.kind === 'installed' && /rollback/.test(d.how));
  await rm(dir, { recursive: true });
});

test('CTL: trusted on first use, then only a CTL signed by its SAST; an ITL is then judged by the CTL too', async () => {
  const { s, dir } = await store();
  const ctlA = signedBy(sastA, 'CTLFile.tlv', Buffer.concat([record(sastA, Role.SAST), record(tftpA, Role.CCM_TFTP)]));
  assert.is((await s.considerCtl(ctlA)).kind, 'installed');
  const ctlB = signedBy(sastB, 'CTLFile.tlv', record(sastB, Role.SAST));
  const r = await s.considerCtl(ctlB);
  assert.ok(r.kind === 'refused' && /not by a SAST of the installed CTL/.test(r.reason));
  // With a CTL installed there is no trust on first use for the ITL: A's SAST signs it, fine.
  assert.is((await s.considerItl(itlA, never)).kind, 'installed');
  assert.is((await s.considerItl(itlB, answer({ kind: 'invalid' }))).kind, 'refused');
  await rm(dir, { recursive: true });
});

test('signed files: the right signer, the right name, every byte', async () => {
  const { s, dir } = await store();
  await s.considerItl(itlA, never);
  const xml = Buffer.from('<device><fullConfig>true</fullConfig></device>');
  const good = signedBy(tftpA, 'SEP001122334455.cnf.xml.sgn', xml, 'sha1', [1, 0]);
  const ok = s.checkSignedFile(good, 'SEP001122334455.cnf.xml.sgn');
  assert.ok(ok.ok && Buffer.from(ok.body).equals(xml));
  const other = s.checkSignedFile(signedBy(tftpA, 'SEP0011223344FF.cnf.xml.sgn', xml, 'sha1', [1, 0]), 'SEP001122334455.cnf.xml.sgn');
  assert.ok(!other.ok && /names SEP0011223344FF/.test(other.reason), 'another phone\'s file cannot stand in');
  const stranger = s.checkSignedFile(signedBy(tftpB, 'SEP001122334455.cnf.xml.sgn', xml, 'sha1', [1, 0]), 'SEP001122334455.cnf.xml.sgn');
  assert.ok(!stranger.ok && /does not hold for TFTP/.test(stranger.reason));
  const bySast = s.checkSignedFile(signedBy(sastA, 'SEP001122334455.cnf.xml.sgn', xml, 'sha1', [1, 0]), 'SEP001122334455.cnf.xml.sgn');
  assert.not.ok(bySast.ok, 'SAST signs lists, not files');
  const altered = Buffer.from(good);
  altered[altered.length - 5]! ^= 0x20;
  const a = s.checkSignedFile(altered, 'SEP001122334455.cnf.xml.sgn');
  assert.ok(!a.ok && /altered/.test(a.reason));
  assert.not.ok(s.checkSignedFile(Buffer.from('junk'), 'x.sgn').ok);
  await s.erase();
  assert.is(s.itl, undefined);
  assert.not.ok(s.needsSignedFiles);
  await rm(dir, { recursive: true });
});

test.run();
