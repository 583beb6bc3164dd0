/**
 * Which address a client gets, answered from memory. The leases table in SQLite (db.ts) is the
 * durable record: read once when the server starts, written through the lease journal
 * (lease-journal.ts) in batches, and never read again to serve a request. In memory:
 *
 *  - the leases, indexed by MAC and by address (one lease per address, one per MAC);
 *  - the free addresses, lowest first (free-addresses.ts): never leased, or handed back;
 *  - the leases of the pool by expiry (a min-heap), so a lease that is over — expired, or
 *    released (its expiry set to the moment of release) — is reused, oldest first, once no
 *    free address is left: a client that comes back soon finds its old address still its own,
 *    as RFC 2131 §4.3.1 prefers;
 *  - two short holds, worth nothing after a restart and so never written: an address offered
 *    and not yet requested is held for its client for OFFER_HOLD_MS, so phones booting
 *    together are not offered the same one; an address a client declined (RFC 2131 §4.3.3:
 *    something else answers ARP for it) is not offered to anyone for DECLINE_HOLD_MS (dnsmasq
 *    waits as long). Holds end from a heap by end time, never by a sweep.
 *
 * A MAC's own lease comes first (unless declined or offered meanwhile to another client), then
 * its offer, then the lowest free address, then the lease over longest; the server's own
 * address is never handed out. Every request costs O(log n) in the pool size, whatever the
 * number of leases; nothing scans the pool or the table.
 *
 * Leases are keyed by MAC (chaddr), as the table is; option 61 is echoed but not a key (a Cisco
 * phone sends 61 = 01 + its MAC anyway).
 */
import type { Clock } from '../../common/clock.ts';
import { ipv4ToInt, prefixToMask } from '../../wire/ipv4.ts';
import type { CompanionConfig } from '../config.ts';
import type { CompanionDb, LeaseRecord } from '../db.ts';
import { FreeAddresses } from './free-addresses.ts';
import { LeaseJournal } from './lease-journal.ts';
import { MinHeap } from './min-heap.ts';

/** Dotted quad to number as ipv4ToInt does, without its regular expression: several per request. */
export function toInt(ip: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 0x2e && digits > 0 && parts < 3 && part <= 255) {
      n = n * 256 + part;
      part = 0;
      digits = 0;
      parts++;
    } else if (c >= 0x30 && c <= 0x39 && digits < 3 && !(digits > 0 && part === 0)) {
      part = part * 10 + (c - 0x30);
      digits++;
    } else {
      return ipv4ToInt(ip); // not the plain form: let the strict parser decide (and throw)
    }
  }
  return parts === 3 && digits > 0 && part <= 255 ? n * 256 + part : ipv4ToInt(ip);
}

const toIp = (n: number): string => `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;

export const OFFER_HOLD_MS = 60_000;
export const DECLINE_HOLD_MS = 10 * 60_000;

interface Lease extends LeaseRecord {
  /** The address as a number (the index's key). */
  n: number;
}
type Until = { n: number; until: number };
/** A lease in the expiry heap: current while the index still holds this very object. */
type Expiry = { lease: Lease; until: number };
type Hold = { mac: string; n: number; until: number };

export class AddressPool {
  private readonly cfg: CompanionConfig;
  private readonly clock: Clock;
  readonly journal: LeaseJournal;
  private readonly first: number;
  private readonly last: number;
  private readonly mask: number;
  private readonly self: number;

  private readonly byMac = new Map<string, Lease>();
  private readonly byAddress = new Map<number, Lease>();
  /** MAC -> its offer; address -> the MAC it is offered to. At most one per pool address. */
  private readonly offers = new Map<string, Hold>();
  private readonly offered = new Map<number, string>();
  /** Address -> until when nobody is offered it. Only pool addresses. */
  private readonly declined = new Map<number, number>();
  private readonly free: FreeAddresses;
  /** Pool leases by expiry; an entry whose lease changed since is skipped. */
  private readonly expiries = new MinHeap<Expiry>((a, b) => a.until < b.until || (a.until === b.until && a.lease.n < b.lease.n));
  private readonly offerEnds = new MinHeap<Hold>((a, b) => a.until < b.until);
  private readonly declineEnds = new MinHeap<Until>((a, b) => a.until < b.until);

  constructor(db: CompanionDb, cfg: CompanionConfig, clock: Clock) {
    this.cfg = cfg;
    this.clock = clock;
    this.journal = new LeaseJournal(db.handle);
    this.first = ipv4ToInt(cfg.dhcp.poolFirst);
    this.last = ipv4ToInt(cfg.dhcp.poolLast);
    this.mask = ipv4ToInt(prefixToMask(cfg.prefix));
    this.self = ipv4ToInt(cfg.address);
    this.free = new FreeAddresses(this.first, this.last, (n) => this.held(n));
    for (const l of db.leases()) this.index({ ...l, n: toInt(l.address) });
  }

  /** The address for a MAC: its lease if it has one, else its offer, else a free one. Takes nothing. */
  allocate(mac: string): string | undefined {
    const now = this.clock.now();
    this.endHolds(now);
    const own = this.byMac.get(mac);
    if (own && this.inRange(own.n) && !this.declined.has(own.n) && (this.offered.get(own.n) ?? mac) === mac) return own.address;
    const offer = this.offers.get(mac);
    if (offer) return toIp(offer.n);
    const n = this.free.peek() ?? this.overLease(now);
    return n === undefined ? undefined : toIp(n);
  }

  /**
   * Reserves an offered address for its client. A live lease of the client's needs no hold (no
   * one else is given a live lease's address); a lease that is over does, or another client
   * could be offered it before this one's REQUEST.
   */
  hold(mac: string, address: string): void {
    const n = toInt(address);
    const own = this.byMac.get(mac);
    if (own?.n === n && own.expiresAt > this.clock.now()) return;
    // The same offer again (a retransmitted DISCOVER) holds it longer; another lets the old one go.
    if (this.offers.get(mac)?.n !== n) this.dropHold(mac);
    const h = { mac, n, until: this.clock.now() + OFFER_HOLD_MS };
    this.offers.set(mac, h);
    this.offered.set(n, mac);
    this.offerEnds.push(h);
    // Offers taken up (bound) stay in the heap until their end; past a bound they are swept out.
    if (this.offerEnds.size > 2 * this.offers.size + 1024) this.offerEnds.retain((e) => this.offers.get(e.mac) === e);
  }

  /** The client chose another server: its offer is free for others at once. */
  dropHold(mac: string): void {
    const h = this.offers.get(mac);
    if (!h) return;
    this.offers.delete(mac);
    if (this.offered.get(h.n) === mac) this.offered.delete(h.n);
    this.handedBack(h.n);
  }

  /**
   * Binds the address to the MAC in memory and queues the write; the caller sends the ACK only
   * after the journal's next commit (dhcp-service.ts), so it leaves after the lease is durable.
   */
  bind(mac: string, address: string, vendorClass: string): void {
    const n = toInt(address);
    const offer = this.offers.get(mac);
    if (offer?.n === n) {
      // Its offer becomes its lease: held all along, never handed back in between.
      this.offers.delete(mac);
      this.offered.delete(n);
    } else {
      this.dropHold(mac);
    }
    this.save({ mac, address, state: 'bound', expiresAt: this.clock.now() + this.cfg.dhcp.leaseSecs * 1000, vendorClass, n });
  }

  /** RFC 2131 §4.3.4: the lease ends now, the address stays the client's first choice. */
  release(mac: string, ciaddr: string): boolean {
    const lease = this.byMac.get(mac);
    if (!lease || lease.address !== ciaddr) return false;
    this.save({ ...lease, state: 'released', expiresAt: this.clock.now() });
    return true;
  }

  /**
   * The client found its address in use. Only an address given to this very client may be
   * declined, or any client could take the whole pool out of service by naming addresses.
   */
  decline(mac: string, address: string): boolean {
    if (!this.inPool(address)) return false;
    const n = toInt(address);
    const lease = this.byMac.get(mac);
    const ownLease = lease?.n === n;
    if (!ownLease && this.offers.get(mac)?.n !== n) return false;
    // Held first, so what lets go of the address below does not hand it back.
    const until = this.clock.now() + DECLINE_HOLD_MS;
    this.declined.set(n, until);
    this.declineEnds.push({ n, until });
    if (ownLease) this.save({ ...lease!, state: 'released', expiresAt: this.clock.now() });
    if (this.offers.get(mac)?.n === n) this.dropHold(mac);
    return true;
  }

  /** The lease this server holds for a MAC, as the index has it (written or about to be). */
  lease(mac: string): LeaseRecord | undefined {
    const l = this.byMac.get(mac);
    return l && { mac: l.mac, address: l.address, state: l.state, expiresAt: l.expiresAt, vendorClass: l.vendorClass };
  }

  get size(): { leases: number; offers: number; declined: number } {
    return { leases: this.byMac.size, offers: this.offers.size, declined: this.declined.size };
  }

  /** Entries in the queues (heaps), stale ones included: bounded by the leases and holds, not by time. */
  get backlog(): number {
    return this.expiries.size + this.offerEnds.size + this.declineEnds.size + this.free.backlog;
  }

  inPool(ip: string): boolean {
    return this.inRange(toInt(ip));
  }

  /** On the pool's network: where a relay or an INFORMing client must be for us to answer. */
  onPoolNetwork(ip: string): boolean {
    return ((toInt(ip) & this.mask) >>> 0) === ((this.first & this.mask) >>> 0);
  }

  // ---- the index --------------------------------------------------------------------------------

  private inRange(n: number): boolean {
    return n >= this.first && n <= this.last;
  }

  /** Not free: leased (even if over: that goes through `overLease`), offered, declined, or ours. */
  private held(n: number): boolean {
    return n === this.self || this.byAddress.has(n) || this.offered.has(n) || this.declined.has(n);
  }

  /** Changes the index, queues the write. */
  private save(l: Lease): void {
    this.index(l);
    this.journal.record({ mac: l.mac, address: l.address, state: l.state, expiresAt: l.expiresAt, vendorClass: l.vendorClass });
  }

  /** One lease into the index: the MAC's old address and the address's old MAC let go. */
  private index(l: Lease): void {
    const before = this.byMac.get(l.mac);
    const holder = this.byAddress.get(l.n);
    if (holder && holder.mac !== l.mac) this.byMac.delete(holder.mac);
    this.byMac.set(l.mac, l);
    this.byAddress.set(l.n, l);
    if (before && before.n !== l.n) {
      this.byAddress.delete(before.n);
      this.handedBack(before.n);
    }
    if (this.inRange(l.n)) {
      this.expiries.push({ lease: l, until: l.expiresAt });
      // Renewals leave stale entries behind; past a bound they are swept out, one entry a lease.
      if (this.expiries.size > 2 * this.byAddress.size + 1024) {
        const seen = new Set<Lease>();
        this.expiries.retain((e) => this.current(e) && !seen.has(e.lease) && seen.add(e.lease) !== undefined);
      }
    }
  }

  /** The pool lease over longest whose address nobody holds now, if any. */
  private overLease(now: number): number | undefined {
    for (let e = this.expiries.peek(); e !== undefined; e = this.expiries.peek()) {
      if (!this.current(e)) {
        this.expiries.pop();
        continue;
      }
      // Over at its end: a released lease (its end set to the moment of release) at once.
      if (e.until > now) return undefined;
      const n = e.lease.n;
      // Offered or declined meanwhile: back in the heap when the hold ends (handedBack).
      if (this.offered.has(n) || this.declined.has(n)) {
        this.expiries.pop();
        continue;
      }
      return n;
    }
    return undefined;
  }

  /** The entry is for the lease the index holds on its address now (not one renewed or replaced since). */
  private current(e: Expiry): boolean {
    return this.byAddress.get(e.lease.n) === e.lease;
  }

  /** An address no longer held by an offer, a decline or a lease: back where the pool looks. */
  private handedBack(n: number): void {
    if (!this.inRange(n) || this.offered.has(n) || this.declined.has(n)) return;
    const l = this.byAddress.get(n);
    if (l) this.expiries.push({ lease: l, until: l.expiresAt });
    else if (n !== this.self) this.free.add(n);
  }

  private endHolds(now: number): void {
    for (let h = this.offerEnds.peek(); h && h.until <= now; h = this.offerEnds.peek()) {
      this.offerEnds.pop();
      if (this.offers.get(h.mac) === h) this.dropHold(h.mac);
    }
    for (let d = this.declineEnds.peek(); d && d.until <= now; d = this.declineEnds.peek()) {
      this.declineEnds.pop();
      if (this.declined.get(d.n) === d.until) {
        this.declined.delete(d.n);
        this.handedBack(d.n);
      }
    }
  }
}
