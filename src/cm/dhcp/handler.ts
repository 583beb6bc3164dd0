/**
 * One datagram in, at most one reply out: the DHCP server without its socket. It reads the
 * message and decides (request.ts), applies the per-client rate limit (below), changes the
 * leases (address-pool.ts) and builds the reply and its destination (reply.ts). `handle` never
 * throws: a malformed message, or an exception while handling one, is counted and logged at
 * most once a minute per source, and the next datagram is served as if nothing happened.
 *
 * What one peer can make the server do is bounded: messages handled per client (chaddr) per
 * second, and log lines bad input may cost. Every table is capped and the oldest entry makes
 * room for a new one, so a flood of invented MACs or spoofed sources costs a fixed amount of
 * memory and O(1) per packet.
 *
 * Nothing here prints. Log entries carry peer-supplied strings (vendor class, host name) as
 * data; whoever turns them into lines escapes them (log-lines.ts).
 */
import { StormLog } from '../storm-log.ts';
import type { Clock } from '../../common/clock.ts';
import { DhcpMessageType, DhcpOption } from '../../wire/dhcp.ts';
import type { CompanionConfig } from '../config.ts';
import type { CompanionDb, LeaseRecord } from '../db.ts';
import { AddressPool, DECLINE_HOLD_MS } from './address-pool.ts';
import { type ClientRequest, ZERO, decideDiscover, decideRequest, forAnotherServer, informRefusal, readClientRequest, relayRefusal } from './request.ts';
import { type ReplySpec, buildReply, replyDestination, serverParameters } from './reply.ts';
import { setCapped } from '../../common/capped-map.ts';

export interface DhcpLogEntry {
  type: 'discover' | 'request' | 'ack' | 'nak' | 'ignored' | 'release' | 'decline' | 'inform' | 'malformed' | 'rate-limit' | 'error' | 'note';
  /** chaddr as 12 hex digits; empty when the message was not readable. */
  mac: string;
  address?: string;
  detail?: string;
  /** The datagram's source address (a relay's, when relayed; 0.0.0.0 for a client without one). */
  from?: string;
  /** Option 60 as the client sent it: peer data, not escaped. */
  vendorClass?: string;
  /** Option 12 as the client sent it: peer data, not escaped. */
  hostName?: string;
  /** malformed, error: problems from this source so far. */
  count?: number;
}

/** A type, not an interface: status takes it as a Record<string, number>. */
export type DhcpCounters = {
  discover: number;
  offer: number;
  request: number;
  ack: number;
  nak: number;
  ignored: number;
  decline: number;
  release: number;
  inform: number;
  malformed: number;
  rateLimited: number;
  /** Exceptions while handling a message (a bug or the database failing). */
  failed: number;
  /** Replies the kernel refused to send (no route, say). */
  unsent: number;
};

export const newCounters = (): DhcpCounters => ({
  discover: 0, offer: 0, request: 0, ack: 0, nak: 0, ignored: 0, decline: 0, release: 0, inform: 0, malformed: 0, rateLimited: 0, failed: 0, unsent: 0,
});

export interface Outgoing {
  bytes: Buffer;
  address: string;
  port: number;
  /**
   * An ACK that binds a lease: it may leave only once the lease is durable, after the next
   * `DhcpHandler.commit()` (group-commit.ts does that for the service).
   */
  afterCommit?: boolean;
}

/** 51 must be in an OFFER and in an ACK to a REQUEST (RFC 2131 §4.3.1, table 3). */
const LEASE_REQUIRED: ReadonlySet<number> = new Set([DhcpOption.LEASE_TIME]);
const NONE: ReadonlySet<number> = new Set();

// ---- limits ------------------------------------------------------------------------------------

/** Messages handled per chaddr per window; more are dropped. A phone sends a handful per boot. */
export const CLIENT_RATE = { limit: 10, windowMs: 1000 };
/** A source's malformed or failing messages are logged at most once per this. */
export const PROBLEM_LOG_EVERY_MS = 60_000;
/** Log lines about hostile input (malformed, failures, rate limits) per minute, all sources together. */
export const PROBLEM_LINES_PER_MINUTE = 30;
/** Clients or sources remembered at once. */
export const MAX_TRACKED = 4096;

export type RateVerdict = 'pass' | 'drop' | 'first-drop';

/**
 * Fixed windows per key (not limits.ts's token buckets: a burst's first drop is what a log line
 * is wanted for). 'first-drop' is the first drop of a burst.
 */
export class ClientRateWindow {
  private readonly seen = new Map<string, { start: number; count: number; biting: boolean }>();
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly clock: Clock;
  private readonly max: number;

  constructor(clock: Clock, limit = CLIENT_RATE.limit, windowMs = CLIENT_RATE.windowMs, max = MAX_TRACKED) {
    this.clock = clock;
    this.limit = limit;
    this.windowMs = windowMs;
    this.max = max;
  }

  check(key: string): RateVerdict {
    const now = this.clock.now();
    let e = this.seen.get(key);
    if (!e || now - e.start >= this.windowMs) {
      // A burst goes on (no new log line) while the window just past was over the limit too.
      const goingOn = e !== undefined && e.biting && now - e.start < 2 * this.windowMs && e.count > this.limit;
      e = { start: now, count: 0, biting: goingOn };
      setCapped(this.seen, key, e, this.max);
    }
    e.count++;
    if (e.count <= this.limit) return 'pass';
    if (e.biting) return 'drop';
    e.biting = true;
    return 'first-drop';
  }
}

/**
 * Per source: a count of problems, and whether this one may be logged (the first, then one a
 * minute). A global budget caps the lines when many sources misbehave at once (or pretend to).
 */
export class ProblemLog {
  private readonly sources = new Map<string, { count: number; loggedAt: number | undefined }>();
  private readonly clock: Clock;
  private budgetStart = -Infinity;
  private budgetUsed = 0;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Counts a problem from `source`; `log` says whether it deserves a line now. */
  note(source: string): { log: boolean; count: number } {
    const now = this.clock.now();
    const s = this.sources.get(source) ?? { count: 0, loggedAt: undefined };
    s.count++;
    let log = s.loggedAt === undefined || now - s.loggedAt >= PROBLEM_LOG_EVERY_MS;
    if (log) log = this.spend(now);
    if (log) s.loggedAt = now;
    setCapped(this.sources, source, s, MAX_TRACKED);
    return { log, count: s.count };
  }

  /** One line from the global budget (also used for rate-limit lines). */
  spend(now = this.clock.now()): boolean {
    if (now - this.budgetStart >= 60_000) {
      this.budgetStart = now;
      this.budgetUsed = 0;
    }
    if (this.budgetUsed >= PROBLEM_LINES_PER_MINUTE) return false;
    this.budgetUsed++;
    return true;
  }
}

/** Per-client lines go through the companion's one storm budget (../storm-log.ts). */
export const clientStormLog = (log: (e: DhcpLogEntry) => void, clock: Clock): StormLog<DhcpLogEntry> =>
  new StormLog<DhcpLogEntry>({ write: log, summary: (detail) => log({ type: 'note', mac: '', detail }), clock });

// ---- the handler -------------------------------------------------------------------------------

export class DhcpHandler {
  readonly pool: AddressPool;
  private readonly cfg: CompanionConfig;
  private readonly log: (e: DhcpLogEntry) => void;
  /** Per-client lines, through the storm budget. */
  private readonly clientLog: StormLog<DhcpLogEntry>;
  private readonly counters: DhcpCounters;
  private readonly limiter: ClientRateWindow;
  private readonly problems: ProblemLog;
  private readonly onOurNetwork: (ip: string) => boolean;
  private leaseParameters: ReturnType<typeof serverParameters> | undefined;

  constructor(o: { db: CompanionDb; config: CompanionConfig; clock: Clock; log: (e: DhcpLogEntry) => void; counters: DhcpCounters }) {
    this.cfg = o.config;
    this.log = o.log;
    this.clientLog = clientStormLog(o.log, o.clock);
    this.counters = o.counters;
    this.pool = new AddressPool(o.db, o.config, o.clock);
    this.limiter = new ClientRateWindow(o.clock);
    this.problems = new ProblemLog(o.clock);
    this.onOurNetwork = (ip) => this.pool.onPoolNetwork(ip);
  }

  /** Everything one datagram from `from` causes. Never throws. */
  /** A per-client line, through the storm budget, counted by its type. */
  private logClient(e: DhcpLogEntry): void {
    this.clientLog.entry(e.type, e);
  }

  handle(bytes: Uint8Array, from: string): Outgoing | undefined {
    try {
      const r = readClientRequest(bytes);
      if (!r.ok) {
        this.counters.malformed++;
        return this.problem('malformed', from, `malformed DHCP from ${from}: ${r.error.message.replace(/^dhcp: /, '')}`);
      }
      return this.serve(r.value, from);
    } catch (e) {
      this.counters.failed++;
      return this.problem('error', from, `handling DHCP from ${from} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Writes the lease changes made since the last commit in one transaction, in this thread
   * (lease-journal.ts). False when the database refused: the error is counted and logged (once
   * a minute), and the ACKs that waited for this commit must not be sent.
   */
  commit(): boolean {
    try {
      this.pool.journal.commit();
      return true;
    } catch (e) {
      this.writeFailed(e);
      return false;
    }
  }

  /** The lease changes not yet committed, handed to a writer elsewhere (lease-writer.ts). */
  takeWrites(): LeaseRecord[] {
    return this.pool.journal.take();
  }

  /** Writing a batch failed (here or elsewhere): counted and logged like any problem. */
  writeFailed(e: unknown): void {
    this.counters.failed++;
    this.problem('error', 'lease database', `writing leases failed: ${e instanceof Error ? e.message : String(e)}`);
  }

  /** Lease changes not yet committed. */
  get pendingWrites(): number {
    return this.pool.journal.pending;
  }

  /** The kernel would not send a reply (no route, say): counted, logged like a problem. */
  unsent(out: Outgoing, e: Error): void {
    this.counters.unsent++;
    this.problem('error', out.address, `reply to ${out.address}:${out.port} not sent: ${e.message}`);
  }

  /** A problem, logged when the source has not had a line this minute. */
  private problem(type: 'malformed' | 'error', from: string, text: string, mac = ''): undefined {
    try {
      const { log, count } = this.problems.note(from);
      if (log) this.log({ type, mac, from, count, detail: `${text} (${count} so far)` });
    } catch {
      // A failing logger must not take the server down either.
    }
    return undefined;
  }

  private serve(r: ClientRequest, from: string): Outgoing | undefined {
    const verdict = this.limiter.check(r.mac);
    if (verdict !== 'pass') {
      this.counters.rateLimited++;
      if (verdict === 'first-drop' && this.problems.spend()) {
        this.log({ type: 'rate-limit', mac: r.mac, from, detail: `more than ${CLIENT_RATE.limit} messages a second; dropping them until it slows down` });
      }
      return undefined;
    }
    const relay = relayRefusal(r, this.onOurNetwork);
    if (relay) return this.ignore(r, relay);
    switch (r.type) {
      case DhcpMessageType.DISCOVER:
        return this.discover(r, from);
      case DhcpMessageType.REQUEST:
        return this.request(r, from);
      case DhcpMessageType.DECLINE:
        return this.decline(r);
      case DhcpMessageType.RELEASE:
        return this.release(r);
      default:
        return this.inform(r, from);
    }
  }

  private discover(r: ClientRequest, from: string): Outgoing | undefined {
    this.counters.discover++;
    this.logClient({ type: 'discover', mac: r.mac, detail: r.vendorClass, from, vendorClass: r.vendorClass, hostName: r.hostName });
    const d = decideDiscover(this.pool.allocate(r.mac));
    if (d.kind === 'ignore') return this.ignore(r, d.why);
    const out = this.reply(r, from, { type: DhcpMessageType.OFFER, yiaddr: d.address, ciaddr: ZERO, ...this.leaseReply() });
    if (!out) return undefined;
    // Reserved once it is really offered: phones booting together get different addresses.
    this.pool.hold(r.mac, d.address);
    this.counters.offer++;
    return out;
  }

  private request(r: ClientRequest, from: string): Outgoing | undefined {
    this.counters.request++;
    const d = decideRequest(r, this.cfg.address, this.pool.allocate(r.mac));
    if (d.kind === 'ignore') {
      if (d.dropHold) this.pool.dropHold(r.mac);
      return this.ignore(r, d.why);
    }
    if (d.kind === 'nak') {
      this.counters.nak++;
      this.logClient({ type: 'nak', mac: r.mac, address: d.wanted, detail: `${d.why}; ${d.state}`, from });
      return this.reply(r, from, {
        type: DhcpMessageType.NAK, yiaddr: ZERO, ciaddr: ZERO, siaddr: ZERO, serverId: this.cfg.address,
        parameters: [[DhcpOption.MESSAGE, Buffer.from(d.tell, 'latin1')]], required: NONE,
      });
    }
    const out = this.reply(r, from, { type: DhcpMessageType.ACK, yiaddr: d.address, ciaddr: r.ciaddr, ...this.leaseReply() });
    if (!out) return undefined;
    // Bound in memory now (the next client cannot be given it), durable before the ACK leaves:
    // it waits for the journal's commit, so a phone never holds an address the companion forgot.
    this.pool.bind(r.mac, d.address, r.vendorClass);
    this.counters.ack++;
    this.logClient({ type: 'ack', mac: r.mac, address: d.address, detail: d.state, from });
    return { ...out, afterCommit: true };
  }

  private decline(r: ClientRequest): undefined {
    this.counters.decline++;
    const other = forAnotherServer(r, this.cfg.address);
    if (other) return this.ignore(r, other);
    if (r.requested === undefined) return this.ignore(r, 'DECLINE without a requested address');
    if (!this.pool.decline(r.mac, r.requested)) return this.ignore(r, `DECLINE of ${r.requested}, not an address given to this client`);
    this.logClient({ type: 'decline', mac: r.mac, address: r.requested, detail: `in use on the network; not offered for ${DECLINE_HOLD_MS / 1000} s` });
    return undefined;
  }

  private release(r: ClientRequest): undefined {
    this.counters.release++;
    const other = forAnotherServer(r, this.cfg.address);
    if (other) return this.ignore(r, other);
    const released = this.pool.release(r.mac, r.ciaddr);
    this.logClient({ type: 'release', mac: r.mac, address: r.ciaddr, ...(released ? {} : { detail: 'no such lease' }) });
    return undefined;
  }

  private inform(r: ClientRequest, from: string): Outgoing | undefined {
    this.counters.inform++;
    const refused = informRefusal(r, this.onOurNetwork);
    if (refused) return this.ignore(r, refused);
    this.logClient({ type: 'inform', mac: r.mac, address: r.ciaddr, from, vendorClass: r.vendorClass, hostName: r.hostName });
    // §4.3.5: no yiaddr and no lease times; the client keeps the address it has.
    return this.reply(r, from, {
      type: DhcpMessageType.ACK, yiaddr: ZERO, ciaddr: r.ciaddr, siaddr: this.cfg.address, serverId: this.cfg.address,
      parameters: serverParameters(this.cfg, false), required: NONE,
    });
  }

  private leaseReply(): Pick<ReplySpec, 'siaddr' | 'serverId' | 'parameters' | 'required'> {
    // The options depend on the configuration only: encoded once, not per reply.
    this.leaseParameters ??= serverParameters(this.cfg, true);
    return { siaddr: this.cfg.address, serverId: this.cfg.address, parameters: this.leaseParameters, required: LEASE_REQUIRED };
  }

  private reply(r: ClientRequest, from: string, spec: ReplySpec): Outgoing | undefined {
    const bytes = buildReply(r, spec);
    if (!bytes) return this.problem('error', from, `reply to ${r.mac} does not fit the client's size limit`, r.mac);
    return { bytes, ...replyDestination(r, spec.type, this.onOurNetwork) };
  }

  private ignore(r: ClientRequest, why: string): undefined {
    this.counters.ignored++;
    this.logClient({ type: 'ignored', mac: r.mac, detail: why });
    return undefined;
  }
}
