/**
 * The phones an admin manages: list, show, add, remove, and reset or restart a registered one
 * (a `service-control` NOTIFY through the registrar). A phone is named by its device name; a
 * caller may write it in any of the forms device-name.ts accepts.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';
import { modelByName } from '../../wire/models.ts';
import type { CompanionConfig, SeedPhone } from '../config.ts';
import type { CompanionDb, PhoneRecord } from '../db.ts';
import { type DeviceId, DIRECTORY_NUMBER as DN, parseDeviceId } from '../device-name.ts';
import { hashSecret } from '../../common/password-hash.ts';
import { formatCode } from '../../wire/activation-code.ts';
import { ACTIVATION_MODELS, activationModelsText, type DeviceActivation } from '../activation/device-activation.ts';
import type { ActivationStore } from '../activation/store.ts';
import type { AddPhoneRequest, AppliedTemplatesView, CertificateRequest, Failure, MacRequest, Outcome, PhoneCertificateView, PhoneView, ResetAnswer, ResetRequest } from './contract.ts';
import { DEFAULT_APPLIED, UniversalTemplateStore } from '../templates/store.ts';
import { conflict, invalid, notFound, ok, unavailable } from './outcome.ts';

/** What sends the NOTIFY: the registrar, when SIP runs. */
export interface ServiceControl {
  sendServiceControl(device: string, action: 'reset' | 'restart'): Promise<ResetAnswer>;
}

export interface PhoneOperationsDeps {
  db: CompanionDb;
  config: CompanionConfig;
  clock: Clock;
  log: (line: string) => void;
  serviceControl: ServiceControl | undefined;
  /** Activation-code onboarding, when the companion runs the Device Activation Service. */
  onboarding?: { store: ActivationStore; activation: DeviceActivation };
}


export class PhoneOperations {
  private readonly d: PhoneOperationsDeps;
  /** What universal templates gave each phone, shown with it. */
  private readonly templates: UniversalTemplateStore;

  constructor(deps: PhoneOperationsDeps) {
    this.d = deps;
    this.templates = new UniversalTemplateStore(deps.db);
  }

  list(): Outcome<PhoneView[]> {
    return ok(this.d.db.phones().map((p) => this.view(p)));
  }

  show(id: string): Outcome<PhoneView> {
    const p = this.find(id);
    return p ? ok(this.view(p)) : notFound(`no phone ${id}`);
  }

  add(req: AddPhoneRequest): Outcome<PhoneView> {
    const { db, config, clock } = this.d;
    const onboarding = this.d.onboarding;
    if (req.requireActivationCode) {
      if (!onboarding) return unavailable('activation codes need the Device Activation Service (security mode itl or mixed)');
      if (!ACTIVATION_MODELS.has(req.model)) return invalid('model', `the ${req.model} does not onboard by activation code; models that do: ${activationModelsText}`);
    }
    if (req.owner !== undefined && !onboarding?.store.user(req.owner)) return invalid('owner', `no user ${req.owner}`);
    const id = req.requireActivationCode && req.mac === undefined && req.deviceName === undefined ? this.newBatName() : this.identity(req);
    if ('kind' in id) return id;
    if (!modelByName(req.model)) return invalid('model', `model must be one of the known models, not "${req.model}"`);
    if (db.phone(id.name) || (id.mac && db.phoneByMac(id.mac))) return conflict(`${id.name} already exists`);
    const a = config.autoRegistration;
    const dn = req.dn === undefined || req.dn === '' ? db.nextFreeDn(a.dnFirst, a.dnLast) : req.dn;
    if (!dn) return invalid('dn', `no free directory number in ${a.dnFirst}-${a.dnLast}`);
    if (!DN.test(dn)) return invalid('dn', `dn "${dn}" is not a directory number`);
    const holder = db.phoneByDn(dn);
    if (holder) return conflict(`directory number ${dn} belongs to ${holder.deviceName}`);
    const description = req.description ?? '';
    const password = req.password ?? '';
    if (description.length > 128) return invalid('description', 'description too long (128 characters at most)');
    if (password.length > 64) return invalid('password', 'password too long (64 characters at most)');
    const now = clock.now();
    const record: PhoneRecord = {
      deviceName: id.name, mac: id.mac ?? null, model: req.model, dn, description, password, autoregistered: false,
      createdAt: new Date(now).toISOString(), versionStamp: `${now}-${randomBytes(8).toString('hex')}`,
    };
    db.addPhone(record);
    this.d.log(`admin added ${id.name} (${req.model}) with DN ${dn}${req.requireActivationCode ? ', activation code required' : ''}`);
    if (onboarding && req.owner !== undefined) onboarding.store.setPhoneOnboarding(id.name, { owner: req.owner });
    const issued = req.requireActivationCode ? onboarding!.activation.issue(id.name, 'admin') : undefined;
    return ok({ ...this.view(record), ...(issued ? { activationCode: { deviceName: issued.deviceName, code: formatCode(issued.code), expiresAt: new Date(issued.expiresAt).toISOString() } } : {}) });
  }

  /**
   * The MAC field edited, as on CUCM's phone page: typing a MAC turns `BAT…` into `SEP<MAC>`
   * (its code now tied to that MAC); blanking it turns `SEP…` into a new `BAT…` (its code, if it
   * waits for one, now good for any phone of the model — a damaged phone replaced).
   */
  setMac(id: string, req: MacRequest): Outcome<PhoneView> {
    const { db, clock } = this.d;
    const p = this.find(id);
    if (!p) return notFound(`no phone ${id}`);
    let to: DeviceId;
    if (req.mac === null || req.mac === '') {
      if (!p.mac) return ok(this.view(p));
      to = this.newBatName();
    } else {
      const parsed = parseDeviceId(req.mac);
      if (!parsed?.mac) return invalid('mac', 'mac must be a MAC address (001122334455, 00:11:22:33:44:55 or SEP001122334455), or null to blank it');
      if (parsed.mac === p.mac) return ok(this.view(p));
      const holder = db.phoneByMac(parsed.mac) ?? db.phone(parsed.name);
      if (holder) return conflict(`${parsed.mac} belongs to ${holder.deviceName}`);
      to = parsed;
    }
    db.renamePhone(p.deviceName, to.name, to.mac ?? null, `${clock.now()}-${randomBytes(8).toString('hex')}`);
    this.d.log(`admin renamed ${p.deviceName} to ${to.name}`);
    return ok(this.view(db.phone(to.name)!));
  }

  /** A dummy device name no phone has: what CUCM makes when the MAC field is left blank. */
  private newBatName(): DeviceId {
    for (;;) {
      const name = `BAT${randomBytes(6).toString('hex').toUpperCase()}`;
      if (!this.d.db.phone(name)) return { name, mac: undefined };
    }
  }

  /** The configuration's `phones`, added when their MAC is not known yet; a refusal stops the start. */
  seed(phones: readonly SeedPhone[]): void {
    for (const [i, p] of phones.entries()) {
      const added = this.d.db.phoneByMac(p.mac) ? undefined : this.add(p);
      if (added && added.kind !== 'ok') throw new Error(`phones[${i}] in the configuration: ${added.message}`);
    }
  }

  remove(id: string): Outcome<{ deviceName: string }> {
    const p = this.find(id);
    if (!p) return notFound(`no phone ${id}`);
    this.d.db.removePhone(p.deviceName);
    this.d.log(`admin removed ${p.deviceName}`);
    return ok({ deviceName: p.deviceName });
  }

  /** Sends the NOTIFY and waits for the phone's answer (up to 10 s). */
  async reset(id: string, req: ResetRequest = {}): Promise<Outcome<ResetAnswer>> {
    const p = this.find(id);
    if (!p) return notFound(`no phone ${id}`);
    const sc = this.d.serviceControl;
    if (!sc) return unavailable('the SIP registrar is not running');
    const r = await sc.sendServiceControl(p.deviceName, req.action ?? 'reset');
    return r.ok ? ok(r) : unavailable(`${p.deviceName}: ${r.detail}`);
  }

  /**
   * Changes a phone's certificate settings; an operation takes effect when the phone next reads
   * its configuration file (a reset sends it there). The authentication string is kept hashed.
   */
  certificate(id: string, req: CertificateRequest): Outcome<PhoneView> {
    const { db, config, clock } = this.d;
    const p = this.find(id);
    if (!p) return notFound(`no phone ${id}`);
    const now = db.certificate(p.deviceName)!;
    const operation = req.operation ?? now.operation;
    const auth = req.auth ?? now.auth;
    if (operation !== 'none' && config.security.mode === 'none') return unavailable('CAPF runs only with security mode itl or mixed (the phone must trust the CAPF certificate)');
    if (req.authString !== undefined && !/^\d{4,10}$/.test(req.authString)) return invalid('authString', 'authString must be 4 to 10 digits (it is typed on the phone\'s keypad)');
    const authStringHash = req.authString !== undefined ? hashSecret(req.authString) : auth === now.auth ? now.authStringHash : '';
    if (operation !== 'none' && auth === 'string' && !authStringHash) return invalid('authString', 'authString is needed for auth "string"');
    if (operation !== 'none' && auth === 'lsc' && !now.lsc && !now.lscPending) return invalid('auth', `${p.deviceName} has no LSC to authenticate with; use auth "string" or "null-string"`);
    const next = { operation, auth, authStringHash: auth === 'string' ? authStringHash : '', keySize: req.keySize ?? now.keySize, encryptedConfig: req.encryptedConfig ?? now.encryptedConfig };
    db.setCertificate(p.deviceName, next, `${clock.now()}-${randomBytes(8).toString('hex')}`);
    this.d.log(`admin set ${p.deviceName} certificate: operation ${next.operation}, auth ${next.auth}, RSA ${next.keySize}, encrypted configuration ${next.encryptedConfig ? 'on' : 'off'}`);
    return ok(this.view(db.phone(p.deviceName)!));
  }

  /** The device a request names: by MAC, by device name, or both when they agree. */
  private identity(req: AddPhoneRequest): DeviceId | Failure {
    const byMac = req.mac === undefined ? undefined : parseDeviceId(req.mac);
    if (req.mac !== undefined && (!byMac || !byMac.mac)) return invalid('mac', 'mac must be a MAC address (001122334455, 00:11:22:33:44:55 or SEP001122334455)');
    if (req.deviceName === undefined) return byMac ?? invalid('mac', 'mac (or deviceName) is missing');
    const byName = /^(sep|bat)/i.test(req.deviceName) ? parseDeviceId(req.deviceName) : undefined;
    if (!byName) return invalid('deviceName', 'deviceName must be SEP or BAT and 12 hex digits');
    if (byMac && byMac.name !== byName.name) return invalid('deviceName', `deviceName ${byName.name} does not match mac ${byMac.mac}`);
    return byName;
  }

  private find(id: string): PhoneRecord | undefined {
    const dev = parseDeviceId(id);
    if (!dev) return undefined;
    return this.d.db.phone(dev.name) ?? (dev.mac ? this.d.db.phoneByMac(dev.mac) : undefined);
  }

  private view(p: PhoneRecord): PhoneView {
    const { db, clock } = this.d;
    const reg = db.registration(p.deviceName);
    const lease = p.mac ? db.lease(p.mac) : undefined;
    // In the order `sepi cm phone show` has always printed them.
    return {
      mac: p.mac, model: p.model, dn: p.dn, description: p.description, autoregistered: p.autoregistered,
      createdAt: p.createdAt, versionStamp: p.versionStamp, deviceName: p.deviceName,
      hasPassword: p.password !== '',
      registered: !!reg && reg.expiresAt > clock.now(),
      ...(reg ? { registeredFrom: reg.source } : {}),
      ...(reg?.activeLoad ? { activeLoad: reg.activeLoad } : {}),
      ...(lease?.state === 'bound' ? { lease: lease.address } : {}),
      certificate: this.certificateView(p.deviceName),
      ...this.onboardingView(p.deviceName),
      ...this.templatesView(p.deviceName),
    };
  }

  private templatesView(deviceName: string): { templates?: AppliedTemplatesView } {
    const a = this.templates.applied(deviceName);
    return a === DEFAULT_APPLIED ? {} : { templates: a };
  }

  private onboardingView(deviceName: string): { owner?: string; requiresActivationCode: boolean } {
    const o = this.d.onboarding?.store.phoneOnboarding(deviceName);
    return { ...(o?.owner ? { owner: o.owner } : {}), requiresActivationCode: o?.requiresCode ?? false };
  }

  private certificateView(deviceName: string): PhoneCertificateView {
    const c = this.d.db.certificate(deviceName)!;
    const lsc = c.lsc ? new X509Certificate(c.lsc) : undefined;
    return {
      operation: c.operation, auth: c.auth, keySize: c.keySize, encryptedConfig: c.encryptedConfig,
      encryptedNow: c.encryptedConfig && !!lsc && this.d.config.security.mode !== 'none',
      ...(lsc ? { lsc: { subject: lsc.subject.replace(/\n/g, ', '), serial: lsc.serialNumber.toLowerCase(), notAfter: new Date(lsc.validTo).toISOString() } } : {}),
    };
  }
}
