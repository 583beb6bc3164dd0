/**
 * Autoregistration (reference §10 item 5): an unknown phone that registers gets the next free DN
 * of the range and a phone record, then a service-control reset reboots it onto its own file.
 * Two guards keep one host from taking the range for good (issue 7): new phones per source
 * address are rate-limited, and a phone that never comes back on its own file within
 * `abandonAfterSecs` is let go (its DN returns to the range) before the next one is made. The
 * universal templates autoregistration names are applied to the phone as it is made.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../common/clock.ts';
import { modelByCode } from '../wire/models.ts';
import type { CompanionConfig } from './config.ts';
import type { CompanionDb, PhoneRecord } from './db.ts';
import { RateLimiter } from './limits.ts';
import { addAutoRegistered } from './templates/apply.ts';

export type Admission =
  | { kind: 'created'; phone: PhoneRecord; released: string[] }
  | { kind: 'off' }
  | { kind: 'rate-limited' }
  | { kind: 'exhausted' };

export class AutoRegistration {
  private readonly db: CompanionDb;
  private readonly cfg: CompanionConfig['autoRegistration'];
  private readonly clock: Clock;
  private readonly perAddress: RateLimiter;

  constructor(db: CompanionDb, cfg: CompanionConfig['autoRegistration'], clock: Clock) {
    this.db = db;
    this.cfg = cfg;
    this.clock = clock;
    this.perAddress = new RateLimiter({ burst: cfg.perAddressBurst, perMinute: cfg.perAddressPerMinute, clock });
  }

  /** A phone record for an unknown device registering from `address`, or why not. */
  admit(device: { deviceName: string; mac: string; modelCode: number | undefined }, address: string): Admission {
    if (!this.cfg.enabled) return { kind: 'off' };
    if (!this.perAddress.take(address)) return { kind: 'rate-limited' };
    const now = this.clock.now();
    const released = this.db.removeAbandoned(new Date(now - this.cfg.abandonAfterSecs * 1000).toISOString());
    const dn = this.db.nextFreeDn(this.cfg.dnFirst, this.cfg.dnLast);
    if (!dn) return { kind: 'exhausted' };
    const model = device.modelCode !== undefined ? modelByCode(device.modelCode)?.name : undefined;
    const phone: PhoneRecord = {
      deviceName: device.deviceName, mac: device.mac, model: model ?? String(device.modelCode ?? 'unknown'), dn, description: `Auto ${dn}`, password: '',
      autoregistered: true, createdAt: new Date(now).toISOString(), versionStamp: `${now}-${randomBytes(8).toString('hex')}`,
    };
    // The autoregistration templates (System > Cisco Unified CM) dress it: templates/apply.ts.
    return { kind: 'created', phone: addAutoRegistered(this.db, phone), released };
  }
}
