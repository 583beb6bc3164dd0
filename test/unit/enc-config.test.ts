import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { constants, privateDecrypt, publicEncrypt, sign as cryptoSign, verify as cryptoVerify, createPublicKey } from 'node:crypto';
import { buildEncryptedConfig, configCertHash, openEncryptedConfig, parseEncryptedConfig } from '../../src/wire/enc-config.ts';
import { verifySignedFile } from '../../src/wire/tlv.ts';
import { certFacts } from '../../src/wire/x509.ts';
import { makeCert } from '../support/certs.ts';

const tftp = makeCert('CallManager-test');
const phone = makeCert('SEP001122334455');
const other = makeCert('SEP00112233AAAA');
const facts = certFacts(tftp.der);
if (!facts.ok) throw facts.error;
const signer = { name: facts.value.subject, serial: facts.value.serial, issuer: facts.value.issuer, modulusBytes: facts.value.modulusBytes };
const wrapFor = (c: typeof phone) => (key: Uint8Array) => publicEncrypt({ key: createPublicKey(c.pem), padding: constants.RSA_PKCS1_PADDING }, key);
const unwrapWith = (c: typeof phone) => (w: Uint8Array) => privateDecrypt({ key: c.privateKey, padding: constants.RSA_PKCS1_PADDING }, w);

const build = (plain: Buffer, o: { digest?: 'sha1' | 'sha512' } = {}) =>
  buildEncryptedConfig({ plain, filename: 'SEP001122334455.cnf.xml.enc.sgn', signer, digest: o.digest ?? 'sha512', timestamp: 1_800_000_000, wrapKey: wrapFor(phone), sign: (d, data) => cryptoSign(d, data, tftp.privateKey) });

test('the phone holding the key gets the file back exactly; the header is signed and laid out as §5.6 says', () => {
  for (const plain of [Buffer.from('<device><fullConfig>true</fullConfig></device>'), Buffer.alloc(32, 0x41), Buffer.alloc(1, 0x41)]) {
    const file = build(plain);
    const e = parseEncryptedConfig(file);
    if (!e.ok) return assert.unreachable(e.error.message);
    assert.equal(e.value.file.header.version, [2, 0]);
    assert.is(e.value.file.header.filename, 'SEP001122334455.cnf.xml.enc.sgn');
    // Padding is 1..16 carriage returns, a whole block when the file fills its blocks.
    assert.is(e.value.pad, 16 - (plain.length % 16));
    assert.is(e.value.file.body.length, plain.length + e.value.pad);
    assert.ok(verifySignedFile(file, e.value.file.header, (d, data, sig) => cryptoVerify(d, data, createPublicKey(tftp.pem), sig)));
    const opened = openEncryptedConfig(e.value, unwrapWith(phone));
    assert.ok(opened.ok && opened.value.equals(plain));
    if (plain.length >= 20) assert.not.ok(file.includes(plain.subarray(0, 20)), 'the plain text is not in the file');
  }
});

test('another phone\'s key, or an altered body, opens nothing and says why', () => {
  const file = build(Buffer.from('<device><authPassword>secret</authPassword></device>'), { digest: 'sha1' });
  const e = parseEncryptedConfig(file);
  if (!e.ok) return assert.unreachable(e.error.message);
  const wrong = openEncryptedConfig(e.value, unwrapWith(other));
  assert.ok(!wrong.ok && wrong.error.code === 'wrong-key', 'another certificate');
  // RSA throws outright for a block larger than the key's modulus: that too is "another key".
  const thrown = openEncryptedConfig(e.value, () => {
    throw new Error('data too large for modulus');
  });
  assert.ok(!thrown.ok && thrown.error.code === 'wrong-key');
  const tampered = Buffer.from(file);
  tampered[tampered.length - 20]! ^= 0x55;
  const t = parseEncryptedConfig(tampered);
  if (!t.ok) return assert.unreachable(t.error.message);
  assert.not.ok(verifySignedFile(tampered, t.value.file.header, (d, data, sig) => cryptoVerify(d, data, createPublicKey(tftp.pem), sig)), 'signature no longer holds');
  const opened = openEncryptedConfig(t.value, unwrapWith(phone));
  assert.ok(!opened.ok && opened.error.code === 'wrong-key', 'digest catches it too');
});

test('malformed encryption headers are typed errors', () => {
  const file = build(Buffer.from('<device/>'));
  const cut = parseEncryptedConfig(file.subarray(0, file.length - 3));
  assert.ok(!cut.ok && cut.error.code === 'bad-length');
  const plainSgn = parseEncryptedConfig(Buffer.from(file.subarray(0, 10)));
  assert.ok(!plainSgn.ok);
});

test('certHash is the MD5 of the certificate, lower-case hex (what enccnf writes)', () => {
  assert.match(configCertHash(phone.der), /^[0-9a-f]{32}$/);
  assert.is.not(configCertHash(phone.der), configCertHash(other.der));
});

test.run();
