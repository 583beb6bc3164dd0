/** Test certificates: RSA keys from node:crypto, X.509 built with node-forge (as the companion does). */
import { type KeyObject, createHash, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import forge from 'node-forge';
import { type Digest, type RecordInput, buildRecord, buildSignedFile } from '../../src/wire/tlv.ts';
import { certFacts } from '../../src/wire/x509.ts';

export interface TestCert {
  der: Buffer;
  pem: string;
  privateKey: KeyObject;
}

export function makeCert(cn: string, bits = 2048): TestCert {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  cert.serialNumber = '4a' + createHash('sha1').update(cn).digest('hex').slice(0, 14);
  cert.validity.notBefore = new Date(Date.UTC(2026, 0, 1));
  cert.validity.notAfter = new Date(Date.UTC(2036, 0, 1));
  const attrs = [{ name: 'commonName', value: cn }, { name: 'organizationName', value: 'sepi test' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string), forge.md.sha256.create());
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return { der, privateKey, pem: forge.pki.certificateToPem(cert) };
}

export function record(c: TestCert, role: number, extra: Partial<RecordInput> = {}): Buffer {
  const f = certFacts(c.der);
  if (!f.ok) throw f.error;
  return buildRecord({ role, subject: f.value.subject, issuer: f.value.issuer, serial: f.value.serial, publicKey: f.value.publicKey, certSignature: f.value.signatureValue, certificate: c.der, ...extra });
}

/** A signed file (trust list or .sgn) signed by `signer`. */
export function signedBy(signer: TestCert, filename: string, body: Buffer, digest: Digest = 'sha1', version: [number, number] = [1, 2]): Buffer {
  const f = certFacts(signer.der);
  if (!f.ok) throw f.error;
  return buildSignedFile({ version, digest, filename, signer: { name: f.value.subject, serial: f.value.serial, issuer: f.value.issuer, modulusBytes: f.value.modulusBytes }, body, sign: (d, data) => cryptoSign(d, data, signer.privateKey) });
}
