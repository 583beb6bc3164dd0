/**
 * What an admin does for activation-code onboarding (docs/activation.md): Device Defaults per
 * model, end users, a phone's code (new, release, show), the CSV export of outstanding codes,
 * and trusting another lab's manufacturing CA. The web pages and `sepi cm` call these same
 * operations.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';
import { writeFileAtomic } from '../../common/atomic-file.ts';
import { modelByName } from '../../wire/models.ts';
import { formatCode } from '../../wire/activation-code.ts';
import { ACTIVATION_MODELS, activationModelsText, type DeviceActivation } from '../activation/device-activation.ts';
import type { ManufacturingTrust } from '../activation/manufacturing-trust.ts';
import type { ActivationStore } from '../activation/store.ts';
import { writeCsv } from '../bulk/csv.ts';
import type { CompanionDb } from '../db.ts';
import { DIRECTORY_NUMBER, USER_ID, parseDeviceId } from '../device-name.ts';
import { hashSecret } from '../../common/password-hash.ts';
import type { AddUserRequest, AuditView, CodeRequest, EnterpriseRequest, EnterpriseView, CodeView, DeviceDefaultRequest, DeviceDefaultView, ManufacturingCaRequest, Outcome, UserView } from './contract.ts';
import { conflict, invalid, notFound, ok } from './outcome.ts';

export const INITIAL_ADMIN_PASSWORD_FILE = 'initial-admin-password';
export const SHOW_READY_SETTING = 'enterprise.showPhonesReadyToActivate';

export interface OnboardingOperationsDeps {
  db: CompanionDb;
  store: ActivationStore;
  activation: DeviceActivation;
  trust: ManufacturingTrust;
  clock: Clock;
  log: (line: string) => void;
}

const codeView = (c: { deviceName: string; code: string; expiresAt: number }): CodeView => ({ deviceName: c.deviceName, code: formatCode(c.code), expiresAt: new Date(c.expiresAt).toISOString() });

export class OnboardingOperations {
  private readonly d: OnboardingOperationsDeps;

  constructor(deps: OnboardingOperationsDeps) {
    this.d = deps;
  }

  deviceDefaults(): Outcome<DeviceDefaultView[]> {
    return ok(this.d.store.deviceDefaults());
  }

  setDeviceDefault(req: DeviceDefaultRequest): Outcome<DeviceDefaultView> {
    const model = req.model.replace(/^CP-/i, '');
    if (!modelByName(model) && !ACTIVATION_MODELS.has(model)) return invalid('model', `unknown model "${req.model}"`);
    if (req.onboarding === 'activation-code' && !ACTIVATION_MODELS.has(model)) return invalid('model', `the ${model} does not onboard by activation code; models that do: ${activationModelsText}`);
    this.d.store.setOnboarding(model, req.onboarding);
    this.d.log(`admin set Device Defaults ${model}: onboarding ${req.onboarding}`);
    return ok({ model, onboarding: req.onboarding });
  }

  users(): Outcome<UserView[]> {
    return ok(this.d.store.users().map((u) => this.userView(u.id)!));
  }

  addUser(req: AddUserRequest): Outcome<UserView> {
    const { store, clock } = this.d;
    if (!USER_ID.test(req.id)) return invalid('id', 'id must be 1 to 64 letters, digits, ".", "_", "@" or "-"');
    if (req.password.length < 8 || req.password.length > 128) return invalid('password', 'password must be 8 to 128 characters');
    if (req.pin !== undefined && !/^\d{4,16}$/.test(req.pin)) return invalid('pin', 'pin must be 4 to 16 digits');
    if (req.primaryDn !== undefined && !DIRECTORY_NUMBER.test(req.primaryDn)) return invalid('primaryDn', 'primaryDn must be a directory number');
    if ((req.name ?? '').length > 128) return invalid('name', 'name too long (128 characters at most)');
    if (store.user(req.id)) return conflict(`user ${req.id} already exists`);
    store.addUser({ id: req.id, name: req.name ?? '', passwordHash: hashSecret(req.password), pinHash: req.pin ? hashSecret(req.pin) : '', primaryDn: req.primaryDn ?? '', admin: false, createdAt: clock.now() });
    this.d.log(`admin added user ${req.id}`);
    return ok(this.userView(req.id)!);
  }

  /** The device's code, shown again (audited). */
  showCode(device: string, actor = 'admin'): Outcome<CodeView> {
    const name = this.deviceName(device);
    if (!name) return notFound(`no phone ${device}`);
    const c = this.d.activation.show(name, actor);
    return c ? ok(codeView(c)) : notFound(`${name} has no outstanding activation code`);
  }

  code(device: string, req: CodeRequest): Outcome<CodeView | { deviceName: string; released: boolean }> {
    const name = this.deviceName(device);
    if (!name) return notFound(`no phone ${device}`);
    const phone = this.d.db.phone(name)!;
    if (req.action === 'release') {
      const released = this.d.activation.release(name, 'admin');
      this.d.store.setPhoneOnboarding(name, { requiresCode: false });
      this.d.log(`admin released the activation code of ${name}`);
      return ok({ deviceName: name, released });
    }
    if (!ACTIVATION_MODELS.has(phone.model)) return invalid('device', `the ${phone.model} does not onboard by activation code; models that do: ${activationModelsText}`);
    const issued = this.d.activation.issue(name, 'admin');
    this.d.log(`admin generated a new activation code for ${name}`);
    return ok(codeView(issued));
  }

  /** Enterprise parameters of onboarding: Show Phones Ready to Activate (Self-Care), default true. */
  enterprise(): Outcome<EnterpriseView> {
    return ok({ showPhonesReadyToActivate: this.d.db.setting(SHOW_READY_SETTING) !== 'off' });
  }

  setEnterprise(req: EnterpriseRequest): Outcome<EnterpriseView> {
    if (req.showPhonesReadyToActivate !== undefined) {
      this.d.db.setSetting(SHOW_READY_SETTING, req.showPhonesReadyToActivate ? 'on' : 'off');
      this.d.log(`admin set Show Phones Ready to Activate ${req.showPhonesReadyToActivate ? 'on' : 'off'}`);
    }
    return this.enterprise();
  }

  /** The audit log, newest first: every code issued, shown, released or used, every sign-in; never a code. */
  audit(limit = 500): Outcome<AuditView[]> {
    return ok(this.d.store.auditLog(Math.min(Math.max(1, limit), 5000)).map((e) => ({ ...e, at: new Date(e.at).toISOString() })));
  }

  /** Outstanding codes as the CSV Unified CM's "Export Activation Codes" gives (our columns, docs/activation.md). */
  exportCodes(): Outcome<{ csv: string; count: number }> {
    const { db, store } = this.d;
    const rows = this.d.activation.outstanding('admin:export').map((c) => {
      const p = db.phone(c.deviceName);
      return [c.deviceName, p?.description ?? '', p ? `Cisco ${p.model}` : '', store.phoneOnboarding(c.deviceName)?.owner ?? '', formatCode(c.code), new Date(c.expiresAt).toISOString(), c.expiresAt <= this.d.clock.now() ? 'Expired' : 'Active'];
    });
    const header = ['Device Name', 'Description', 'Device Type', 'Owner User ID', 'Activation Code', 'Activation Code Expiry (UTC ISO-8601)', 'Status'];
    return ok({ csv: writeCsv([header, ...rows]), count: rows.length });
  }

  async importManufacturingCa(req: ManufacturingCaRequest): Promise<Outcome<{ subject: string; sha256: string }>> {
    try {
      const ca = await this.d.trust.import(req.pem);
      this.d.log(`admin trusted the manufacturing CA ${ca.subject.replace(/\n/g, ', ')}`);
      return ok({ subject: ca.subject.replace(/\n/g, ', '), sha256: ca.fingerprint256.replace(/:/g, '').toLowerCase() });
    } catch (e) {
      return invalid('pem', `not a CA certificate: ${(e as Error).message}`);
    }
  }

  /**
   * No default password ships: the first start makes the `admin` account with a random one,
   * written to `<data>/initial-admin-password` (0600); the log says where, never what.
   */
  async ensureAdmin(dataDir: string): Promise<void> {
    const { store, clock } = this.d;
    if (store.users().some((u) => u.admin)) return;
    const password = randomBytes(12).toString('base64url');
    const path = `${dataDir}/${INITIAL_ADMIN_PASSWORD_FILE}`;
    await writeFileAtomic(path, `${password}\n`, 0o600);
    store.addUser({ id: 'admin', name: 'Administrator', passwordHash: hashSecret(password), pinHash: '', primaryDn: '', admin: true, createdAt: clock.now() });
    this.d.log(`created the administrator account "admin"; its password is in ${path}`);
  }

  private deviceName(device: string): string | undefined {
    const id = parseDeviceId(device);
    if (!id) return undefined;
    const p = this.d.db.phone(id.name) ?? (id.mac ? this.d.db.phoneByMac(id.mac) : undefined);
    return p?.deviceName;
  }

  private userView(id: string): UserView | undefined {
    const u = this.d.store.user(id);
    return u && { id: u.id, name: u.name, primaryDn: u.primaryDn, hasPin: u.pinHash !== '', admin: u.admin, phones: this.d.store.phonesOwnedBy(u.id) };
  }
}
