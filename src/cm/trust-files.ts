/**
 * The trust files the companion serves (reference cisco-boot-protocol.md §5, §10):
 *
 *  - ITLFile.tlv (also answered for ITLSEP<MAC>.tlv, the header still saying ITLFile.tlv):
 *    a SAST record (the signer), the CallManager certificate as CCM+TFTP, the TVS certificate,
 *    the CAPF certificate (phones check the CAPF server's TLS certificate against it);
 *    signed by the SAST key. In rollback mode the TFTP and TVS records are left out: a phone
 *    holding such an empty list accepts any file and any next list (released to another cluster).
 *  - CTLFile.tlv in mixed mode: SAST and CCM+TFTP records, signed by the SAST key.
 *  - <name>.sgn for every file: header version 1.0 naming the .sgn, the file unchanged after it,
 *    signed by the CallManager (TFTP-role) key.
 */
import { createHash } from 'node:crypto';
import { setCapped } from '../common/capped-map.ts';
import { type Clock, SystemClock } from '../common/clock.ts';
import { buildEncryptedConfig } from '../wire/enc-config.ts';
import { Role, buildRecord, buildSignedFile } from '../wire/tlv.ts';
import { ipv4ToBytes, isIpv4 } from '../wire/ipv4.ts';
import type { CertFacts } from '../wire/x509.ts';
import type { CompanionConfig } from './config.ts';
import type { CompanionPki } from './pki.ts';

/** How many signed files sgn() keeps: about 3 KiB each. */
const SIGNED_CACHE = 4096;

const record = (f: CertFacts, role: number, host?: string) =>
  buildRecord({
    role, subject: f.subject, issuer: f.issuer, serial: f.serial, publicKey: f.publicKey, certSignature: f.signatureValue, certificate: f.der,
    ...(host ? { dnsName: host } : {}),
    ...(host && isIpv4(host) ? { ip: ipv4ToBytes(host) } : {}),
  });

export class TrustFiles {
  private readonly pki: CompanionPki;
  private readonly cfg: CompanionConfig;
  private readonly clock: Clock;
  private cache = new Map<string, Buffer>();
  private cacheGeneration = -1;
  /** Signed files by name and content (sgn()). */
  private signed = new Map<string, Buffer>();

  constructor(pki: CompanionPki, cfg: CompanionConfig, clock: Clock = new SystemClock()) {
    this.pki = pki;
    this.cfg = cfg;
    this.clock = clock;
  }

  private get timestamp(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  /** Forgets what was signed with keys the PKI has since replaced. */
  private checkGeneration(): void {
    if (this.cacheGeneration === this.pki.generation) return;
    this.cache = new Map();
    this.signed = new Map();
    this.cacheGeneration = this.pki.generation;
  }

  private cached(key: string, make: () => Buffer): Buffer {
    this.checkGeneration();
    let v = this.cache.get(key);
    if (!v) {
      v = make();
      this.cache.set(key, v);
    }
    return v;
  }

  private signedList(filename: string, body: Buffer): Buffer {
    const sast = this.pki.get('sast').facts;
    return buildSignedFile({
      version: [1, 2], signerVersion: [1, 0], digest: this.cfg.security.digest, filename, timestamp: this.timestamp,
      signer: { name: sast.subject, serial: sast.serial, issuer: sast.issuer, modulusBytes: sast.modulusBytes },
      body, sign: (d, data) => this.pki.sign('sast', d, data),
    });
  }

  itl(rollback: boolean): Buffer {
    return this.cached(`itl-${rollback}`, () => {
      const host = this.cfg.address;
      const records = [record(this.pki.get('sast').facts, Role.SAST)];
      if (!rollback) records.push(record(this.pki.get('tftp').facts, Role.CCM_TFTP, host), record(this.pki.get('tvs').facts, Role.TVS, host), record(this.pki.get('capf').facts, Role.CAPF, host));
      return this.signedList('ITLFile.tlv', Buffer.concat(records));
    });
  }

  ctl(): Buffer {
    return this.cached('ctl', () => this.signedList('CTLFile.tlv', Buffer.concat([record(this.pki.get('sast').facts, Role.SAST), record(this.pki.get('tftp').facts, Role.CCM_TFTP, this.cfg.address)])));
  }

  /** `SEP<MAC>.cnf.xml.enc.sgn`: `plain` encrypted with a fresh key that `wrapKey` wraps for the phone, signed like a .sgn. */
  encrypted(name: string, plain: Buffer, wrapKey: (key: Uint8Array) => Uint8Array): Buffer {
    const tftp = this.pki.get('tftp').facts;
    return buildEncryptedConfig({
      plain, filename: name, digest: this.cfg.security.digest, timestamp: this.timestamp, wrapKey,
      signer: { name: tftp.subject, serial: tftp.serial, issuer: tftp.issuer, modulusBytes: tftp.modulusBytes },
      sign: (d, bytes) => this.pki.sign('tftp', d, bytes),
    });
  }

  /**
   * `name` is what the phone asked for, `.sgn` included. Signed once per content: an RSA
   * signature costs about half a millisecond, and in a boot storm every phone asks for the same
   * `XMLDefault.cnf.xml.sgn` (and each for its own file again after its reset). The signature's
   * timestamp is then when the content was first signed, as a call manager's .sgn says when
   * the file was made, not when it was fetched. A new TFTP certificate starts a new cache.
   */
  sgn(name: string, data: Uint8Array): Buffer {
    this.checkGeneration();
    const key = `${name}\0${createHash('sha256').update(data).digest('base64')}`;
    const hit = this.signed.get(key);
    if (hit) return hit;
    const file = this.signFile(name, data);
    setCapped(this.signed, key, file, SIGNED_CACHE);
    return file;
  }

  private signFile(name: string, data: Uint8Array): Buffer {
    const tftp = this.pki.get('tftp').facts;
    return buildSignedFile({
      version: [1, 0], digest: this.cfg.security.digest, filename: name, timestamp: this.timestamp,
      signer: { name: tftp.subject, serial: tftp.serial, issuer: tftp.issuer, modulusBytes: tftp.modulusBytes },
      body: data, sign: (d, bytes) => this.pki.sign('tftp', d, bytes),
    });
  }
}
