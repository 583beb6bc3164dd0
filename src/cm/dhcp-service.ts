/**
 * The companion's DHCP server: the npm `dhcp` package's server (verified with busybox udhcpc,
 * platform-notes.md B1) doing the protocol work, with what it lacks supplied here:
 *
 *  - Leases kept: the package allocates from an in-memory table. Its `static` setting is
 *    consulted first for every MAC, so a lookup object backed by SQLite does all allocation;
 *    leases therefore survive restarts and one address never goes to two phones.
 *  - RFC 2131 §4.3.2 on REQUEST: the package ACKs every REQUEST. A REQUEST naming another server
 *    is ignored, and one asking for an address this server would not give is NAKed.
 *  - Option 150 (Cisco TFTP servers) is registered with the package's addOption.
 *
 * The package binds 0.0.0.0:67 and always answers to 255.255.255.255:68, so it serves every
 * interface of its network namespace; give the companion its own namespace or interface.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import dhcp, { type DhcpRequest, type DhcpServer } from 'dhcp';
import { type Clock, SystemClock } from '../common/clock.ts';
import { intToIpv4, ipv4ToInt } from '../wire/ipv4.ts';
import type { CompanionConfig } from './config.ts';
import type { CompanionDb } from './db.ts';

export interface DhcpLogEntry {
  type: 'discover' | 'request' | 'ack' | 'nak' | 'ignored' | 'release' | 'error' | 'note';
  mac: string;
  address?: string;
  detail?: string;
}

const macHex = (chaddr: string) => chaddr.replace(/-/g, '').toUpperCase();
const DISCOVER = 1;
const RELEASE = 7;
/** How long an offered address stays reserved for the phone it was offered to. */
const OFFER_HOLD_MS = 60_000;

export class DhcpService {
  private server: DhcpServer | undefined;
  private readonly db: CompanionDb;
  private readonly cfg: CompanionConfig;
  private readonly log: (e: DhcpLogEntry) => void;
  private readonly clock: Clock;
  /** Kept for status: served DISCOVER/REQUEST counts. */
  readonly counters = { discover: 0, request: 0, ack: 0, nak: 0, ignored: 0 };
  private readonly offers = new Map<string, { address: string; until: number }>();

  constructor(db: CompanionDb, cfg: CompanionConfig, log: (e: DhcpLogEntry) => void, clock: Clock = new SystemClock()) {
    this.db = db;
    this.cfg = cfg;
    this.log = log;
    this.clock = clock;
  }

  /** The address for a MAC: its lease if it has one, else the first free pool address. */
  allocate(mac: string): string | undefined {
    const now = this.clock.now();
    const own = this.db.lease(mac);
    if (own && this.inPool(own.address)) return own.address;
    const offered = this.offers.get(mac);
    if (offered && offered.until > now) return offered.address;
    const first = ipv4ToInt(this.cfg.dhcp.poolFirst);
    const last = ipv4ToInt(this.cfg.dhcp.poolLast);
    const held = new Set<string>();
    for (const [m, o] of this.offers) {
      if (o.until <= now) this.offers.delete(m);
      else if (m !== mac) held.add(o.address);
    }
    for (let n = first; n <= last; n++) {
      const ip = intToIpv4(n);
      if (ip === this.cfg.address || held.has(ip)) continue;
      const holder = this.db.leaseAt(ip);
      if (!holder || holder.mac === mac || holder.expiresAt < now) return ip;
    }
    return undefined;
  }

  private inPool(ip: string): boolean {
    const n = ipv4ToInt(ip);
    return n >= ipv4ToInt(this.cfg.dhcp.poolFirst) && n <= ipv4ToInt(this.cfg.dhcp.poolLast);
  }

  /**
   * The package answers to 255.255.255.255 from a socket on 0.0.0.0, and Node cannot bind a
   * socket to a device; without a default route the kernel has no way to send that. A host
   * route for the limited broadcast through the serving interface gives it one.
   */
  async ensureBroadcastRoute(iface: string | undefined): Promise<void> {
    if (!iface) return;
    const run = promisify(execFile);
    try {
      await run('ip', ['route', 'get', '255.255.255.255']);
    } catch {
      try {
        await run('ip', ['route', 'add', '255.255.255.255/32', 'dev', iface]);
        this.log({ type: 'note', mac: '', detail: `added route 255.255.255.255/32 dev ${iface} for DHCP replies` });
      } catch (e) {
        throw new Error(`DHCP replies cannot be sent: no route for 255.255.255.255 and "ip route add 255.255.255.255/32 dev ${iface}" failed (${(e as Error).message.trim()})`);
      }
    }
  }

  /** Listens on 0.0.0.0:67, after making sure replies can leave through `iface`. */
  async start(iface?: string): Promise<void> {
    await this.ensureBroadcastRoute(iface);
    const c = this.cfg.dhcp;
    // addOption writes the package's (process-wide) option table; registering 150 twice is harmless.
    dhcp.addOption(150, { name: 'TFTP server address', type: 'IPs', config: 'tftpServers' });
    const self = this;
    // Read by the package as `static[chaddr]` before its own pool logic runs.
    const leaseLookup = new Proxy({}, { get: (_t, key) => (typeof key === 'string' && /^[0-9A-F]{2}(-[0-9A-F]{2}){5}$/.test(key) ? self.allocate(macHex(key)) : undefined) });
    const server = dhcp.createServer({
      range: [c.poolFirst, c.poolLast],
      static: leaseLookup,
      randomIP: false,
      netmask: intToIpv4((0xffffffff << (32 - this.cfg.prefix)) >>> 0),
      router: [c.router],
      dns: c.dns,
      server: this.cfg.address,
      broadcast: '255.255.255.255',
      leaseTime: c.leaseSecs,
      renewalTime: Math.floor(c.leaseSecs / 2),
      rebindingTime: Math.floor((c.leaseSecs * 7) / 8),
      tftpServer: c.option66,
      tftpServers: c.option150,
      ...(c.domain ? { domainName: c.domain } : {}),
      forceOptions: ['tftpServers', 'tftpServer', 'router', 'netmask', 'leaseTime', 'renewalTime', 'rebindingTime'],
    });
    const libraryHandleRequest = server.handleRequest.bind(server);
    const libraryHandleDiscover = server.handleDiscover.bind(server);
    server.handleRequest = (req: DhcpRequest) => this.guardRequest(server, req, libraryHandleRequest);
    // With the pool exhausted the package would fall back to its own in-memory pool: stay silent.
    server.handleDiscover = (req: DhcpRequest) => {
      const mac = macHex(req.chaddr);
      const ip = this.allocate(mac);
      if (!ip) return this.log({ type: 'ignored', mac, detail: 'pool exhausted' });
      // Reserve the offered address, so phones booting together are not all offered the same
      // one. In memory: an offer is worth nothing after a restart, so it costs no disk write.
      if (this.db.lease(mac)?.address !== ip) this.offers.set(mac, { address: ip, until: this.clock.now() + OFFER_HOLD_MS });
      libraryHandleDiscover(req);
    };
    server.on('message', (req: DhcpRequest) => {
      const type = Number(req.options[53]);
      const mac = macHex(req.chaddr);
      if (type === DISCOVER) {
        this.counters.discover++;
        this.log({ type: 'discover', mac, detail: String(req.options[60] ?? '') });
      } else if (type === RELEASE) {
        const lease = this.db.lease(mac);
        if (lease && lease.address === req.ciaddr) this.db.saveLease({ ...lease, state: 'released', expiresAt: this.clock.now() });
        this.log({ type: 'release', mac, address: req.ciaddr });
      }
    });
    server.on('error', (e: unknown) => this.log({ type: 'error', mac: '', detail: String(e instanceof Error ? e.message : e) }));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(67, '0.0.0.0', () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  private guardRequest(server: DhcpServer, req: DhcpRequest, handle: (r: DhcpRequest) => void): void {
    this.counters.request++;
    const mac = macHex(req.chaddr);
    const serverId = req.options[54] as string | undefined;
    if (serverId && serverId !== this.cfg.address) {
      this.counters.ignored++;
      return this.log({ type: 'ignored', mac, detail: `REQUEST for server ${serverId}` });
    }
    const wanted = (req.options[50] as string | undefined) ?? (req.ciaddr !== '0.0.0.0' ? req.ciaddr : undefined);
    const ours = this.allocate(mac);
    if (!ours || (wanted && wanted !== ours)) {
      this.counters.nak++;
      this.log({ type: 'nak', mac, address: wanted, detail: ours ? `address is ${ours}` : 'pool exhausted' });
      return server.sendNak(req);
    }
    this.offers.delete(mac);
    this.db.saveLease({ mac, address: ours, state: 'bound', expiresAt: this.clock.now() + this.cfg.dhcp.leaseSecs * 1000, vendorClass: String(req.options[60] ?? '') });
    this.counters.ack++;
    this.log({ type: 'ack', mac, address: ours });
    handle(req);
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
