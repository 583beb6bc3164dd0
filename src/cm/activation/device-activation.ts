/**
 * The Device Activation Service's decisions (what Unified CM calls "Cisco Device Activation
 * Service"): issuing, showing and releasing codes, and activating a phone that presents one.
 * The HTTPS front (activation-service.ts) checks the phone's MIC and hands the verified MAC and
 * model here; the admin operations and the Self-Care pages call the same methods.
 *
 * Activation checks, in order: the lockouts (per phone MAC and per source address), the code's
 * format (check digit), that it exists, that it has not expired, and that it is for this phone:
 * a `BAT…` device takes any phone of its model, a `SEP<MAC>` device only that MAC. Then, in one
 * transaction, the code is consumed and the device becomes `SEP<MAC>`. Every attempt and every
 * time a code is shown goes to the audit log — never the code itself.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';
import type { CompanionDb, PhoneRecord } from '../db.ts';
import { codeHash, deriveCode, normalizeCode } from '../../wire/activation-code.ts';
import { Lockout } from './lockout.ts';
import type { ActivationStore } from './store.ts';

export const CODE_KEY_LABEL = 'sepi activation codes v1';

/** The models Unified CM 12.5(1)SU1 onboards by activation code (the source document's list). */
export const ACTIVATION_MODELS: ReadonlySet<string> = new Set(['7811', '7821', '7832', '7841', '7861', '8811', '8832', '8832NR', '8841', '8845', '8851', '8851NR', '8861', '8865', '8865NR']);
export const activationModelsText = [...ACTIVATION_MODELS].join(', ');
const MAX_FAILURES = 5;
const LOCK_MS = 15 * 60_000;

export type ActivationRefusal = 'invalid_code' | 'expired' | 'model_mismatch' | 'mac_mismatch' | 'mac_in_use' | 'rate_limited';

export type ActivationOutcome =
  | { kind: 'activated'; deviceName: string; previousName: string }
  | { kind: 'refused'; reason: ActivationRefusal; retryAfterSecs?: number };

export interface IssuedCode {
  deviceName: string;
  code: string;
  expiresAt: number;
}

export class DeviceActivation {
  private readonly db: CompanionDb;
  private readonly store: ActivationStore;
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly key: Buffer;
  private readonly lockout: Lockout;
  private readonly log: (line: string) => void;

  constructor(o: { db: CompanionDb; store: ActivationStore; clock: Clock; ttlHours: number; log: (line: string) => void }) {
    this.db = o.db;
    this.store = o.store;
    this.clock = o.clock;
    this.ttlMs = o.ttlHours * 3_600_000;
    this.key = o.db.secrets.subkey(CODE_KEY_LABEL);
    this.lockout = new Lockout({ maxFailures: MAX_FAILURES, lockMs: LOCK_MS, clock: o.clock });
    this.log = o.log;
  }

  /** A new code for the device (any earlier one is no longer good). */
  issue(deviceName: string, actor: string): IssuedCode {
    const now = this.clock.now();
    const salt = randomBytes(16);
    const code = deriveCode(this.key, salt);
    const expiresAt = now + this.ttlMs;
    this.store.putCode({ deviceName, salt: salt.toString('base64'), codeHash: codeHash(this.key, code), createdAt: now, expiresAt });
    this.store.setPhoneOnboarding(deviceName, { requiresCode: true });
    this.store.audit({ at: now, actor, action: 'code-issued', device: deviceName, source: '', result: `expires ${new Date(expiresAt).toISOString()}` });
    return { deviceName, code, expiresAt };
  }

  /** The outstanding code of a device, shown again (to its owner, or an admin), and audited. */
  show(deviceName: string, actor: string, source = ''): IssuedCode | undefined {
    const c = this.store.code(deviceName);
    if (!c) return undefined;
    this.store.audit({ at: this.clock.now(), actor, action: 'code-viewed', device: deviceName, source, result: '' });
    return { deviceName, code: deriveCode(this.key, Buffer.from(c.salt, 'base64')), expiresAt: c.expiresAt };
  }

  /** Every outstanding code, for the CSV export (audited as one view per device). */
  outstanding(actor: string): IssuedCode[] {
    return this.store.codes().map((c) => this.show(c.deviceName, actor)!).filter(Boolean);
  }

  release(deviceName: string, actor: string): boolean {
    const gone = this.store.releaseCode(deviceName);
    if (gone) this.store.audit({ at: this.clock.now(), actor, action: 'code-released', device: deviceName, source: '', result: '' });
    return gone;
  }

  /**
   * A phone presents a code. `mac` and `model` are what its verified MIC says; `source` is its
   * address. Refusals say why, as the phone shows them; a lockout says for how long.
   */
  activate(o: { code: string; mac: string; model: string; source: string }): ActivationOutcome {
    const now = this.clock.now();
    const actor = `phone:${o.mac}`;
    const keys = [`mac:${o.mac}`, `addr:${o.source}`];
    const locked = Math.max(...keys.map((k) => this.lockout.remainingMs(k)));
    const refuse = (reason: ActivationRefusal, device = '', counts = true): ActivationOutcome => {
      let lockedNow = false;
      if (counts) for (const k of keys) lockedNow = this.lockout.fail(k) || lockedNow;
      this.store.audit({ at: now, actor, action: 'activation', device, source: o.source, result: reason });
      if (lockedNow) this.log(`limit activation ${o.mac} from ${o.source}: ${MAX_FAILURES} wrong codes, locked out for ${LOCK_MS / 60_000} minutes`);
      return { kind: 'refused', reason };
    };
    if (locked > 0) {
      this.store.audit({ at: now, actor, action: 'activation', device: '', source: o.source, result: 'rate_limited' });
      return { kind: 'refused', reason: 'rate_limited', retryAfterSecs: Math.ceil(locked / 1000) };
    }
    const code = normalizeCode(o.code);
    if (!code.ok) return refuse('invalid_code');
    const row = this.store.codeByHash(codeHash(this.key, code.value));
    if (!row) return refuse('invalid_code');
    const phone = this.db.phone(row.deviceName);
    if (!phone) return refuse('invalid_code');
    if (row.expiresAt <= now) return refuse('expired', row.deviceName, false);
    const mismatch = this.mismatch(phone, o.mac, o.model);
    if (mismatch) return refuse(mismatch, row.deviceName);
    const taken = this.db.phoneByMac(o.mac);
    if (taken && taken.deviceName !== row.deviceName) return refuse('mac_in_use', row.deviceName, false);
    const done = this.store.consume(row, o.mac, `${now}-${randomBytes(8).toString('hex')}`);
    // The other of two phones racing with one code finds it gone, as if it never was.
    if (!done) return refuse('invalid_code', row.deviceName);
    for (const k of keys) this.lockout.succeed(k);
    this.store.audit({ at: now, actor, action: 'activation', device: done.deviceName, source: o.source, result: row.deviceName === done.deviceName ? 'activated' : `activated (was ${row.deviceName})` });
    this.log(`activation ${row.deviceName} → ${done.deviceName} (${o.model}) from ${o.source}`);
    return { kind: 'activated', deviceName: done.deviceName, previousName: row.deviceName };
  }

  private mismatch(phone: PhoneRecord, mac: string, model: string): ActivationRefusal | undefined {
    if (phone.mac) return phone.mac === mac ? undefined : 'mac_mismatch';
    return phone.model === model ? undefined : 'model_mismatch';
  }
}
