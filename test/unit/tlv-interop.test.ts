/**
 * Files sepi did not make: an ITL from an independent builder (Python, openssl for keys,
 * certificates and the signature; test/fixtures/independent-itl.py), read by sepi's codec, its
 * trust store and `sepi tlv`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileNvram } from '../../src/phone/nvram.ts';
import { TrustStore } from '../../src/phone/trust-store.ts';
import { parseTrustList, verifySignedFile } from '../../src/wire/tlv.ts';
import { verifyWithCertificate } from '../../src/wire/x509.ts';
import { SEPI } from '../support/sepi.ts';

const fixture = join(import.meta.dirname, '..', 'fixtures', 'independent-itl.py');
const dir = mkdtempSync(join(tmpdir(), 'sepi-interop-'));
const f = (n: string) => join(dir, n);

function opensslCert(name: string): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.pem`), '-days', '3650', '-subj', `/CN=${name}/O=Interop Lab`], { stdio: 'pipe' });
}

test.before(() => {
  for (const n of ['ITLRecovery', 'CallManager', 'TVS']) opensslCert(n);
  execFileSync('python3', [fixture, f('ITLFile.tlv'), f('ITLRecovery.key'), f('ITLRecovery.pem'), `0:${f('ITLRecovery.pem')}`, `2:${f('CallManager.pem')}`, `21:${f('TVS.pem')}`]);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('an independently built ITL parses: tlvfile field order, SHA-512, signer version', () => {
  const bytes = readFileSync(f('ITLFile.tlv'));
  const r = parseTrustList(bytes);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  if (!r.ok) return;
  assert.is(r.value.header.digest, 'sha512');
  assert.equal(r.value.header.signerVersion, [1, 0]);
  assert.is(r.value.header.headerLength % 4, 0);
  assert.match(r.value.header.signerName, /CN=ITLRecovery/);
  assert.equal(r.value.records.map((x) => x.role), [0, 2, 21]);
  assert.is(r.value.records[0]!.certSignature, undefined, 'no tag 8 in these records');
  const der = execFileSync('openssl', ['x509', '-in', f('ITLRecovery.pem'), '-outform', 'DER']);
  assert.ok(verifySignedFile(bytes, r.value.header, (d, data, sig) => verifyWithCertificate(der, d, data, sig)));
});

test('the phone trusts it on first use and then wants files signed by its CallManager certificate', async () => {
  const store = new TrustStore(new FileNvram(f('nvram')));
  await store.load();
  const d = await store.considerItl(readFileSync(f('ITLFile.tlv')), async () => ({ kind: 'invalid' }));
  assert.is(d.kind, 'installed');
  assert.ok(store.needsSignedFiles);
  assert.is(store.tvsRecords().length, 1);
});

test('sepi tlv show and verify read it too', () => {
  const shown = JSON.parse(execFileSync(SEPI, ['tlv', 'show', f('ITLFile.tlv'), '--json'], { encoding: 'utf8' })) as { header: { digest: string; filename: string }; records: Array<{ role: string }> };
  assert.is(shown.header.digest, 'sha512');
  assert.is(shown.header.filename, 'ITLFile.tlv');
  assert.equal(shown.records.map((r) => r.role), ['SAST', 'CCM+TFTP', 'TVS']);
  assert.match(execFileSync(SEPI, ['tlv', 'verify', f('ITLFile.tlv'), '--cert', f('ITLRecovery.pem')], { encoding: 'utf8' }), /^valid: ITLFile\.tlv is signed by CN=ITLRecovery/);
  assert.match(execFileSync(SEPI, ['tlv', 'verify', f('ITLFile.tlv'), '--self'], { encoding: 'utf8' }), /^valid/);
  let code = 0;
  try {
    execFileSync(SEPI, ['tlv', 'verify', f('ITLFile.tlv'), '--cert', f('TVS.pem')], { stdio: 'pipe' });
  } catch (e) {
    code = (e as { status: number }).status;
  }
  assert.is(code, 1, 'exit 1 when the signature is not by that certificate');
});

test.run();
