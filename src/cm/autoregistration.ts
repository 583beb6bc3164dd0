/**
 * Autoregistration (reference §10 item 5): an unknown phone that registers gets the next free DN
 * of the range and a phone record, then a service-control reset reboots it onto its own file.
 * Two guards keep one host from taking the range for good (issue 7): new phones per source
 * address are rate-limited, and a phone that never comes back on its own file within
 * `abandonAfterSecs` is let go (its DN returns to the range) before the next one is made. The
 * universal templates autoregistration names are applied to the phone as it is made.
 * In a storm a new phone costs no scan: DNs come from a cursor (dn-cursor.ts), and the search
 * for abandoned phones (a read of the phones table) runs at most once a second — and always
 * before the range is declared full.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../common/clock.ts';
import { modelByCode } from '../wire/models.ts';
import type { CompanionConfig } from './config.ts';
import type { CompanionDb, PhoneRecord } from './db.ts';
import { DnCursor } from './dn-cursor.ts';
import { withDeferredSync } from './deferred-sync.ts';
import { RateLimiter } from './limits.ts';
import { addAutoRegistered } from './templates/apply.ts';

/** How often the abandoned-phone search runs while phones are being admitted. */
const ABANDONED_CHECK_MS = 1000;

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
  private readonly dns: DnCursor;
  private abandonedCheckedAt = -Infinity;

  constructor(db: CompanionDb, cfg: CompanionConfig['autoRegistration'], clock: Clock) {
    this.db = db;
    this.cfg = cfg;
    this.clock = clock;
    this.perAddress = new RateLimiter({ burst: cfg.perAddressBurst, perMinute: cfg.perAddressPerMinute, clock });
    const taken = db.handle.prepare('SELECT 1 FROM phones WHERE dn = ?');
    const all = db.handle.prepare('SELECT dn FROM phones');
    this.dns = new DnCursor(cfg.dnFirst, cfg.dnLast, {
      taken: (dn) => taken.get(dn) !== undefined,
      all: () => (all.all() as Array<{ dn: string }>).map((r) => String(r.dn)),
    });
  }

  /** Lets abandoned phones go (at most once a second unless `now` is forced); their DNs are given again first. */
  private releaseAbandoned(now: number, force: boolean): string[] {
    if (!force && now - this.abandonedCheckedAt < ABANDONED_CHECK_MS) return [];
    this.abandonedCheckedAt = now;
    const released = this.db.removeAbandoned(new Date(now - this.cfg.abandonAfterSecs * 1000).toISOString());
    if (released.length) this.dns.rewind();
    return released;
  }

  /** A phone record for an unknown device registering from `address`, or why not. */
  admit(device: { deviceName: string; mac: string; modelCode: number | undefined }, address: string): Admission {
    if (!this.cfg.enabled) return { kind: 'off' };
    if (!this.perAddress.take(address)) return { kind: 'rate-limited' };
    const now = this.clock.now();
    const released = this.releaseAbandoned(now, false);
    let dn = this.dns.take();
    if (!dn) {
      // Full: the phones abandoned within the last second may make room.
      released.push(...this.releaseAbandoned(now, true));
      dn = this.dns.take();
    }
    if (!dn) return { kind: 'exhausted' };
    const model = device.modelCode !== undefined ? modelByCode(device.modelCode)?.name : undefined;
    const phone: PhoneRecord = {
      deviceName: device.deviceName, mac: device.mac, model: model ?? String(device.modelCode ?? 'unknown'), dn, description: `Auto ${dn}`, password: '',
      autoregistered: true, createdAt: new Date(now).toISOString(), versionStamp: `${now}-${randomBytes(8).toString('hex')}`,
    };
    // The autoregistration templates (System > Cisco Unified CM) dress it: templates/apply.ts.
    // Its fsync rides on the commit of its binding, which the 200 waits for (deferred-sync.ts).
    return { kind: 'created', phone: withDeferredSync(this.db.handle, () => addAutoRegistered(this.db, phone)), released };
  }
}
