/**
 * Which manufacturing CAs the Device Activation Service trusts for phones' MICs — Unified CM's
 * "Cisco Manufacturing root certificates in CallManager-trust". Here: the lab factory's CA when
 * the companion runs on the factory's machine (found at its default place, or named in the
 * configuration), and any imported with `sepi cm trust import-manufacturing` (kept in
 * `<data>/pki/manufacturing/`).
 */
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-file.ts';
import { micIdentity } from '../../factory/manufacturing-ca.ts';

export type MicCheck = { ok: true; model: string; mac: string; serial: string; issuer: string } | { ok: false; reason: string };

/** A configured CA file that did not exist at start is looked for again at most this often. */
const RECHECK_MS = 10_000;

export class ManufacturingTrust {
  private cas: X509Certificate[] = [];
  private readonly dir: string;
  private pending: string[] = [];
  private lastLook = 0;
  private log: (line: string) => void = () => {};

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** The imported CAs of `<data>/pki/manufacturing/` and the given files (a missing one is skipped and said). */
  static async open(pkiDir: string, files: readonly string[], log: (line: string) => void): Promise<ManufacturingTrust> {
    const t = new ManufacturingTrust(join(pkiDir, 'manufacturing'));
    const imported = await readdir(t.dir).catch(() => [] as string[]);
    for (const f of imported.filter((n) => n.endsWith('.pem'))) t.add(await readFile(join(t.dir, f), 'utf8'));
    t.log = log;
    for (const f of files) {
      const pem = await readFile(f, 'utf8').catch(() => undefined);
      if (pem === undefined) {
        // The lab factory may be made after the companion started (a phone makes it on first use).
        t.pending.push(f);
        continue;
      }
      const ca = t.add(pem);
      log(`activation: trusting the manufacturing CA ${ca.subject.replace(/\n/g, ', ')} from ${f}`);
    }
    return t;
  }

  /** Configured CA files that were missing: taken now if they have appeared. */
  private lookAgain(now: number): void {
    if (this.pending.length === 0 || now - this.lastLook < RECHECK_MS) return;
    this.lastLook = now;
    this.pending = this.pending.filter((f) => {
      let pem: string;
      try {
        pem = readFileSync(f, 'utf8');
      } catch {
        return true;
      }
      try {
        const ca = this.add(pem);
        this.log(`activation: trusting the manufacturing CA ${ca.subject.replace(/\n/g, ', ')} from ${f}`);
      } catch (e) {
        this.log(`activation: ${f} is not a CA certificate: ${(e as Error).message}`);
      }
      return false;
    });
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
    const issuedBy = () => this.cas.find((ca) => mic.checkIssued(ca) && mic.verify(ca.publicKey));
    let issuer = issuedBy();
    if (!issuer) {
      this.lookAgain(now);
      issuer = issuedBy();
    }
    if (!issuer) return { ok: false, reason: `issued by ${mic.issuer.replace(/\n/g, ', ')}, not a trusted manufacturing CA` };
    if (now < Date.parse(mic.validFrom) || now > Date.parse(mic.validTo)) return { ok: false, reason: 'outside its validity period' };
    const id = micIdentity(mic.subject);
    if (!id) return { ok: false, reason: 'its subject names no model and MAC' };
    return { ok: true, ...id, issuer: issuer.subject.replace(/\n/g, ', ') };
  }
}
