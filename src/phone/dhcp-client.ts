/**
 * The phone's own DHCPv4 client (RFC 2131). The npm `dhcp` package's client cannot do this job
 * (platform-notes.md B1: broadcast flag stuck at 0, no options 50/54 in REQUEST, option 61 sent
 * as text, xid 1 for every client and replies never matched, no retransmission, no T1/T2), so
 * this is written from the RFC:
 *
 *   INIT-REBOOT --REQUEST(50)--> REBOOTING --ACK--> BOUND        (a stored lease is offered again)
 *        | NAK / no answer and lease expired                  |
 *        v                                                   T1 --> RENEWING --T2--> REBINDING
 *   INIT --DISCOVER--> SELECTING --OFFER/REQUEST(50,54)--> REQUESTING --ACK--> BOUND
 *
 * Every transaction has its own random xid and a reply counts only when op, xid and chaddr all
 * match, so many phones in one process or on one segment never take each other's answers.
 * Retransmission follows §4.1: 4 s doubling to 64 s, randomised by ±1 s.
 */
import { randomInt } from 'node:crypto';
import {
  BROADCAST_FLAG, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, type DhcpMessage, DhcpMessageType, DhcpOption,
  clientIdOption, decodeDhcp, encodeDhcp, readIpList, readMessageType, readText, readU32,
} from '../wire/dhcp.ts';
import { maskToPrefix, ipv4ToInt } from '../wire/ipv4.ts';
import type { MacAddress } from '../wire/mac.ts';
import type { Clock } from '../common/clock.ts';
import { WAIT_ENDED } from '../common/abort.ts';
import type { NetworkPort, UdpEndpoint } from './ports.ts';

export interface DhcpLease {
  address: string;
  mask: string;
  prefix: number;
  routers: string[];
  dns: string[];
  domain: string | undefined;
  serverId: string;
  /** siaddr, the BOOTP "next server": the TFTP server of last resort. */
  nextServer: string;
  /** Option 150, in order. */
  tftpServers: string[];
  /** Option 66: an address or a name. */
  tftpServerName: string | undefined;
  /**
   * Options 159 and 160 (Multiplatform provisioning: a profile URL or rule), when asked for and
   * given. Absent on leases an enterprise phone takes, and on leases stored before they existed.
   */
  option159?: string;
  option160?: string;
  leaseSecs: number;
  t1Secs: number;
  t2Secs: number;
  /** Wall-clock ms when the ACK arrived. */
  boundAt: number;
}

export type DhcpEvent =
  | { kind: 'send'; type: string; attempt: number; to: string }
  | { kind: 'offer'; from: string; address: string }
  | { kind: 'ack'; from: string; address: string; leaseSecs: number }
  | { kind: 'nak'; from: string; message: string }
  | { kind: 'ignored'; reason: string }
  | { kind: 'no-answer'; type: string; attempts: number }
  | { kind: 'reuse'; address: string; remainingSecs: number };

export type DhcpFailure = { reason: 'no-offer' | 'no-ack' | 'nak' | 'send-failed'; message: string };

export interface DhcpClientOptions {
  mac: MacAddress;
  vendorClass: string;
  hostName: string;
  network: NetworkPort;
  clock: Clock;
  onEvent: (e: DhcpEvent) => void;
  /**
   * When the kernel does not own the leased address (emulated phones), a unicast ACK to ciaddr
   * would never arrive, so renewals go out broadcast without ciaddr, as a rebooting client's do.
   */
  renewByBroadcast: boolean;
  /** DISCOVERs before giving up one round (the firmware starts another round after a pause). */
  discoverAttempts?: number;
  requestAttempts?: number;
  /** Options asked for beyond the Cisco phone's list (a Multiplatform phone adds 159 and 160). */
  extraRequested?: readonly number[];
  initialTimeoutMs?: number;
}

/** What a Cisco phone asks for: mask, router, DNS, domain, TFTP server name, TFTP server list. */
export const PARAMETER_REQUEST_LIST = [1, 3, 6, 15, 66, 150] as const;
const ZERO = '0.0.0.0';
/**
 * A lease under a minute is taken as a minute and T1 is never under half a minute: a server
 * handing out 1-second leases (or T1 = 0) would otherwise have the phone renewing — and writing
 * the lease to flash — in a tight loop. dhcpcd floors leases at 20 s for the same reason; the
 * phone's floor is longer because every renewal is an fsync.
 */
export const MIN_LEASE_SECS = 60;
const TRANSIENT_SEND_ERRORS = new Set(['EPERM', 'ENOBUFS', 'EAGAIN']);
export const MIN_T1_SECS = 30;
const BROADCAST = '255.255.255.255';

export const leaseExpiresAt = (l: DhcpLease): number => l.boundAt + l.leaseSecs * 1000;

export class DhcpClient {
  private readonly o: Required<DhcpClientOptions>;

  constructor(options: DhcpClientOptions) {
    this.o = { discoverAttempts: 4, requestAttempts: 3, initialTimeoutMs: 4000, extraRequested: [], ...options };
  }

  /** Gets a lease: offers the stored one again when it has not expired, else starts from INIT. */
  async obtain(previous: DhcpLease | undefined, signal: AbortSignal): Promise<{ ok: true; lease: DhcpLease } | { ok: false; failure: DhcpFailure }> {
    const sock = await this.open();
    try {
      if (previous && leaseExpiresAt(previous) > this.o.clock.now()) {
        const r = await this.transact(sock, 'REQUEST', this.request({ requested: previous.address }), BROADCAST, 2, signal);
        if (r.kind === 'ack') return { ok: true, lease: r.lease };
        if (r.kind === 'timeout') {
          // RFC 2131 §3.2 step 5: with no answer the client may keep using its unexpired lease.
          const remaining = Math.floor((leaseExpiresAt(previous) - this.o.clock.now()) / 1000);
          if (remaining > 0) {
            this.o.onEvent({ kind: 'reuse', address: previous.address, remainingSecs: remaining });
            return { ok: true, lease: previous };
          }
        }
      }
      for (let round = 0; round < 3; round++) {
        const offer = await this.transact(sock, 'DISCOVER', this.discover(), BROADCAST, this.o.discoverAttempts, signal);
        if (offer.kind === 'timeout') return { ok: false, failure: { reason: 'no-offer', message: `no DHCP server answered ${this.o.discoverAttempts} DISCOVERs` } };
        if (offer.kind !== 'offer') continue;
        const ack = await this.transact(sock, 'REQUEST', this.request({ requested: offer.address, serverId: offer.serverId }), BROADCAST, this.o.requestAttempts, signal);
        if (ack.kind === 'ack') return { ok: true, lease: ack.lease };
        if (ack.kind === 'timeout') return { ok: false, failure: { reason: 'no-ack', message: `server ${offer.serverId} offered ${offer.address} but did not answer the REQUEST` } };
        // NAK: back to INIT (RFC 2131 §4.4.1).
      }
      return { ok: false, failure: { reason: 'nak', message: 'the DHCP server refused every REQUEST (NAK)' } };
    } finally {
      sock.close();
    }
  }

  /**
   * Renews (at T1, unicast to the server) and rebinds (at T2, broadcast) until the signal
   * aborts. Calls onRenewed with each new lease and onLost when the lease expires unrenewed.
   */
  async maintain(lease: DhcpLease, signal: AbortSignal, onRenewed: (l: DhcpLease) => void | Promise<void>, onLost: (why: string) => void): Promise<void> {
    let current = lease;
    const clock = this.o.clock;
    while (!signal.aborted) {
      const t1 = current.boundAt + current.t1Secs * 1000;
      const t2 = current.boundAt + current.t2Secs * 1000;
      const end = leaseExpiresAt(current);
      await clock.sleep(Math.max(0, t1 - clock.now()), signal);
      let renewed: DhcpLease | undefined;
      let nak = false;
      while (!renewed && !nak && clock.now() < end) {
        const rebinding = clock.now() >= t2;
        // RFC 2131 §4.4.5: wait half the time left to T2 (or to expiry), at least 60 s — but
        // never past T2 while renewing, so short leases still rebind before they expire.
        const limit = rebinding ? end : t2;
        const left = limit - clock.now();
        const wait = Math.max(500, Math.min(Math.max(60_000, left / 2), left));
        const sock = await this.open();
        try {
          const viaBroadcast = rebinding || this.o.renewByBroadcast;
          const msg = this.o.renewByBroadcast ? this.request({ requested: current.address }) : this.request({ ciaddr: current.address });
          const r = await this.transact(sock, 'REQUEST', msg, viaBroadcast ? BROADCAST : current.serverId, 1, signal, wait);
          if (r.kind === 'ack') renewed = r.lease;
          else if (r.kind === 'nak') nak = true;
        } finally {
          sock.close();
        }
      }
      if (!renewed) {
        onLost(nak ? 'the DHCP server refused to renew the lease (NAK)' : 'the DHCP lease expired without renewal');
        return;
      }
      current = renewed;
      await onRenewed(current);
    }
  }

  /** DHCPRELEASE, unicast to the server (best effort: there is no answer). */
  async release(lease: DhcpLease): Promise<void> {
    const sock = await this.open();
    try {
      const m = this.base(DhcpMessageType.RELEASE, randomInt(2 ** 32), false);
      m.ciaddr = lease.address;
      m.options.set(DhcpOption.SERVER_ID, Uint8Array.from(lease.serverId.split('.').map(Number)));
      await sock.send(encodeDhcp(m), DHCP_SERVER_PORT, lease.serverId).catch(() => {});
    } finally {
      sock.close();
    }
  }

  // ---- messages -----------------------------------------------------------------------------

  private open(): Promise<UdpEndpoint> {
    return this.o.network.udp({ port: DHCP_CLIENT_PORT, broadcast: true, reuseAddr: true });
  }

  private base(type: number, xid: number, broadcast: boolean): DhcpMessage {
    const options = new Map<number, Uint8Array>();
    options.set(DhcpOption.MESSAGE_TYPE, Uint8Array.of(type));
    options.set(DhcpOption.CLIENT_ID, clientIdOption(this.o.mac.bytes));
    return {
      op: 1, htype: 1, hlen: 6, hops: 0, xid, secs: 0, flags: broadcast ? BROADCAST_FLAG : 0,
      ciaddr: ZERO, yiaddr: ZERO, siaddr: ZERO, giaddr: ZERO, chaddr: this.o.mac.bytes, sname: '', file: '', options,
    };
  }

  private withIdentity(m: DhcpMessage): DhcpMessage {
    m.options.set(DhcpOption.MAX_MESSAGE_SIZE, Uint8Array.of(0x05, 0xdc)); // 1500
    m.options.set(DhcpOption.VENDOR_CLASS, Buffer.from(this.o.vendorClass, 'latin1'));
    m.options.set(DhcpOption.HOST_NAME, Buffer.from(this.o.hostName, 'latin1'));
    m.options.set(DhcpOption.PARAMETER_LIST, Uint8Array.from([...PARAMETER_REQUEST_LIST, ...(this.o.extraRequested ?? [])]));
    return m;
  }

  private discover(): (xid: number) => DhcpMessage {
    return (xid) => this.withIdentity(this.base(DhcpMessageType.DISCOVER, xid, true));
  }

  /** requested+serverId: SELECTING; requested alone: INIT-REBOOT; ciaddr: RENEWING/REBINDING. */
  private request(p: { requested?: string; serverId?: string; ciaddr?: string }): (xid: number) => DhcpMessage {
    return (xid) => {
      const m = this.withIdentity(this.base(DhcpMessageType.REQUEST, xid, p.ciaddr === undefined));
      if (p.ciaddr) m.ciaddr = p.ciaddr;
      if (p.requested) m.options.set(DhcpOption.REQUESTED_IP, Uint8Array.from(p.requested.split('.').map(Number)));
      if (p.serverId) m.options.set(DhcpOption.SERVER_ID, Uint8Array.from(p.serverId.split('.').map(Number)));
      return m;
    };
  }

  // ---- one transaction: send, retransmit, match ----------------------------------------------

  private async transact(
    sock: UdpEndpoint, typeName: string, build: (xid: number) => DhcpMessage, to: string, attempts: number,
    signal: AbortSignal, firstTimeoutMs?: number,
  ): Promise<
    | { kind: 'offer'; address: string; serverId: string }
    | { kind: 'ack'; lease: DhcpLease }
    | { kind: 'nak' }
    | { kind: 'timeout' }
  > {
    const xid = randomInt(2 ** 32);
    const msg = build(xid);
    const wire = encodeDhcp(msg);
    const clock = this.o.clock;
    type Outcome = Awaited<ReturnType<DhcpClient['transact']>>;
    let settle: ((o: Outcome) => void) | undefined;
    sock.onMessage((data, from) => {
      if (!settle) return;
      const d = decodeDhcp(data);
      if (!d.ok) return this.o.onEvent({ kind: 'ignored', reason: `malformed reply from ${from.address}: ${d.error.message}` });
      const m = d.value;
      // Only an answer to *this* transaction from *this* phone counts.
      if (m.op !== 2 || m.xid !== xid || m.hlen !== 6 || !Buffer.from(m.chaddr).equals(Buffer.from(this.o.mac.bytes))) return;
      const type = readMessageType(m);
      if (!type.ok) return this.o.onEvent({ kind: 'ignored', reason: `reply from ${from.address}: ${type.error.message}` });
      const sid = readIpList(m, DhcpOption.SERVER_ID);
      const serverId = (sid.ok && sid.value?.[0]) || from.address;
      if (type.value === DhcpMessageType.OFFER && typeName === 'DISCOVER') {
        if (m.yiaddr === ZERO) return this.o.onEvent({ kind: 'ignored', reason: `OFFER from ${from.address} without an address` });
        this.o.onEvent({ kind: 'offer', from: serverId, address: m.yiaddr });
        settle({ kind: 'offer', address: m.yiaddr, serverId });
      } else if (type.value === DhcpMessageType.ACK && typeName === 'REQUEST') {
        const lease = this.leaseFrom(m, serverId);
        if (typeof lease === 'string') return this.o.onEvent({ kind: 'ignored', reason: `ACK from ${from.address}: ${lease}` });
        this.o.onEvent({ kind: 'ack', from: serverId, address: lease.address, leaseSecs: lease.leaseSecs });
        settle({ kind: 'ack', lease });
      } else if (type.value === DhcpMessageType.NAK && typeName === 'REQUEST') {
        const text = readText(m, DhcpOption.MESSAGE);
        this.o.onEvent({ kind: 'nak', from: serverId, message: (text.ok && text.value) || 'no reason given' });
        settle({ kind: 'nak' });
      }
    });
    try {
      let timeout = firstTimeoutMs ?? this.o.initialTimeoutMs;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        signal.throwIfAborted();
        const waitAbort = new AbortController();
        const onOuter = () => waitAbort.abort(signal.reason);
        signal.addEventListener('abort', onOuter, { once: true });
        const answered = new Promise<Outcome>((resolve) => {
          settle = (o) => {
            settle = undefined;
            resolve(o);
          };
        });
        this.o.onEvent({ kind: 'send', type: typeName, attempt, to });
        try {
          await sock.send(wire, DHCP_SERVER_PORT, to);
        } catch (e) {
          // Dropped on the way out (a firewall's EPERM, a full queue): lost like any packet,
          // and the retransmission below sends it again.
          if (!TRANSIENT_SEND_ERRORS.has((e as NodeJS.ErrnoException).code ?? '')) {
            signal.removeEventListener('abort', onOuter);
            const why = (e as NodeJS.ErrnoException).code === 'ENETUNREACH' && to === BROADCAST
              ? 'no route for 255.255.255.255 (a board adds one itself; for emulated phones: ip route add 255.255.255.255/32 dev <iface>)'
              : (e as Error).message;
            throw new Error(`cannot send DHCP ${typeName} to ${to}: ${why}`);
          }
        }
        const jitter = randomInt(-1000, 1001);
        const slept = clock.sleep(Math.max(500, timeout + jitter), waitAbort.signal).then(() => ({ kind: 'timeout' }) as const);
        try {
          const r = await Promise.race([answered, slept]);
          if (r.kind !== 'timeout') return r;
        } finally {
          waitAbort.abort(WAIT_ENDED);
          signal.removeEventListener('abort', onOuter);
          settle = undefined;
        }
        signal.throwIfAborted();
        timeout = Math.min(timeout * 2, 64_000);
      }
      this.o.onEvent({ kind: 'no-answer', type: typeName, attempts });
      return { kind: 'timeout' };
    } finally {
      settle = undefined;
    }
  }

  private leaseFrom(m: DhcpMessage, serverId: string): DhcpLease | string {
    if (m.yiaddr === ZERO) return 'no address (yiaddr 0.0.0.0)';
    const mask = readIpList(m, DhcpOption.SUBNET_MASK);
    const routers = readIpList(m, DhcpOption.ROUTER);
    const dns = readIpList(m, DhcpOption.DNS);
    const tftp = readIpList(m, DhcpOption.TFTP_SERVERS);
    const tftpName = readText(m, DhcpOption.TFTP_SERVER_NAME);
    // Provisioning URLs are only looked at by a phone that asked for them; a bad one costs only itself.
    const urls = (this.o.extraRequested ?? []).filter((c) => c === 159 || c === 160).map((c) => [c, readText(m, c)] as const);
    for (const [, r] of urls) if (!r.ok) this.o.onEvent({ kind: 'ignored', reason: r.error.message });
    const domain = readText(m, DhcpOption.DOMAIN_NAME);
    const lease = readU32(m, DhcpOption.LEASE_TIME);
    const t1 = readU32(m, DhcpOption.RENEWAL_T1);
    const t2 = readU32(m, DhcpOption.REBINDING_T2);
    // What the phone cannot work without must be right; a broken DNS, router or domain option
    // (some servers send option 6 empty) only costs that option.
    for (const r of [mask, tftp, tftpName, lease, t1, t2]) if (!r.ok) return r.error.message;
    for (const r of [routers, dns, domain]) if (!r.ok) this.o.onEvent({ kind: 'ignored', reason: r.error.message });
    const maskValue = (mask.ok && mask.value?.[0]) || classfulMask(m.yiaddr);
    // A lease of 0xffffffff is "infinite"; keep the arithmetic finite. A lease or T1 that is
    // too short is lengthened (see MIN_LEASE_SECS).
    const leaseSecs = Math.max(Math.min((lease.ok && lease.value) || 86400, 0x7fffffff), MIN_LEASE_SECS);
    const t1Secs = Math.max((t1.ok && t1.value) || Math.floor(leaseSecs * 0.5), MIN_T1_SECS);
    const t2Secs = (t2.ok && t2.value) || Math.floor(leaseSecs * 0.875);
    return {
      address: m.yiaddr,
      mask: maskValue,
      prefix: maskToPrefix(maskValue),
      routers: (routers.ok && routers.value) || [],
      dns: (dns.ok && dns.value) || [],
      domain: (domain.ok && domain.value) || undefined,
      serverId,
      nextServer: m.siaddr,
      tftpServers: (tftp.ok && tftp.value) || [],
      tftpServerName: (tftpName.ok && tftpName.value) || undefined,
      ...Object.fromEntries(urls.filter(([, r]) => r.ok && r.value).map(([c, r]) => [`option${c}`, r.ok ? r.value : ''])),
      leaseSecs,
      t1Secs: Math.min(t1Secs, leaseSecs),
      t2Secs: Math.min(Math.max(t2Secs, t1Secs), leaseSecs),
      boundAt: this.o.clock.now(),
    };
  }
}

function classfulMask(ip: string): string {
  const first = ipv4ToInt(ip) >>> 24;
  return first < 128 ? '255.0.0.0' : first < 192 ? '255.255.0.0' : '255.255.255.0';
}

export function isDhcpLease(v: unknown): v is DhcpLease {
  const l = v as DhcpLease;
  return typeof v === 'object' && v !== null && typeof l.address === 'string' && typeof l.serverId === 'string' &&
    typeof l.leaseSecs === 'number' && typeof l.boundAt === 'number' && Array.isArray(l.tftpServers) && typeof l.prefix === 'number';
}
