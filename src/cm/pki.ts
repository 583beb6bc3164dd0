/**
 * The companion's keys and certificates, made on first start and kept in `<data>/pki/`:
 *
 *   sast.key.pem, sast.cert.pem   System Administrator Security Token: signs ITL and CTL files.
 *                                 Kept for ever: phones that trust it accept every later list.
 *   tftp.key.pem, tftp.cert.pem   the CallManager certificate (role CCM+TFTP): signs .sgn files.
 *   tvs.key.pem,  tvs.cert.pem    the Trust Verification Service's TLS certificate.
 *   capf.key.pem, capf.cert.pem   the Certificate Authority Proxy Function: its TLS certificate,
 *                                 and the CA that signs the phones' LSCs (as CUCM's CAPF is).
 *   retired/                      TFTP certificates replaced by a rotation.
 *   trusted.json                  certificates imported for TVS to vouch for, with their roles.
 *
 * Keys are RSA 2048 made with node:crypto (fast, native); the certificates are built with
 * node-forge, which does RSA X.509 well. Private keys are written atomically, mode 0600.
 */
import { generateKeyPairSync, randomBytes, sign as cryptoSign, type KeyObject, createPrivateKey } from 'node:crypto';
import { readFile, rename, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import forge from 'node-forge';
import { writeFileAtomic } from '../common/atomic-file.ts';
import { type Clock, SystemClock } from '../common/clock.ts';
import type { Digest } from '../wire/tlv.ts';
import { type CertFacts, certFacts } from '../wire/x509.ts';

export type PkiRole = 'sast' | 'tftp' | 'tvs' | 'capf';

export interface Identity {
  role: PkiRole;
  key: KeyObject;
  keyPem: string;
  certPem: string;
  facts: CertFacts;
}

export interface TrustedCert {
  facts: CertFacts;
  roles: number[];
  note: string;
}

const YEARS = 20;

function makeCertificate(cn: string, key: KeyObject, extKeyUsage: Record<string, boolean>, now: number, ca: boolean): string {
  const cert = forge.pki.createCertificate();
  const privateKey = forge.pki.privateKeyFromPem(key.export({ type: 'pkcs1', format: 'pem' }) as string);
  cert.publicKey = forge.pki.setRsaPublicKey(privateKey.n, privateKey.e);
  // A positive serial of 16 random bytes (RFC 5280 allows 20).
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x10;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(now - 86_400_000);
  cert.validity.notAfter = new Date(now + YEARS * 365 * 86_400_000);
  const attrs = [{ name: 'commonName', value: cn }, { name: 'organizationalUnitName', value: 'sepi' }, { name: 'organizationName', value: 'sepi companion' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: ca, critical: ca },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, ...(ca ? { keyCertSign: true } : {}) },
    { name: 'extKeyUsage', ...extKeyUsage },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(privateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

const EXT: Record<PkiRole, Record<string, boolean>> = {
  sast: { codeSigning: true },
  tftp: { serverAuth: true, clientAuth: true },
  tvs: { serverAuth: true },
  capf: { serverAuth: true },
};

export class CompanionPki {
  readonly dir: string;
  private readonly clock: Clock;
  private readonly identities = new Map<PkiRole, Identity>();
  private trustedList: TrustedCert[] = [];
  /** Goes up whenever a certificate changes, so generated trust lists know to rebuild. */
  generation = 0;

  private constructor(dir: string, clock: Clock) {
    this.dir = dir;
    this.clock = clock;
  }

  /** Loads the keys and certificates, making the missing ones (first start). */
  static async open(dataDir: string, address: string, clock: Clock = new SystemClock()): Promise<CompanionPki> {
    const pki = new CompanionPki(join(dataDir, 'pki'), clock);
    await mkdir(pki.dir, { recursive: true, mode: 0o700 });
    const names: Record<PkiRole, string> = { sast: `SAST-sepi-${address}`, tftp: `CallManager-${address}`, tvs: `TVS-${address}`, capf: `CAPF-${address}` };
    // A data folder from before CAPF gets its CAPF identity at this start (and a new ITL with it).
    for (const role of ['sast', 'tftp', 'tvs', 'capf'] as const) pki.identities.set(role, await pki.loadOrMake(role, names[role]));
    pki.trustedList = await pki.readTrusted();
    return pki;
  }

  private async loadOrMake(role: PkiRole, cn: string): Promise<Identity> {
    const keyPath = join(this.dir, `${role}.key.pem`);
    const certPath = join(this.dir, `${role}.cert.pem`);
    try {
      const [keyPem, certPem] = await Promise.all([readFile(keyPath, 'utf8'), readFile(certPath, 'utf8')]);
      return this.identity(role, keyPem, certPem);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return this.make(role, cn);
  }

  private identity(role: PkiRole, keyPem: string, certPem: string): Identity {
    const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(forge.pki.certificateFromPem(certPem))).getBytes(), 'binary');
    const facts = certFacts(der);
    if (!facts.ok) throw new Error(`${role} certificate in ${this.dir}: ${facts.error.message}`);
    return { role, key: createPrivateKey(keyPem), keyPem, certPem, facts: facts.value };
  }

  private async make(role: PkiRole, cn: string): Promise<Identity> {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const certPem = makeCertificate(cn, privateKey, EXT[role], this.clock.now(), role === 'capf');
    // The key first: a certificate without its key would be useless after a power cut.
    await writeFileAtomic(join(this.dir, `${role}.key.pem`), keyPem, 0o600);
    await writeFileAtomic(join(this.dir, `${role}.cert.pem`), certPem);
    this.generation++;
    return this.identity(role, keyPem, certPem);
  }

  get(role: PkiRole): Identity {
    const id = this.identities.get(role);
    if (!id) throw new Error(`no ${role} identity`);
    return id;
  }

  sign(role: PkiRole, digest: Digest, data: Uint8Array): Buffer {
    return cryptoSign(digest, data, this.get(role).key);
  }

  /**
   * A new TFTP key and certificate. Phones holding the old ITL accept the next one because it is
   * signed by the SAST key they already trust; the old certificate goes to retired/.
   */
  async rotateTftp(): Promise<Identity> {
    const old = this.get('tftp');
    await mkdir(join(this.dir, 'retired'), { recursive: true, mode: 0o700 });
    const stamp = new Date(this.clock.now()).toISOString().replace(/[:.]/g, '-');
    await rename(join(this.dir, 'tftp.cert.pem'), join(this.dir, 'retired', `tftp-${stamp}.cert.pem`));
    await rename(join(this.dir, 'tftp.key.pem'), join(this.dir, 'retired', `tftp-${stamp}.key.pem`));
    const next = await this.make('tftp', old.facts.subject.match(/CN=([^,]+)/)?.[1] ?? 'CallManager');
    this.identities.set('tftp', next);
    return next;
  }

  trusted(): readonly TrustedCert[] {
    return this.trustedList;
  }

  async importTrusted(der: Uint8Array, roles: number[], note: string): Promise<TrustedCert> {
    const facts = certFacts(der);
    if (!facts.ok) throw new Error(facts.error.message);
    const entry = { facts: facts.value, roles, note };
    this.trustedList = [...this.trustedList.filter((t) => t.facts.sha256 !== entry.facts.sha256), entry];
    await writeFileAtomic(join(this.dir, 'trusted.json'), JSON.stringify(this.trustedList.map((t) => ({ der: Buffer.from(t.facts.der).toString('base64'), roles: t.roles, note: t.note })), null, 2) + '\n');
    return entry;
  }

  private async readTrusted(): Promise<TrustedCert[]> {
    let raw: string;
    try {
      raw = await readFile(join(this.dir, 'trusted.json'), 'utf8');
    } catch {
      return [];
    }
    const list = JSON.parse(raw) as Array<{ der: string; roles: number[]; note: string }>;
    return list.flatMap((t) => {
      const f = certFacts(Buffer.from(t.der, 'base64'));
      return f.ok ? [{ facts: f.value, roles: t.roles, note: t.note }] : [];
    });
  }
}
