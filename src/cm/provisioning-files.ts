/**
 * The files the companion's TFTP and HTTP servers hand out, generated from the database on
 * every request (so an admin change is visible at the phone's next boot, as with CUCM):
 * `SEP<MAC>.cnf.xml` for known phones and the default file — `XMLDefault.cnf.xml`, and the same
 * content as `SEPDEFAULT.cnf` for the older models that ask for that name — plus, unless
 * security is off, the trust lists and every file again as `<name>.sgn` (trust-files.ts).
 */
import { type CallManagerMember, type TvsMember, DEFAULT_SIP_STACK, USECALLMANAGER, writeDeviceConfig, writeXmlDefault } from '../wire/cnf-xml.ts';
import { PHONE_MODELS } from '../wire/models.ts';
import type { CompanionConfig } from './config.ts';
import type { CompanionDb, PhoneRecord } from './db.ts';
import type { TrustFiles } from './trust-files.ts';

export type FileAnswer = { kind: 'file'; data: Buffer; contentType: string } | { kind: 'absent' };

const DEFAULT_NAMES = new Set(['xmldefault.cnf.xml', 'sepdefault.cnf']);

export const ROLLBACK_SETTING = 'trust.rollback';

export class ProvisioningFiles {
  private readonly db: CompanionDb;
  private readonly config: CompanionConfig;
  private readonly trust: TrustFiles | undefined;

  constructor(db: CompanionDb, config: CompanionConfig, trust?: TrustFiles) {
    this.db = db;
    this.config = config;
    this.trust = config.security.mode === 'none' ? undefined : trust;
  }

  private get rollback(): boolean {
    return this.db.setting(ROLLBACK_SETTING) === 'on';
  }

  private tvs(): TvsMember[] {
    return this.trust ? [{ priority: 0, address: this.config.address, port: this.config.security.tvsPort }] : [];
  }

  private members(): CallManagerMember[] {
    return this.config.callManagers.map((c) => ({ priority: c.priority, host: c.host, sipPort: c.sipPort, securedSipPort: 5061, ethernetPhonePort: 2000 }));
  }

  /** Looks a requested name up; names are matched without regard to case, as CUCM's TFTP does. */
  lookup(requested: string): FileAnswer {
    const name = requested.replace(/^\/+/, '');
    const lower = name.toLowerCase();
    const t = this.trust;
    if (/^itl(file|sep[0-9a-f]{12})\.tlv$/.test(lower)) return t ? { kind: 'file', data: t.itl(this.rollback), contentType: 'application/octet-stream' } : { kind: 'absent' };
    if (/^ctl(file|sep[0-9a-f]{12})\.tlv$/.test(lower)) return t && this.config.security.mode === 'mixed' ? { kind: 'file', data: t.ctl(), contentType: 'application/octet-stream' } : { kind: 'absent' };
    if (lower.endsWith('.sgn')) {
      const inner = t && !lower.endsWith('.tlv.sgn') ? this.lookup(name.slice(0, -4)) : { kind: 'absent' as const };
      return inner.kind === 'file' ? { kind: 'file', data: t!.sgn(name, inner.data), contentType: 'application/octet-stream' } : { kind: 'absent' };
    }
    if (DEFAULT_NAMES.has(lower)) {
      return this.config.serveDefaultConfig ? { kind: 'file', data: Buffer.from(this.defaultFile()), contentType: 'text/xml' } : { kind: 'absent' };
    }
    const m = /^sep([0-9a-f]{12})\.cnf\.xml$/.exec(lower);
    if (m) {
      const phone = this.db.phone(`SEP${m[1]!.toUpperCase()}`);
      return phone ? { kind: 'file', data: Buffer.from(this.deviceFile(phone)), contentType: 'text/xml' } : { kind: 'absent' };
    }
    return { kind: 'absent' };
  }

  deviceFile(p: PhoneRecord): string {
    return writeDeviceConfig({
      fullConfig: true,
      deviceProtocol: 'SIP',
      devicePoolName: 'Default',
      callManagers: this.members(),
      tvs: this.tvs(),
      registerWithProxy: true,
      sipStack: DEFAULT_SIP_STACK,
      lines: [{ button: 1, dn: p.dn, displayName: p.description || p.dn, label: p.dn, proxy: USECALLMANAGER, port: this.config.sip.port, authName: p.password ? p.dn : '', authPassword: p.password, contact: p.dn }],
      loadInformation: '',
      inactiveLoadInformation: '',
      versionStamp: p.versionStamp,
      deviceSecurityMode: 1,
      transportLayerProtocol: 1,
      userLocale: 'English_United_States',
      networkLocale: 'United_States',
    });
  }

  defaultFile(): string {
    const loads = Object.entries(this.config.loadInformation).map(([code, load]) => {
      const model = [...PHONE_MODELS.values()].find((m) => m.code === Number(code));
      return { code: Number(code), model: model ? `Cisco ${model.name}` : '', load };
    });
    return writeXmlDefault({ callManagers: this.members(), tvs: this.tvs(), loads });
  }
}
