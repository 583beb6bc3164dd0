/**
 * Building a server reply and choosing where it goes (RFC 2131 §4.1, §4.3). Pure.
 *
 * Options: every parameter the server has goes out in every OFFER and ACK — phones that never
 * list 150 in option 55 still need it — but the ones the client listed in option 55 come first,
 * in its order. Option 55 only orders; a code the server does not know is skipped, never an
 * error. The reply fits in 576 bytes of IP datagram (548 of DHCP, RFC 2131 §2) unless option 57
 * allows more, up to one Ethernet frame; what does not fit is left out from the end, unlisted
 * options first. 53, 54, 51 and the echoed 61 and 82 are never left out: a reply that cannot
 * carry them is not sent.
 */
import {
  BROADCAST_FLAG, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, type DhcpMessage, DhcpMessageType, DhcpOption, encodeDhcp, ipListOption, u32Option,
} from '../../wire/dhcp.ts';
import { prefixToMask } from '../../wire/ipv4.ts';
import type { CompanionConfig } from '../config.ts';
import { type ClientRequest, RELAY_AGENT_INFO, ZERO } from './request.ts';

/** RFC 2131 §2: every client accepts an IP datagram of 576 bytes. */
export const MIN_DATAGRAM = 576;
/** The largest reply, whatever option 57 allows: one Ethernet frame, never fragments. */
export const MAX_DATAGRAM = 1500;
/** Option 57 counts the whole IP datagram (its floor, 576, is IP's): IP and UDP headers. */
const IP_UDP_HEADERS = 28;
/** The fixed header and the magic cookie. */
const FIXED = 240;
export const LIMITED_BROADCAST = '255.255.255.255';

export type Option = [code: number, value: Uint8Array];

/** Bytes of DHCP message a reply to this client may take. */
export function replyLimit(maxMessageSize: number | undefined): number {
  return Math.min(Math.max(maxMessageSize ?? MIN_DATAGRAM, MIN_DATAGRAM), MAX_DATAGRAM) - IP_UDP_HEADERS;
}

/** RFC 2131 §4.4.5 defaults: T1 at half the lease, T2 at seven eighths. */
export function leaseTimes(leaseSecs: number): { t1: number; t2: number } {
  return { t1: Math.floor(leaseSecs / 2), t2: Math.floor((leaseSecs * 7) / 8) };
}

/**
 * What the server hands out, in the order it sends them when the client states no preference:
 * lease times (not in an answer to INFORM, §4.3.5), mask, router, DNS, domain when set, option 66
 * (TFTP server name) and option 150 (Cisco's TFTP server list).
 */
export function serverParameters(cfg: CompanionConfig, withLease: boolean): Option[] {
  const c = cfg.dhcp;
  const out: Option[] = [];
  if (withLease) {
    const { t1, t2 } = leaseTimes(c.leaseSecs);
    out.push([DhcpOption.LEASE_TIME, u32Option(c.leaseSecs)], [DhcpOption.RENEWAL_T1, u32Option(t1)], [DhcpOption.REBINDING_T2, u32Option(t2)]);
  }
  out.push([DhcpOption.SUBNET_MASK, ipListOption([prefixToMask(cfg.prefix)])], [DhcpOption.ROUTER, ipListOption([c.router])]);
  if (c.dns.length) out.push([DhcpOption.DNS, ipListOption(c.dns)]);
  if (c.domain) out.push([DhcpOption.DOMAIN_NAME, Buffer.from(c.domain, 'latin1')]);
  if (c.option66) out.push([DhcpOption.TFTP_SERVER_NAME, Buffer.from(c.option66, 'latin1')]);
  if (c.option150.length) out.push([DhcpOption.TFTP_SERVERS, ipListOption(c.option150)]);
  return out;
}

/** Listed options first, in the client's order; the rest in the server's. */
export function byPreference(params: readonly Option[], parameterList: readonly number[]): Option[] {
  const rank = (code: number) => {
    const i = parameterList.indexOf(code);
    return i < 0 ? parameterList.length : i;
  };
  // Array.prototype.sort is stable: unlisted options keep the server's order.
  return [...params].sort((a, b) => rank(a[0]) - rank(b[0]));
}

/** Wire bytes an option takes, split into 255-byte pieces as RFC 3396 does. */
export const optionCost = (value: Uint8Array): number => value.length + 2 * Math.max(1, Math.ceil(value.length / 255));

/**
 * The options that fit in `budget` bytes, in the given order: required ones always (undefined
 * when even they do not fit), others while they fit.
 */
export function fitOptions(ordered: readonly Option[], required: ReadonlySet<number>, budget: number): Option[] | undefined {
  let left = budget;
  for (const [code, v] of ordered) if (required.has(code)) left -= optionCost(v);
  if (left < 0) return undefined;
  return ordered.filter(([code, v]) => {
    if (required.has(code)) return true;
    if (optionCost(v) > left) return false;
    left -= optionCost(v);
    return true;
  });
}

export interface ReplySpec {
  type: typeof DhcpMessageType.OFFER | typeof DhcpMessageType.ACK | typeof DhcpMessageType.NAK;
  yiaddr: string;
  ciaddr: string;
  siaddr: string;
  /** This server's identifier (option 54). */
  serverId: string;
  /** Options after 53 and 54, in the server's default order. */
  parameters: readonly Option[];
  /** Codes among `parameters` that must go out (51 in an OFFER or an ACK to a REQUEST). */
  required: ReadonlySet<number>;
}

/** The encoded reply, or undefined when what it must carry does not fit the client's limit. */
export function buildReply(req: ClientRequest, spec: ReplySpec): Buffer | undefined {
  const ordered: Option[] = [
    [DhcpOption.MESSAGE_TYPE, Uint8Array.of(spec.type)],
    [DhcpOption.SERVER_ID, ipListOption([spec.serverId])],
    ...byPreference(spec.parameters, req.parameterList),
  ];
  const required = new Set([DhcpOption.MESSAGE_TYPE, DhcpOption.SERVER_ID, ...spec.required]);
  // RFC 6842: the client identifier comes back unchanged; RFC 3046: so does a relay's option 82, last.
  for (const [code, echo] of [[DhcpOption.CLIENT_ID, req.clientId], [RELAY_AGENT_INFO, req.relayInfo]] as const) {
    if (!echo) continue;
    ordered.push([code, echo]);
    required.add(code);
  }
  const options = fitOptions(ordered, required, replyLimit(req.maxMessageSize) - FIXED - 1);
  if (!options) return undefined;
  const m = req.message;
  // §4.1: a NAK through a relay has the broadcast bit set, so the relay broadcasts it.
  const flags = spec.type === DhcpMessageType.NAK && m.giaddr !== ZERO ? BROADCAST_FLAG : m.flags & BROADCAST_FLAG;
  const reply: DhcpMessage = {
    op: 2, htype: m.htype, hlen: m.hlen, hops: 0, xid: m.xid, secs: 0, flags,
    ciaddr: spec.ciaddr, yiaddr: spec.yiaddr, siaddr: spec.siaddr, giaddr: m.giaddr,
    chaddr: m.chaddr, sname: '', file: '', options: new Map(options),
  };
  return encodeDhcp(reply);
}

/**
 * RFC 2131 §4.1: through a relay, to the relay's server port (the kernel routes to it as next
 * hop); to a client that has an address (ciaddr), unicast to it; else broadcast — the RFC's
 * unicast to yiaddr at chaddr needs an ARP entry a userland server cannot make. NAKs without a
 * relay are always broadcast. A ciaddr off the pool's network is not trusted as a destination.
 */
export function replyDestination(req: ClientRequest, type: number, onOurNetwork: (ip: string) => boolean): { address: string; port: number } {
  if (req.giaddr !== ZERO) return { address: req.giaddr, port: DHCP_SERVER_PORT };
  if (type !== DhcpMessageType.NAK && req.ciaddr !== ZERO && onOurNetwork(req.ciaddr)) return { address: req.ciaddr, port: DHCP_CLIENT_PORT };
  return { address: LIMITED_BROADCAST, port: DHCP_CLIENT_PORT };
}
