/**
 * The phone's trust: the installed CTL and ITL (NVRAM `trust/ctl.tlv`, `trust/itl.tlv`) and the
 * rules for replacing them and for accepting signed files (reference cisco-boot-protocol.md
 * §5.4):
 *
 *  - No CTL and no ITL yet: the first ITL (and the first CTL) is trusted on first use.
 *  - Afterwards a new list must be signed by a certificate the installed lists hold with the
 *    SAST role; a list signed by anybody else is accepted only when TVS says the signer is valid.
 *  - An installed ITL without TFTP and TVS records (a "rollback" list) accepts any next list
 *    and makes signed files unnecessary.
 *  - While the installed lists hold a TFTP or CCM+TFTP certificate, every provisioning file is
 *    asked for as `<name>.sgn` and must be signed by one of those certificates, under its own
 *    name. A signed file names its signer but does not carry its certificate, and TVS's VERIFY
 *    needs one (its QUERY command is not public), so an unknown signer of a file is refused.
 */
import type { Nvram } from './nvram.ts';
import { Role, type TrustList, type TrustRecord, parseSignedFile, parseTrustList, roleName, sameBytes, sameSerial, verifySignedFile } from '../wire/tlv.ts';
import { certFacts, verifyWithCertificate, verifyWithRsaPublicKey } from '../wire/x509.ts';

export type TvsAnswer = { kind: 'valid'; roles: number[]; ttlSecs: number } | { kind: 'invalid' } | { kind: 'unreachable'; reason: string };
export type TvsAsk = (certificate: Uint8Array) => Promise<TvsAnswer>;

export type TrustDecision =
  | { kind: 'installed'; how: string; list: TrustList }
  | { kind: 'unchanged' }
  | { kind: 'refused'; reason: string }
  | { kind: 'tvs-unavailable'; reason: string };

export type SignedFileCheck = { ok: true; body: Uint8Array; signer: string } | { ok: false; reason: string };

interface Installed {
  bytes: Uint8Array;
  list: TrustList;
}

const FILE_ROLES: readonly number[] = [Role.TFTP, Role.CCM_TFTP];
/** Roles TVS may vouch with for a trust-list signer: SAST, or the CallManager certificate that signed ITLs before CUCM 12. */
const LIST_SIGNER_ROLES: readonly number[] = [Role.SAST, Role.TFTP, Role.CCM_TFTP];

function verifyWithRecord(bytes: Uint8Array, file: { header: TrustList['header'] }, r: TrustRecord): boolean {
  return verifySignedFile(bytes, file.header, (d, data, sig) =>
    r.certificate ? verifyWithCertificate(r.certificate, d, data, sig) : r.publicKey ? verifyWithRsaPublicKey(r.publicKey, d, data, sig) : false);
}

const signerOf = (l: TrustList) => l.records.find((r) => r.role === Role.SAST && sameSerial(r.serial, l.header.signerSerial));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export class TrustStore {
  private readonly nvram: Nvram;
  private ctlValue: Installed | undefined;
  private itlValue: Installed | undefined;

  constructor(nvram: Nvram) {
    this.nvram = nvram;
  }

  /** Reads what NVRAM holds; a damaged list is dropped (the phone then trusts on first use again). */
  async load(): Promise<void> {
    this.ctlValue = await this.read('trust/ctl.tlv');
    this.itlValue = await this.read('trust/itl.tlv');
  }

  private async read(name: string): Promise<Installed | undefined> {
    const bytes = await this.nvram.readBytes(name);
    if (!bytes) return undefined;
    const p = parseTrustList(bytes);
    return p.ok ? { bytes, list: p.value } : undefined;
  }

  get itl(): TrustList | undefined {
    return this.itlValue?.list;
  }

  get ctl(): TrustList | undefined {
    return this.ctlValue?.list;
  }

  private records(): TrustRecord[] {
    return [...(this.ctlValue?.list.records ?? []), ...(this.itlValue?.list.records ?? [])];
  }

  /** An ITL with neither TFTP nor TVS records: the cluster released the phone. */
  static isRollback(l: TrustList): boolean {
    return !l.records.some((r) => r.role !== undefined && (FILE_ROLES.includes(r.role) || r.role === Role.TVS));
  }

  /** True while a TFTP-role certificate is installed: provisioning files must come signed. */
  get needsSignedFiles(): boolean {
    return this.records().some((r) => r.role !== undefined && FILE_ROLES.includes(r.role));
  }

  /** The TVS certificates of the ITL (the TLS server must show one of them) and where they live. */
  tvsRecords(): TrustRecord[] {
    return (this.itlValue?.list.records ?? []).filter((r) => r.role === Role.TVS && r.certificate);
  }

  /** The CallManager certificates (CCM, CCM+TFTP, TFTP roles): what the cluster's HTTPS services show. */
  callManagerCertificates(): Uint8Array[] {
    return this.records().filter((r) => (r.role === Role.CCM || r.role === Role.CCM_TFTP || r.role === Role.TFTP) && r.certificate).map((r) => r.certificate!);
  }

  /** The CAPF certificates of the ITL: a CAPF server must show one of them. */
  capfRecords(): TrustRecord[] {
    return this.records().filter((r) => r.role === Role.CAPF && r.certificate);
  }

  summary(): string[] {
    const line = (name: string, l: TrustList | undefined) => {
      if (!l) return `${name}: none`;
      const roles = l.records.map((r) => (r.role === undefined ? '?' : roleName(r.role))).join(' ');
      return `${name}: ${l.records.length} (${roles || 'empty'})`;
    };
    return [line('CTL', this.ctl), line('ITL', this.itl)];
  }

  private async install(kind: 'ctl' | 'itl', bytes: Uint8Array, list: TrustList): Promise<void> {
    await this.nvram.writeBytes(`trust/${kind}.tlv`, bytes);
    if (kind === 'ctl') this.ctlValue = { bytes, list };
    else this.itlValue = { bytes, list };
  }

  /**
   * What every new list must pass before its signer is judged: readable, named as it should be,
   * different from the installed one, and verifying with its own SAST record (else it is
   * damaged or forged). An ITL's signer record must also carry its certificate: TVS may be asked about it.
   */
  private vet(bytes: Uint8Array, filename: string, installed: Installed | undefined, needCertificate: boolean): { kind: 'vetted'; list: TrustList; own: TrustRecord } | TrustDecision {
    const p = parseTrustList(bytes);
    if (!p.ok) return { kind: 'refused', reason: `unreadable (${p.error.message})` };
    const list = p.value;
    if (list.header.filename !== filename) return { kind: 'refused', reason: `its header names ${list.header.filename}, not ${filename}` };
    if (installed && sameBytes(installed.bytes, bytes)) return { kind: 'unchanged' };
    const own = signerOf(list);
    if (!own || (needCertificate && !own.certificate) || !verifyWithRecord(bytes, list, own)) return { kind: 'refused', reason: `its signature does not verify with its own SAST record (serial ${hex(list.header.signerSerial)})` };
    return { kind: 'vetted', list, own };
  }

  async considerCtl(bytes: Uint8Array): Promise<TrustDecision> {
    const v = this.vet(bytes, 'CTLFile.tlv', this.ctlValue, false);
    if (v.kind !== 'vetted') return v;
    const list = v.list;
    if (!this.ctlValue) {
      await this.install('ctl', bytes, list);
      return { kind: 'installed', how: 'first use', list };
    }
    const anchor = this.ctlValue.list.records.find((r) => r.role === Role.SAST && sameSerial(r.serial, list.header.signerSerial));
    if (!anchor) return { kind: 'refused', reason: `signed by ${list.header.signerName}, not by a SAST of the installed CTL` };
    if (!verifyWithRecord(bytes, list, anchor)) return { kind: 'refused', reason: `its signature does not match the installed SAST ${anchor.subject ?? ''}` };
    await this.install('ctl', bytes, list);
    return { kind: 'installed', how: 'signed by a trusted SAST', list };
  }

  async considerItl(bytes: Uint8Array, askTvs: TvsAsk): Promise<TrustDecision> {
    const v = this.vet(bytes, 'ITLFile.tlv', this.itlValue, true);
    if (v.kind !== 'vetted') return v;
    const { list, own } = v;
    if (!this.ctlValue && !this.itlValue) {
      await this.install('itl', bytes, list);
      return { kind: 'installed', how: 'first use (no trust list installed)', list };
    }
    if (!this.ctlValue && this.itlValue && TrustStore.isRollback(this.itlValue.list)) {
      await this.install('itl', bytes, list);
      return { kind: 'installed', how: 'the installed ITL is a rollback list', list };
    }
    const anchors = this.records().filter((r) => r.role !== undefined && LIST_SIGNER_ROLES.includes(r.role) && sameSerial(r.serial, list.header.signerSerial));
    if (anchors.length) {
      if (!anchors.some((a) => verifyWithRecord(bytes, list, a))) return { kind: 'refused', reason: `forged: the signature does not match the trusted ${anchors[0]!.subject ?? 'signer'}` };
      await this.install('itl', bytes, list);
      return { kind: 'installed', how: 'signed by a trusted SAST', list };
    }
    const answer = await askTvs(own.certificate!);
    if (answer.kind === 'unreachable') return { kind: 'tvs-unavailable', reason: answer.reason };
    if (answer.kind === 'invalid') return { kind: 'refused', reason: `signed by unknown ${list.header.signerName}; TVS says it is not valid` };
    if (!answer.roles.some((r) => LIST_SIGNER_ROLES.includes(r))) return { kind: 'refused', reason: `TVS knows ${list.header.signerName} only as ${answer.roles.map(roleName).join(', ')}, not as a list signer` };
    await this.install('itl', bytes, list);
    return { kind: 'installed', how: 'signer verified by TVS', list };
  }

  /** Checks a `.sgn` the phone asked for as `requested`; gives the file inside when it is good. */
  checkSignedFile(bytes: Uint8Array, requested: string): SignedFileCheck {
    const p = parseSignedFile(bytes);
    if (!p.ok) return { ok: false, reason: `unreadable (${p.error.message})` };
    const h = p.value.header;
    // Another file signed by the right key must not pass for this one (another phone's, say).
    if (h.filename.toLowerCase() !== requested.toLowerCase()) return { ok: false, reason: `its header names ${h.filename}` };
    const signers = this.records().filter((r) => r.role !== undefined && FILE_ROLES.includes(r.role) && sameSerial(r.serial, h.signerSerial));
    if (signers.length === 0) return { ok: false, reason: `signed by ${h.signerName}, which the trust list does not hold for TFTP` };
    const signer = signers.find((s) => verifyWithRecord(bytes, p.value, s));
    if (signer) return { ok: true, body: p.value.body, signer: signer.subject ?? h.signerName };
    return { ok: false, reason: `the signature does not verify with ${h.signerName} (altered?)` };
  }

  /** Settings > Trust list > Erase, and part of a factory reset. */
  async erase(): Promise<void> {
    await this.nvram.remove('trust');
    this.ctlValue = undefined;
    this.itlValue = undefined;
  }

  /** For the screen: who signed the installed ITL. */
  itlSigner(): string | undefined {
    const l = this.itl;
    if (!l) return undefined;
    const own = signerOf(l);
    const f = own?.certificate ? certFacts(own.certificate) : undefined;
    return f?.ok ? f.value.subject : l.header.signerName;
  }
}
