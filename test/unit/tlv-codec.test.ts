/**
 * The signed-file TLV codec: a genuine Cisco firmware header rebuilt byte for byte from the
 * reference dump, round trips of trust lists and .sgn files, signatures checked by OpenSSL
 * (not only by us), and random or mutated files giving typed errors only.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { sign as cryptoSign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Role, buildSignedFile, parseSignedFile, parseTrustList, signedBytes, verifySignedFile } from '../../src/wire/tlv.ts';
import { certFacts, verifyWithCertificate, verifyWithRsaPublicKey } from '../../src/wire/x509.ts';
import { WireError } from '../../src/wire/result.ts';
import { makeCert, record } from '../support/certs.ts';

// Reference cisco-boot-protocol.md §5.2: the header of the genuine SCCP41.9-4-2SR3-1S.loads
// (the 256 signature bytes are not in the dump; any 256 bytes stand in for them).
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const z = (s: string) => Buffer.concat([Buffer.from(s, 'latin1'), Buffer.of(0)]);
const GENUINE_SIG = Buffer.alloc(256, 0xa5);
const GENUINE_HEADER = Buffer.concat([
  hex('01 0002 0101'), hex('02 0002 019c'),
  hex('03 005b'), hex('04 0027'), z('CN=someSigner;OU=someOrgUnit;O=someOrg'), hex('05 0008 1234567890abcdef'), hex('06 0023'), z('CN=someCA;OU=someOrgUnit;O=someOrg'),
  hex('07 000f 08 0001 01 09 0008 0a 0001 00 0b 0001 02'),
  hex('0c 0100'), GENUINE_SIG,
  hex('0e 0019'), z('SCCP41.9-4-2SR3-1S.loads'),
  hex('0d 0d 0d'),
]);
const GENUINE_BODY = Buffer.from('#\r\n# This file contains a list of archive image files that will be requested by the\r\n# RELEASE load version 9-4-2ES26\r\n#\r\n\r\njar41sccp.9-4-2ES26.sbn\r\ncnu41.9-4-2ES26.sbn\r\n');

test('reads the genuine Cisco .loads header byte for byte', () => {
  assert.is(GENUINE_HEADER.length, 412, 'the dump says the body starts at 412');
  const r = parseSignedFile(Buffer.concat([GENUINE_HEADER, GENUINE_BODY]));
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  if (!r.ok) return;
  const h = r.value.header;
  assert.equal(h.version, [1, 1]);
  assert.is(h.headerLength, 412);
  assert.is(h.signerName, 'CN=someSigner;OU=someOrgUnit;O=someOrg');
  assert.is(Buffer.from(h.signerSerial).toString('hex'), '1234567890abcdef');
  assert.is(h.signerIssuer, 'CN=someCA;OU=someOrgUnit;O=someOrg');
  assert.is(h.digest, 'sha1');
  assert.is(h.modulusBytes, 256);
  assert.ok(Buffer.from(h.signature).equals(GENUINE_SIG));
  assert.is(h.filename, 'SCCP41.9-4-2SR3-1S.loads');
  assert.is(h.timestamp, undefined);
  assert.is(h.padding, 3);
  assert.equal(h.unknown, []);
  assert.ok(Buffer.from(r.value.body).equals(GENUINE_BODY));
  // The signed bytes are the file without the 259-byte signature TLV.
  assert.is(signedBytes(Buffer.concat([GENUINE_HEADER, GENUINE_BODY]), h).length, 412 + GENUINE_BODY.length - 259);
});

const sast = makeCert('SAST-test');
const tftp = makeCert('CallManager-test');
const tvs = makeCert('TVS-test');

function itl(digest: 'sha1' | 'sha256' | 'sha512' = 'sha1') {
  const f = certFacts(sast.der);
  if (!f.ok) throw f.error;
  return buildSignedFile({
    version: [1, 2], signerVersion: [1, 0], digest, filename: 'ITLFile.tlv', timestamp: 0x6b04221e,
    signer: { name: f.value.subject, serial: f.value.serial, issuer: f.value.issuer, modulusBytes: f.value.modulusBytes },
    body: Buffer.concat([record(sast, Role.SAST), record(tftp, Role.CCM_TFTP), record(tvs, Role.TVS)]),
    sign: (d, data) => cryptoSign(d, data, sast.privateKey),
  });
}

test('an ITL built here parses back, records and signature included', () => {
  for (const digest of ['sha1', 'sha256', 'sha512'] as const) {
    const file = itl(digest);
    const r = parseTrustList(file);
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    if (!r.ok) return;
    assert.is(r.value.header.headerLength % 4, 0, 'header padded to 4 bytes');
    assert.equal(r.value.header.version, [1, 2]);
    assert.equal(r.value.header.signerVersion, [1, 0]);
    assert.is(r.value.header.timestamp, 0x6b04221e);
    assert.equal(r.value.records.map((x) => x.role), [0, 2, 21]);
    assert.ok(Buffer.from(r.value.records[1]!.certificate!).equals(tftp.der));
    assert.ok(verifySignedFile(file, r.value.header, (d, data, sig) => verifyWithCertificate(sast.der, d, data, sig)), digest);
    assert.ok(verifySignedFile(file, r.value.header, (d, data, sig) => verifyWithRsaPublicKey(r.value.records[0]!.publicKey!, d, data, sig)), 'tag 7 key');
    assert.not.ok(verifySignedFile(file, r.value.header, (d, data, sig) => verifyWithCertificate(tftp.der, d, data, sig)), 'wrong key');
  }
});

test('OpenSSL agrees: the extracted signature verifies over the signed bytes with the SAST key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sepi-tlv-'));
  try {
    const file = itl('sha1');
    const r = parseTrustList(file);
    if (!r.ok) return assert.unreachable();
    writeFileSync(join(dir, 'signed.bin'), signedBytes(file, r.value.header));
    writeFileSync(join(dir, 'sig.bin'), r.value.header.signature);
    writeFileSync(join(dir, 'sast.der'), r.value.records[0]!.certificate!);
    execFileSync('openssl', ['x509', '-inform', 'DER', '-in', join(dir, 'sast.der'), '-pubkey', '-noout', '-out', join(dir, 'sast.pub')]);
    const out = execFileSync('openssl', ['dgst', '-sha1', '-verify', join(dir, 'sast.pub'), '-signature', join(dir, 'sig.bin'), join(dir, 'signed.bin')]).toString();
    assert.match(out, /Verified OK/);
    const subject = execFileSync('openssl', ['x509', '-inform', 'DER', '-in', join(dir, 'sast.der'), '-noout', '-subject']).toString();
    assert.match(subject, /CN\s*=\s*SAST-test/);
    // A flipped byte in the body must make OpenSSL refuse too.
    const bad = Buffer.from(signedBytes(file, r.value.header));
    bad[bad.length - 10]! ^= 1;
    writeFileSync(join(dir, 'signed.bin'), bad);
    let refused = false;
    try {
      execFileSync('openssl', ['dgst', '-sha1', '-verify', join(dir, 'sast.pub'), '-signature', join(dir, 'sig.bin'), join(dir, 'signed.bin')], { stdio: 'pipe' });
    } catch {
      refused = true;
    }
    assert.ok(refused);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a .sgn carries the file unmodified after its header, and its name', () => {
  const xml = Buffer.from('<device><fullConfig>true</fullConfig></device>');
  const f = certFacts(tftp.der);
  if (!f.ok) return assert.unreachable();
  const sgn = buildSignedFile({ version: [1, 0], digest: 'sha1', filename: 'SEP001122334455.cnf.xml.sgn', signer: { name: f.value.subject, serial: f.value.serial, issuer: f.value.issuer, modulusBytes: 256 }, body: xml, sign: (d, data) => cryptoSign(d, data, tftp.privateKey) });
  const r = parseSignedFile(sgn);
  assert.ok(r.ok && Buffer.from(r.value.body).equals(xml) && r.value.header.filename === 'SEP001122334455.cnf.xml.sgn');
  if (!r.ok) return;
  assert.ok(verifySignedFile(sgn, r.value.header, (d, data, sig) => verifyWithCertificate(tftp.der, d, data, sig)));
  const tampered = Buffer.from(sgn);
  tampered[tampered.length - 3]! ^= 0x20;
  assert.not.ok(verifySignedFile(tampered, r.value.header, (d, data, sig) => verifyWithCertificate(tftp.der, d, data, sig)), 'a changed byte breaks the signature');
});

test('an .enc.sgn header (version 2.0, encryption tags 16–27) is read, its tags kept', () => {
  const t = (tag: number, v: Buffer) => Buffer.concat([Buffer.from([tag, v.length >> 8, v.length & 0xff]), v]);
  const signer = t(3, Buffer.concat([t(4, z('CN=CallManager')), t(5, hex('01')), t(6, z('CN=CallManager'))]));
  const info = t(7, Buffer.concat([t(8, hex('01')), t(9, Buffer.concat([t(10, hex('00')), t(11, hex('02'))]))]));
  const enc = Buffer.concat([
    t(16, Buffer.concat([t(17, Buffer.concat([t(18, hex('00')), t(19, Buffer.alloc(16, 7)), t(20, hex('0003'))])), t(21, Buffer.concat([t(22, hex('00')), t(23, hex('0080')), t(24, hex('01')), t(25, Buffer.alloc(256, 9))]))])),
    t(26, hex('01')), t(27, Buffer.alloc(20, 5)),
  ]);
  const after = Buffer.concat([t(14, z('SEP001122334455.cnf.xml.enc.sgn')), t(15, hex('6b04221e')), enc]);
  let len = 5 + 5 + signer.length + info.length + 3 + 256 + after.length;
  const pad = (4 - (len % 4)) % 4;
  len += pad;
  const file = Buffer.concat([hex('01 0002 0200'), Buffer.from([2, 0, 2, len >> 8, len & 0xff]), signer, info, t(12, Buffer.alloc(256, 1)), after, Buffer.alloc(pad, 13), Buffer.alloc(32, 0xee)]);
  const r = parseSignedFile(file);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  if (!r.ok) return;
  assert.equal(r.value.header.version, [2, 0]);
  assert.equal(r.value.header.encryption.map((e) => e.tag), [18, 19, 20, 22, 23, 24, 25, 26, 27]);
  assert.is(r.value.header.encryption.find((e) => e.tag === 19)!.value.length, 16, 'the IV');
  assert.is(r.value.body.length, 32, 'the ciphertext after the header');
});

test('unknown tags are kept and shown, in the header and in records', () => {
  const file = Buffer.from(itl());
  const r0 = parseTrustList(file);
  if (!r0.ok) return assert.unreachable();
  // Append a record with an unknown tag 40 after the known fields.
  const extra = Buffer.concat([Buffer.from([1, 0, 2, 0, 12]), Buffer.from([40, 0, 4, 1, 2, 3, 4])]);
  const r = parseTrustList(Buffer.concat([file, extra]));
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.is(r.value.records.length, 4);
  assert.equal(r.value.records[3]!.unknown.map((u) => u.tag), [40]);
});

test('truncated, oversized and malformed files give typed errors naming the place', () => {
  const file = itl();
  const cases: Array<[Uint8Array, string]> = [
    [file.subarray(0, 3), 'truncated'],
    [Buffer.concat([Buffer.from([2, 0, 2, 0, 8]), file.subarray(5)]), 'bad-header'],
    [Buffer.concat([file.subarray(0, 5), Buffer.from([2, 0, 2, 0xff, 0xff]), file.subarray(10)]), 'bad-header'],
    [Buffer.alloc(70 * 1024, 1), 'oversized'],
  ];
  for (const [b, code] of cases) {
    const r = parseTrustList(b);
    assert.ok(!r.ok, code);
    if (!r.ok) assert.is(r.error.code, code);
  }
  const noNul = Buffer.from(GENUINE_HEADER);
  noNul[5 + 5 + 3 + 3 + 0x27 - 1] = 0x41; // the signer name's NUL
  const n = parseSignedFile(noNul);
  assert.ok(!n.ok && n.error.code === 'bad-string');
});

test('property: random and mutated files never throw, only typed errors', () => {
  const file = itl();
  fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), (b) => {
    const r = parseTrustList(b);
    const s = parseSignedFile(b);
    return (r.ok || r.error instanceof WireError) && (s.ok || s.error instanceof WireError);
  }), { numRuns: 3000 });
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(file.length - 1), fc.nat(255)), { minLength: 1, maxLength: 8 }), fc.nat(file.length), (edits, cut) => {
    const b = Buffer.from(file);
    for (const [i, v] of edits) b[i] = v;
    const r = parseTrustList(b.subarray(0, cut));
    if (r.ok) {
      verifySignedFile(b, r.value.header, (d, data, sig) => verifyWithCertificate(sast.der, d, data, sig));
      for (const rec of r.value.records) if (rec.certificate) certFacts(rec.certificate);
    }
    return r.ok || r.error instanceof WireError;
  }), { numRuns: 2000 });
});

test('certificate facts: serial, PKCS#1 key and signature bits match what OpenSSL reads', () => {
  const f = certFacts(tftp.der);
  if (!f.ok) return assert.unreachable();
  assert.is(f.value.modulusBytes, 256);
  assert.is(f.value.publicKey[0], 0x30, 'DER RSAPublicKey sequence');
  assert.is(f.value.signatureValue.length, 256);
  const dir = mkdtempSync(join(tmpdir(), 'sepi-x509-'));
  try {
    writeFileSync(join(dir, 'c.der'), tftp.der);
    const serial = execFileSync('openssl', ['x509', '-inform', 'DER', '-in', join(dir, 'c.der'), '-noout', '-serial']).toString().trim().split('=')[1]!;
    assert.is(serial.toLowerCase(), Buffer.from(f.value.serial).toString('hex'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const bad = certFacts(Buffer.from('not a certificate'));
  assert.ok(!bad.ok && bad.error.code === 'bad-certificate');
});

test.run();
