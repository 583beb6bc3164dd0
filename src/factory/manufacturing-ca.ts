/**
 * The lab's "factory": a manufacturing CA that issues emulated MICs (manufacturing installed
 * certificates) to sepi phones, as Cisco's factory does to real ones. A companion that holds
 * the CA's certificate in its CallManager-trust accepts those phones' activation requests.
 *
 * It lives in a folder (by default `$XDG_STATE_HOME/sepi/factory`, i.e.
 * `~/.local/state/sepi/factory`) holding `manufacturing-ca.key.pem` (0600) and
 * `manufacturing-ca.cert.pem`. Phones and a companion on one machine find it there with no
 * step at all; for a companion elsewhere, `sepi cm trust import-manufacturing CERT` takes the
 * certificate (docs/activation.md).
 *
 * A MIC's subject names the phone the way the Multiplatform client certificate does (reference
 * onboarding-protocol.md §3.1: OU product, L serial, ST MAC) with the device's `CP-<model>-SEP<MAC>`
 * as CN. RSA 2048 keys from node:crypto; certificates built with node-forge.
 */
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import forge from 'node-forge';
import { writeFileAtomic } from '../common/atomic-file.ts';
import { CA_CERT_FILE, CA_KEY_FILE } from './factory-files.ts';

const CA_YEARS = 30;
const MIC_YEARS = 20;

export interface IssuedMic {
  certPem: string;
  /** The manufacturing CA's certificate, sent along as the chain. */
  caPem: string;
}

/** What a phone needs from the factory: a MIC for its key (asynchronous: a factory may be opened on first use). */
export interface MicIssuer {
  issueMic(o: { model: string; mac: string; serial: string; spkiPem: string; now: number }): IssuedMic | Promise<IssuedMic>;
}

const pemKeyToForge = (pem: string) => forge.pki.privateKeyFromPem(pem);

function makeCa(now: number, name: string): { keyPem: string; certPem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
  const key = pemKeyToForge(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(now - 86_400_000);
  cert.validity.notAfter = new Date(now + CA_YEARS * 365 * 86_400_000);
  const attrs = [{ name: 'commonName', value: name }, { name: 'organizationName', value: 'sepi lab factory' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { keyPem, certPem: forge.pki.certificateToPem(cert) };
}

export class ManufacturingCa implements MicIssuer {
  readonly certPem: string;
  private readonly keyPem: string;

  private constructor(keyPem: string, certPem: string) {
    this.keyPem = keyPem;
    this.certPem = certPem;
  }

  /** The factory in `dir`, or undefined when there is none there. */
  static async load(dir: string): Promise<ManufacturingCa | undefined> {
    try {
      const [keyPem, certPem] = await Promise.all([readFile(join(dir, CA_KEY_FILE), 'utf8'), readFile(join(dir, CA_CERT_FILE), 'utf8')]);
      return new ManufacturingCa(keyPem, certPem);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** The factory in `dir`, made there first when missing (`sepi factory init`). */
  static async open(dir: string, now: number, name = 'sepi Manufacturing CA'): Promise<{ ca: ManufacturingCa; made: boolean }> {
    const found = await ManufacturingCa.load(dir);
    if (found) return { ca: found, made: false };
    const { keyPem, certPem } = makeCa(now, name);
    // The key first: a certificate without its key would be a factory that cannot issue.
    await writeFileAtomic(join(dir, CA_KEY_FILE), keyPem, 0o600);
    await writeFileAtomic(join(dir, CA_CERT_FILE), certPem, 0o644);
    return { ca: new ManufacturingCa(keyPem, certPem), made: true };
  }

  issueMic(o: { model: string; mac: string; serial: string; spkiPem: string; now: number }): IssuedMic {
    const mac = o.mac.toUpperCase();
    const pub = createPublicKey(o.spkiPem);
    const ca = forge.pki.certificateFromPem(this.certPem);
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(pub.export({ type: 'spki', format: 'pem' }) as string);
    cert.serialNumber = `02${randomBytes(15).toString('hex')}`;
    cert.validity.notBefore = new Date(o.now - 86_400_000);
    cert.validity.notAfter = new Date(o.now + MIC_YEARS * 365 * 86_400_000);
    cert.setSubject([
      { name: 'commonName', value: `CP-${o.model}-SEP${mac}` },
      { name: 'organizationalUnitName', value: `CP-${o.model}` },
      { name: 'localityName', value: o.serial },
      { name: 'stateOrProvinceName', value: mac.toLowerCase() },
      { name: 'organizationName', value: 'sepi lab factory' },
    ]);
    cert.setIssuer(ca.subject.attributes.map((a) => ({ type: a.type, value: a.value })));
    cert.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ]);
    cert.sign(pemKeyToForge(this.keyPem), forge.md.sha256.create());
    return { certPem: forge.pki.certificateToPem(cert), caPem: this.certPem };
  }
}

/** What a MIC says about its phone, read back from its subject; undefined for another kind of certificate. */
export function micIdentity(subject: string): { model: string; mac: string; serial: string } | undefined {
  const get = (k: string) => new RegExp(`(?:^|\\n|, )${k}=([^\\n,]+)`).exec(subject)?.[1];
  const ou = get('OU');
  const st = get('ST');
  const l = get('L');
  const model = ou && /^CP-(\w{3,8})$/.exec(ou)?.[1];
  if (!model || !st || !/^[0-9a-f]{12}$/i.test(st) || !l) return undefined;
  return { model, mac: st.toUpperCase(), serial: l };
}
