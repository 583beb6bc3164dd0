/**
 * The trust operations (docs/trust.md): what the ITL carries, the companion's own certificates
 * for export, certificates imported for TVS to vouch for, a new TFTP (CallManager) certificate,
 * and ITL rollback. With security mode `none` there is no PKI and each answers `unavailable`.
 */
import { X509Certificate } from 'node:crypto';
import { Role, roleName } from '../../wire/tlv.ts';
import { certFacts } from '../../wire/x509.ts';
import type { CompanionConfig } from '../config.ts';
import type { CompanionDb } from '../db.ts';
import type { CompanionPki } from '../pki.ts';
import { ROLLBACK_SETTING } from '../provisioning-files.ts';
import type { CertificatePem, CertificateRole, CertificateView, ImportAnswer, ImportCertificateRequest, Outcome, RollbackRequest, RollbackView, RotateAnswer, TrustView } from './contract.ts';
import { invalid, ok, unavailable } from './outcome.ts';

export interface TrustOperationsDeps {
  db: CompanionDb;
  config: CompanionConfig;
  /** Undefined with security mode `none`. */
  pki: CompanionPki | undefined;
  log: (line: string) => void;
}

const ROLE_CODES: Record<string, number> = { SAST: Role.SAST, CCM: Role.CCM, 'CCM+TFTP': Role.CCM_TFTP, TFTP: Role.TFTP, CAPF: Role.CAPF, 'APP-SERVER': Role.APP_SERVER, TVS: Role.TVS };
const OWN_ROLES: Record<CertificateRole, string> = { sast: 'SAST', tftp: 'CCM+TFTP', tvs: 'TVS', capf: 'CAPF' };
const NO_PKI = 'security mode is none: no trust lists or TVS';

export class TrustOperations {
  private readonly d: TrustOperationsDeps;

  constructor(deps: TrustOperationsDeps) {
    this.d = deps;
  }

  status(): Outcome<TrustView> {
    const { pki, config, db } = this.d;
    if (!pki) return unavailable(NO_PKI);
    const own = (Object.keys(OWN_ROLES) as CertificateRole[]).map((r): CertificateView => {
      const f = pki.get(r).facts;
      return { name: r, roles: [OWN_ROLES[r]], subject: f.subject, serial: Buffer.from(f.serial).toString('hex'), sha256: f.sha256, notAfter: f.notAfter.toISOString(), source: 'own' };
    });
    const imported = pki.trusted().map((t): CertificateView => ({
      name: t.note, roles: t.roles.map(roleName), subject: t.facts.subject, serial: Buffer.from(t.facts.serial).toString('hex'), sha256: t.facts.sha256, notAfter: t.facts.notAfter.toISOString(), source: 'imported',
    }));
    return ok({ mode: config.security.mode, digest: config.security.digest, rollback: db.setting(ROLLBACK_SETTING) === 'on', certificates: [...own, ...imported] });
  }

  exportCertificate(role: CertificateRole): Outcome<CertificatePem> {
    if (!this.d.pki) return unavailable(NO_PKI);
    if (!(role in OWN_ROLES)) return invalid('role', 'role must be sast, tftp, tvs or capf');
    return ok({ pem: this.d.pki.get(role).certPem });
  }

  /** A certificate TVS vouches for from now on, with the roles given. */
  async importCertificate(req: ImportCertificateRequest): Promise<Outcome<ImportAnswer>> {
    const pki = this.d.pki;
    if (!pki) return unavailable(NO_PKI);
    const roles = req.roles.map((r) => r.toUpperCase());
    const codes = roles.map((r) => ROLE_CODES[r]);
    if (codes.length === 0 || codes.some((c) => c === undefined)) return invalid('roles', 'roles must list SAST, CCM, CCM+TFTP, TFTP, CAPF, APP-SERVER or TVS');
    let der: Buffer;
    try {
      der = new X509Certificate(req.pem).raw;
    } catch {
      return invalid('pem', 'pem must be a PEM certificate');
    }
    const facts = certFacts(der);
    if (!facts.ok) return invalid('pem', `pem: ${facts.error.message}`);
    const t = await pki.importTrusted(der, codes as number[], req.note ?? 'imported');
    this.d.log(`admin imported ${t.facts.subject} for TVS as ${roles.join(',')}`);
    return ok({ subject: t.facts.subject, sha256: t.facts.sha256, roles });
  }

  async rotateTftp(): Promise<Outcome<RotateAnswer>> {
    const pki = this.d.pki;
    if (!pki) return unavailable(NO_PKI);
    const next = await pki.rotateTftp();
    this.d.log(`admin rotated the TFTP (CallManager) certificate: now ${next.facts.sha256.slice(0, 16)}…`);
    return ok({ subject: next.facts.subject, sha256: next.facts.sha256 });
  }

  setRollback(req: RollbackRequest): Outcome<RollbackView> {
    if (!this.d.pki) return unavailable('security mode is none: there is no ITL to roll back');
    this.d.db.setSetting(ROLLBACK_SETTING, req.enabled ? 'on' : 'off');
    this.d.log(`admin turned ITL rollback ${req.enabled ? 'on: phones get an empty ITL and may leave' : 'off'}`);
    return ok({ rollback: req.enabled });
  }
}
