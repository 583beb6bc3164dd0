/**
 * The two certificates of an EMU-EDOS/1 exchange (docs/protocols/edos.md §2).
 *
 * The server's: a real Multiplatform phone trusts only Cisco-signed servers, so the stand-in
 * has its certificate issued by the lab factory's manufacturing CA — the CA whose certificate
 * every sepi phone already holds from the factory folder — with the names a phone may use for
 * it: `activate.cisco.com`, `activate.emu.lab`, and the companion's address. It is made once
 * and kept in `<data>/pki/edos.key.pem` and `edos.cert.pem`; it is made again only when the
 * factory or the addresses changed. When there is no factory yet, the default one is made
 * (as a phone does on first use, manufacturing-ca.ts).
 *
 * The phone's: its client certificate from the factory, subject `OU=CP-<model>-3PCC,
 * L=<serial>, ST=<mac>` (the enterprise MIC layout, `OU=CP-<model>`, is taken too: same factory,
 * same fields). It must chain to a trusted manufacturing CA and be in its validity period.
 */
import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import forge from 'node-forge';
import { writeFileAtomic } from '../../common/atomic-file.ts';
import { CA_CERT_FILE, CA_KEY_FILE } from '../../factory/factory-files.ts';
import { ManufacturingCa } from '../../factory/manufacturing-ca.ts';

/** The names EMU-EDOS/1 is reached by: Cisco's host (answered by the lab's DNS) and ours. */
export const EDOS_HOST_NAMES = ['activate.cisco.com', 'activate.emu.lab'] as const;
const KEY_FILE = 'edos.key.pem';
const CERT_FILE = 'edos.cert.pem';
const YEARS = 10;

export interface EdosIdentity {
  keyPem: string;
  certPem: string;
  /** The factory CA that issued it (and the phones' certificates). */
  ca: X509Certificate;
}

const oneLine = (subject: string) => subject.replace(/\n/g, ', ');

/** The identity in `<data>/pki`, made (or made again) when missing or no longer right. */
export async function openEdosIdentity(o: { dataDir: string; factoryDir: string; addresses: readonly string[]; now: number; log: (line: string) => void }): Promise<EdosIdentity> {
  // A folder with the CA certificate alone (copied for trust) must not be taken for no factory.
  if (existsSync(join(o.factoryDir, CA_CERT_FILE)) && !existsSync(join(o.factoryDir, CA_KEY_FILE))) {
    throw new Error(`edos.factory ${o.factoryDir} holds the manufacturing CA certificate but not its key (${CA_KEY_FILE}): the EDOS certificate is issued by the factory, so name the factory's own folder`);
  }
  const { ca: factory, made } = await ManufacturingCa.open(o.factoryDir, o.now);
  if (made) o.log(`edos: no lab factory in ${o.factoryDir}: made one (its CA certificate is what phones trust the EDOS server by)`);
  const ca = new X509Certificate(factory.certPem);
  const dir = join(o.dataDir, 'pki');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const held = await Promise.all([readFile(join(dir, KEY_FILE), 'utf8'), readFile(join(dir, CERT_FILE), 'utf8')]).catch(() => undefined);
  if (held) {
    const [keyPem, certPem] = held;
    const why = unfit(new X509Certificate(certPem), ca, o.addresses, o.now);
    if (!why) return { keyPem, certPem, ca };
    o.log(`edos: the server certificate in ${dir} is made again (${why})`);
  }
  const caKeyPem = await readFile(join(o.factoryDir, CA_KEY_FILE), 'utf8');
  const { keyPem, certPem } = issueServerCertificate(factory.certPem, caKeyPem, o.addresses, o.now);
  await writeFileAtomic(join(dir, KEY_FILE), keyPem, 0o600);
  await writeFileAtomic(join(dir, CERT_FILE), certPem);
  o.log(`edos: server certificate for ${[...EDOS_HOST_NAMES, ...o.addresses].join(', ')} issued by ${oneLine(ca.subject)}`);
  return { keyPem, certPem, ca };
}

/** Why a held certificate will not do any more; undefined when it will. */
function unfit(cert: X509Certificate, ca: X509Certificate, addresses: readonly string[], now: number): string | undefined {
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'not issued by the factory in use';
  if (now > Date.parse(cert.validTo) - 30 * 86_400_000) return 'expiring';
  const san = cert.subjectAltName ?? '';
  const missing = [...EDOS_HOST_NAMES.map((n) => `DNS:${n}`), ...addresses.map((a) => `IP Address:${a}`)].filter((n) => !san.split(', ').includes(n));
  return missing.length ? `it does not name ${missing.join(', ')}` : undefined;
}

function issueServerCertificate(caPem: string, caKeyPem: string, addresses: readonly string[], now: number): { keyPem: string; certPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ca = forge.pki.certificateFromPem(caPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  cert.serialNumber = `03${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(now - 86_400_000);
  cert.validity.notAfter = new Date(now + YEARS * 365 * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: EDOS_HOST_NAMES[1] }, { name: 'organizationName', value: 'sepi companion (EDOS stand-in)' }]);
  cert.setIssuer(ca.subject.attributes.map((a) => ({ type: a.type, value: a.value })));
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [...EDOS_HOST_NAMES.map((value) => ({ type: 2, value })), ...addresses.map((ip) => ({ type: 7, ip }))] },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(caKeyPem), forge.md.sha256.create());
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, certPem: forge.pki.certificateToPem(cert) };
}

// ---- the phone's certificate ------------------------------------------------------------------

export type ClientCheck = { ok: true; mac: string; model: string; product: string; serial: string } | { ok: false; reason: string };

/** `OU=CP-8841-3PCC, L=<serial>, ST=<mac>` read back: MAC lower case, model `8841`. */
export function mppIdentity(subject: string): { mac: string; model: string; product: string; serial: string } | undefined {
  const get = (k: string) => new RegExp(`(?:^|\\n)${k}=([^\\n]+)`).exec(subject)?.[1];
  const ou = get('OU');
  const st = get('ST');
  const m = ou && /^CP-(\w{3,8})(-3PCC)?$/.exec(ou);
  if (!m || !st || !/^[0-9a-f]{12}$/i.test(st)) return undefined;
  return { mac: st.toLowerCase(), model: m[1]!.toUpperCase(), product: ou!, serial: get('L') ?? '' };
}

/** The phone's certificate: issued by one of `cas`, valid now, naming a product and a MAC. */
export function checkClientCertificate(cert: X509Certificate | undefined, cas: readonly X509Certificate[], now: number): ClientCheck {
  if (!cert) return { ok: false, reason: 'no client certificate' };
  if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) return { ok: false, reason: `the client certificate is issued by ${oneLine(cert.issuer)}, not a trusted manufacturing CA` };
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) return { ok: false, reason: 'the client certificate is outside its validity period' };
  const id = mppIdentity(cert.subject);
  if (!id) return { ok: false, reason: 'the client certificate names no product (OU=CP-<model>-3PCC) and MAC (ST)' };
  return { ok: true, ...id };
}
