/**
 * Which manufacturing CAs the Device Activation Service trusts for phones' MICs — Unified CM's
 * "Cisco Manufacturing root certificates in CallManager-trust". Here: the lab factory's CA when
 * the companion runs on the factory's machine (found at its default place, or named in the
 * configuration), and any imported with `sepi cm trust import-manufacturing` (kept in
 * `<data>/pki/manufacturing/`).
 */
import { X509Certificate, createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-file.ts';
import { micIdentity } from '../../factory/manufacturing-ca.ts';

export type MicCheck = { ok: true; model: string; mac: string; serial: string; issuer: string } | { ok: false; reason: string };

export class ManufacturingTrust {
  private cas: X509Certificate[] = [];
  private readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** The imported CAs of `<data>/pki/manufacturing/` and the given files (a missing one is skipped and said). */
  static async open(pkiDir: string, files: readonly string[], log: (line: string) => void): Promise<ManufacturingTrust> {
    const t = new ManufacturingTrust(join(pkiDir, 'manufacturing'));
    const imported = await readdir(t.dir).catch(() => [] as string[]);
    for (const f of imported.filter((n) => n.endsWith('.pem'))) t.add(await readFile(join(t.dir, f), 'utf8'));
    for (const f of files) {
      const pem = await readFile(f, 'utf8').catch(() => undefined);
      if (pem === undefined) continue;
      const ca = t.add(pem);
      log(`activation: trusting the manufacturing CA ${ca.subject.replace(/\n/g, ', ')} from ${f}`);
    }
    return t;
  }

  private add(pem: string): X509Certificate {
    const ca = new X509Certificate(pem);
    if (!ca.ca) throw new Error(`${ca.subject.replace(/\n/g, ', ')} is not a CA certificate`);
    if (!this.cas.some((c) => c.fingerprint256 === ca.fingerprint256)) this.cas.push(ca);
    return ca;
  }

  /** Trusts another manufacturing CA from now on, and after restarts. */
  async import(pem: string): Promise<X509Certificate> {
    const ca = this.add(pem);
    const name = createHash('sha256').update(ca.raw).digest('hex').slice(0, 16);
    await writeFileAtomic(join(this.dir, `${name}.pem`), ca.toString());
    return ca;
  }

  list(): X509Certificate[] {
    return [...this.cas];
  }

  /** A phone's MIC (DER): issued by a trusted manufacturing CA, in its validity period, naming a model and a MAC. */
  check(der: Uint8Array | undefined, now: number): MicCheck {
    if (!der || der.length === 0) return { ok: false, reason: 'no client certificate' };
    let mic: X509Certificate;
    try {
      mic = new X509Certificate(Buffer.from(der));
    } catch {
      return { ok: false, reason: 'the client certificate does not parse' };
    }
    const issuer = this.cas.find((ca) => mic.checkIssued(ca) && mic.verify(ca.publicKey));
    if (!issuer) return { ok: false, reason: `issued by ${mic.issuer.replace(/\n/g, ', ')}, not a trusted manufacturing CA` };
    if (now < Date.parse(mic.validFrom) || now > Date.parse(mic.validTo)) return { ok: false, reason: 'outside its validity period' };
    const id = micIdentity(mic.subject);
    if (!id) return { ok: false, reason: 'its subject names no model and MAC' };
    return { ok: true, ...id, issuer: issuer.subject.replace(/\n/g, ', ') };
  }
}
