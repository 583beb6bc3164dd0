/**
 * Issues a phone's locally significant certificate (LSC): the public key the phone made during
 * a CAPF session, signed by the companion's CAPF CA (pki.ts), subject `CN=<device name>` and
 * the CAPF's organisation — the shape CUCM's CAPF gives. RSA only: node-forge builds RSA X.509
 * well and nothing else, and the companion asks phones for RSA keys (KEY_TYPE 0).
 */
import { createPublicKey, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import type { CompanionPki } from '../pki.ts';

const LSC_YEARS = 5;

export type IssueResult = { ok: true; pem: string; der: Buffer } | { ok: false; reason: string };

export function issueLsc(pki: CompanionPki, deviceName: string, spkiDer: Uint8Array, keySize: number, now: number): IssueResult {
  let publicPem: string;
  try {
    const key = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'rsa') return { ok: false, reason: `the phone sent a ${key.asymmetricKeyType ?? 'unknown'} key; RSA was asked for` };
    const bits = key.asymmetricKeyDetails?.modulusLength;
    if (bits !== keySize) return { ok: false, reason: `the phone sent a ${bits}-bit key; ${keySize} bits were asked for` };
    publicPem = key.export({ type: 'spki', format: 'pem' }) as string;
  } catch (e) {
    return { ok: false, reason: `the public key does not parse: ${(e as Error).message}` };
  }
  const capf = pki.get('capf');
  const ca = forge.pki.certificateFromPem(capf.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x10;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(now - 3_600_000);
  cert.validity.notAfter = new Date(now + LSC_YEARS * 365 * 86_400_000);
  const org = ca.subject.attributes.filter((a) => a.shortName === 'O' || a.shortName === 'OU').map((a) => ({ type: a.type, value: a.value }));
  cert.setSubject([{ name: 'commonName', value: deviceName }, ...org]);
  cert.setIssuer(ca.subject.attributes.map((a) => ({ type: a.type, value: a.value })));
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(capf.key.export({ type: 'pkcs1', format: 'pem' }) as string), forge.md.sha256.create());
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return { ok: true, pem: forge.pki.certificateToPem(cert), der };
}
