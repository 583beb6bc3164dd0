/**
 * The files the companion's TFTP and HTTP servers hand out, generated from the database on
 * every request (so an admin change is visible at the phone's next boot, as with CUCM):
 * `SEP<MAC>.cnf.xml` for known phones and the default file — `XMLDefault.cnf.xml`, and the same
 * content as `SEPDEFAULT.cnf` for the older models that ask for that name — plus, unless
 * security is off, the trust lists and every file again as `<name>.sgn` (trust-files.ts).
 *
 * TFTP Encrypted Config: a phone with an LSC and encrypted configuration on gets, in the clear,
 * only the short file (load, CAPF, the hash of the certificate the full file is for: no
 * secret), and its full file as `SEP<MAC>.cnf.xml.enc.sgn`, encrypted for its LSC. A phone with
 * a CAPF operation pending is told so (`capfAuthMode`, `capfList`). A line password served in
 * the clear is said in the log, once per phone and process.
 *
 * Activation codes: the default file tells each model how it onboards (`<emuOnboarding>`,
 * from Device Defaults), and a phone that waits for its code has no file of its own yet — it
 * finds only the default file, and with it the Device Activation Service.
 *
 * Every other name is looked for in the TFTP root folder (tftp-root.ts): firmware loads,
 * locales, ringtones, dial plans, served as they are.
 */
import { X509Certificate, constants, publicEncrypt } from 'node:crypto';
import { type CallManagerMember, type DeviceSecurity, type TvsMember, DEFAULT_SIP_STACK, USECALLMANAGER, writeDeviceConfig, writeShortConfig, writeXmlDefault } from '../wire/cnf-xml.ts';
import { buildEncryptedConfig, configCertHash } from '../wire/enc-config.ts';
import { PHONE_MODELS } from '../wire/models.ts';
import type { CompanionConfig } from './config.ts';
import type { CapfAuth, CompanionDb, PhoneCertificate, PhoneRecord } from './db.ts';
import type { TrustFiles } from './trust-files.ts';
import type { TftpRoot } from './tftp-root.ts';
import type { ActivationStore } from './activation/store.ts';
import { LoadStore } from './loads.ts';
import { lineFace } from './templates/apply.ts';
import { UniversalTemplateStore } from './templates/store.ts';

/** Activation onboarding as the files show it: Device Defaults, and where the service listens. */
export interface OnboardingFiles {
  store: ActivationStore;
  serviceUrl: string;
}

export type FileAnswer = { kind: 'file'; data: Buffer; contentType: string } | { kind: 'absent' };

const DEFAULT_NAMES = new Set(['xmldefault.cnf.xml', 'sepdefault.cnf']);

export const ROLLBACK_SETTING = 'trust.rollback';

/** `capfAuthMode` for each way of authenticating (reference §4.1). */
const CAPF_AUTH_MODE: Record<CapfAuth, number> = { 'string': 1, 'null-string': 2, 'lsc': 3 };

export class ProvisioningFiles {
  private readonly db: CompanionDb;
  private readonly config: CompanionConfig;
  private readonly trust: TrustFiles | undefined;
  private readonly log: (line: string) => void;
  private readonly warnedInClear = new Set<string>();
  private readonly onboarding: OnboardingFiles | undefined;

  private readonly root: TftpRoot | undefined;
  /** Which load each phone is told to run (loads.ts). */
  private readonly loads: LoadStore;
  /** What universal templates gave each phone (templates/). */
  private readonly templates: UniversalTemplateStore;

  constructor(db: CompanionDb, config: CompanionConfig, trust?: TrustFiles, log: (line: string) => void = () => {}, onboarding?: OnboardingFiles, root?: TftpRoot) {
    this.db = db;
    this.loads = new LoadStore(db, config.loadInformation);
    this.templates = new UniversalTemplateStore(db);
    this.config = config;
    this.trust = config.security.mode === 'none' ? undefined : trust;
    this.log = log;
    this.onboarding = onboarding;
    this.root = root;
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
    const enc = /^sep([0-9a-f]{12})\.cnf\.xml\.enc\.sgn$/.exec(lower);
    if (enc) return this.encryptedFile(`SEP${enc[1]!.toUpperCase()}`, name);
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
      if (!phone || this.onboarding?.store.phoneOnboarding(phone.deviceName)?.requiresCode) return { kind: 'absent' };
      const security = this.security(this.db.certificate(phone.deviceName));
      if (security.encrConfig) return { kind: 'file', data: Buffer.from(writeShortConfig({ loadInformation: this.loadFor(phone), security })), contentType: 'text/xml' };
      if (phone.password && !this.warnedInClear.has(phone.deviceName)) {
        this.warnedInClear.add(phone.deviceName);
        this.log(`${phone.deviceName}: line password served in the clear in ${name} (no encrypted configuration: sepi cm phone certificate ${phone.deviceName} --install --encrypted-config)`);
      }
      return { kind: 'file', data: Buffer.from(this.deviceFile(phone, security)), contentType: 'text/xml' };
    }
    // Anything else may be a file of the TFTP root (loads, locales, ringtones, dial plans).
    const data = this.root?.read(name);
    return data ? { kind: 'file', data, contentType: 'application/octet-stream' } : { kind: 'absent' };
  }

  /** Whether a phone with these certificate settings gets its full file only encrypted: it has an LSC, encryption is on, files can be signed. */
  encrypted(c: PhoneCertificate | undefined): boolean {
    return !!c && c.encryptedConfig && c.lsc !== '' && this.trust !== undefined;
  }

  private security(c: PhoneCertificate | undefined): DeviceSecurity {
    if (!c) return { capfAuthMode: 0, capf: [], certHash: '', encrConfig: false };
    const pending = c.operation !== 'none' && this.trust !== undefined;
    return {
      capfAuthMode: pending ? CAPF_AUTH_MODE[c.auth] : 0,
      capf: this.trust ? [{ host: this.config.address, port: this.config.security.capfPort }] : [],
      certHash: c.lsc ? configCertHash(new X509Certificate(c.lsc).raw) : '',
      encrConfig: this.encrypted(c),
    };
  }

  private encryptedFile(deviceName: string, requested: string): FileAnswer {
    const phone = this.db.phone(deviceName);
    const c = this.db.certificate(deviceName);
    if (!phone || !this.encrypted(c) || !this.trust || this.onboarding?.store.phoneOnboarding(deviceName)?.requiresCode) return { kind: 'absent' };
    const lsc = new X509Certificate(c!.lsc);
    const data = this.trust.encrypted(requested, Buffer.from(this.deviceFile(phone, this.security(c))), (key) => publicEncrypt({ key: lsc.publicKey, padding: constants.RSA_PKCS1_PADDING }, key));
    return { kind: 'file', data, contentType: 'application/octet-stream' };
  }

  deviceFile(p: PhoneRecord, security?: DeviceSecurity): string {
    // What universal templates gave the phone (autoregistration, the IVR): device pool, speed dials, line 1's name and label.
    const applied = this.templates.applied(p.deviceName);
    const face = lineFace(p, applied);
    return writeDeviceConfig({
      fullConfig: true,
      deviceProtocol: 'SIP',
      devicePoolName: applied.devicePool,
      callManagers: this.members(),
      tvs: this.tvs(),
      registerWithProxy: true,
      sipStack: DEFAULT_SIP_STACK,
      lines: [{ button: 1, dn: p.dn, displayName: face.displayName, label: face.label, proxy: USECALLMANAGER, port: this.config.sip.port, authName: p.password ? p.dn : '', authPassword: p.password, contact: p.dn }],
      ...(applied.speedDials.length ? { speedDials: applied.speedDials.map((d, i) => ({ button: i + 2, ...d })) } : {}),
      loadInformation: this.loadFor(p),
      inactiveLoadInformation: '',
      versionStamp: p.versionStamp,
      deviceSecurityMode: 1,
      transportLayerProtocol: 1,
      userLocale: 'English_United_States',
      networkLocale: 'United_States',
      ...(security ? { security } : {}),
    });
  }

  /** The load a phone's file names: its own, else its model's (Device Defaults over the configuration's map). */
  private loadFor(p: PhoneRecord): string {
    return this.loads.forPhone(p);
  }

  defaultFile(): string {
    const loads = this.loads.defaults().map(({ code, load }) => {
      const model = [...PHONE_MODELS.values()].find((m) => m.code === code);
      return { code, model: model ? `Cisco ${model.name}` : '', load };
    });
    const o = this.onboarding;
    const onboarding = o
      ? o.store.deviceDefaults().filter((d) => d.onboarding === 'activation-code').map((d) => ({ model: `Cisco ${d.model}`, method: 'activationCode' as const, service: o.serviceUrl }))
      : [];
    return writeXmlDefault({ callManagers: this.members(), tvs: this.tvs(), loads, ...(onboarding.length ? { onboarding } : {}) });
  }
}
