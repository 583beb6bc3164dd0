/**
 * Which address a client gets. Leases live in SQLite (db.ts), so they survive restarts and one
 * address never goes to two phones; two short holds live in memory, because after a restart
 * they are worth nothing and so cost no disk write:
 *
 *  - an address offered and not yet requested is held for its client for OFFER_HOLD_MS, so
 *    phones booting together are not all offered the same one;
 *  - an address a client declined (RFC 2131 §4.3.3: something else answers ARP for it) is not
 *    offered to anyone for DECLINE_HOLD_MS (dnsmasq waits as long).
 *
 * A MAC's own lease comes first, then its offer, then the first pool address that no live lease,
 * other client's offer or decline holds; the server's own address is never handed out.
 */
import type { Clock } from '../../common/clock.ts';
import { intToIpv4, ipv4ToInt, prefixToMask } from '../../wire/ipv4.ts';
import type { CompanionConfig } from '../config.ts';
import type { CompanionDb } from '../db.ts';

export const OFFER_HOLD_MS = 60_000;
export const DECLINE_HOLD_MS = 10 * 60_000;

export class AddressPool {
  private readonly db: CompanionDb;
  private readonly cfg: CompanionConfig;
  private readonly clock: Clock;
  /** MAC -> the address offered to it. At most one per pool address, so bounded by the pool. */
  private readonly offers = new Map<string, { address: string; until: number }>();
  /** Address -> until when nobody is offered it. Only pool addresses, so bounded by the pool. */
  private readonly declined = new Map<string, number>();
  private readonly first: number;
  private readonly last: number;
  private readonly mask: number;

  constructor(db: CompanionDb, cfg: CompanionConfig, clock: Clock) {
    this.db = db;
    this.cfg = cfg;
    this.clock = clock;
    this.first = ipv4ToInt(cfg.dhcp.poolFirst);
    this.last = ipv4ToInt(cfg.dhcp.poolLast);
    this.mask = ipv4ToInt(prefixToMask(cfg.prefix));
  }

  /** The address for a MAC: its lease if it has one, else its offer, else the first free one. */
  allocate(mac: string): string | undefined {
    const now = this.clock.now();
    this.forgetExpired(now);
    const own = this.db.lease(mac);
    if (own && this.inPool(own.address) && !this.declined.has(own.address)) return own.address;
    const offered = this.offers.get(mac);
    if (offered) return offered.address;
    const held = new Set<string>(this.declined.keys());
    for (const o of this.offers.values()) held.add(o.address);
    const leases = new Map(this.db.leases().map((l) => [l.address, l]));
    for (let n = this.first; n <= this.last; n++) {
      const ip = intToIpv4(n);
      if (ip === this.cfg.address || held.has(ip)) continue;
      const holder = leases.get(ip);
      if (!holder || holder.mac === mac || holder.expiresAt < now) return ip;
    }
    return undefined;
  }

  /** Reserves an offered address for its client (nothing to do when it is the client's lease). */
  hold(mac: string, address: string): void {
    if (this.db.lease(mac)?.address !== address) this.offers.set(mac, { address, until: this.clock.now() + OFFER_HOLD_MS });
  }

  /** The client chose another server: its offer is free for others at once. */
  dropHold(mac: string): void {
    this.offers.delete(mac);
  }

  /** Saves the lease (durably: synchronous=FULL) before the ACK leaves. */
  bind(mac: string, address: string, vendorClass: string): void {
    this.db.saveLease({ mac, address, state: 'bound', expiresAt: this.clock.now() + this.cfg.dhcp.leaseSecs * 1000, vendorClass });
    this.offers.delete(mac);
  }

  /** RFC 2131 §4.3.4: the lease ends now, the address stays the client's first choice. */
  release(mac: string, ciaddr: string): boolean {
    const lease = this.db.lease(mac);
    if (!lease || lease.address !== ciaddr) return false;
    this.db.saveLease({ ...lease, state: 'released', expiresAt: this.clock.now() });
    return true;
  }

  /**
   * The client found its address in use. Only an address given to this very client may be
   * declined, or any client could take the whole pool out of service by naming addresses.
   */
  decline(mac: string, address: string): boolean {
    if (!this.inPool(address)) return false;
    const lease = this.db.lease(mac);
    if (lease?.address === address) this.db.saveLease({ ...lease, state: 'released', expiresAt: this.clock.now() });
    else if (this.offers.get(mac)?.address === address) this.offers.delete(mac);
    else return false;
    this.declined.set(address, this.clock.now() + DECLINE_HOLD_MS);
    return true;
  }

  inPool(ip: string): boolean {
    const n = ipv4ToInt(ip);
    return n >= this.first && n <= this.last;
  }

  /** On the pool's network: where a relay or an INFORMing client must be for us to answer. */
  onPoolNetwork(ip: string): boolean {
    return ((ipv4ToInt(ip) & this.mask) >>> 0) === ((this.first & this.mask) >>> 0);
  }

  private forgetExpired(now: number): void {
    for (const [mac, o] of this.offers) if (o.until <= now) this.offers.delete(mac);
    for (const [ip, until] of this.declined) if (until <= now) this.declined.delete(ip);
  }
}
