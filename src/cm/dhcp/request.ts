/**
 * A client's message as the server needs it, and what the server decides about it.
 *
 * Reading: the codec (src/wire/dhcp.ts) decodes, then what a server must be able to rely on
 * before it touches a lease is checked — a BOOTREQUEST from an Ethernet client, a known client
 * message type, well-formed options 50, 54 and 57. Everything else a client sends is optional,
 * and a bad optional option is left out rather than failing the message: option 55 in
 * particular only orders the reply (reply.ts). Strings the peer chose (vendor class, host name)
 * are kept raw: they are data for the log and the lease table, escaped by whoever prints them.
 *
 * Deciding: pure functions of the message and of the address the pool would give
 * (address-pool.ts); the handler carries the decision out. The companion is authoritative for
 * its pool (like dnsmasq's --dhcp-authoritative): a client asking for an address this server
 * would not give it is told NAK at once instead of waiting out its retransmissions, which is
 * what a lab that wipes its data folder needs.
 */
import {
  DHCP_MAX_MESSAGE, type DhcpMessage, DhcpMessageType, DhcpOption, decodeDhcp, dhcpTypeName, readIpList, readMessageType,
} from '../../wire/dhcp.ts';
import { type Result, WireError, err, ok } from '../../wire/result.ts';

export const ZERO = '0.0.0.0';
/** RFC 1542 §4.1.1: a relay discards a request that has passed this many relays; so do we. */
const MAX_HOPS = 16;
/** Option 82 (RFC 3046): a relay's own information, echoed back to it unchanged. */
export const RELAY_AGENT_INFO = 82;

export interface ClientRequest {
  /** The decoded message, for the fields a reply copies (xid, flags, giaddr, chaddr). */
  message: DhcpMessage;
  /** DISCOVER, REQUEST, DECLINE, RELEASE or INFORM. */
  type: number;
  /** chaddr as 12 upper-case hex digits: leases are keyed by it. */
  mac: string;
  ciaddr: string;
  giaddr: string;
  /** Option 54: the server the client chose (SELECTING) or addresses (DECLINE, RELEASE). */
  serverId: string | undefined;
  /** Option 50. */
  requested: string | undefined;
  /** Option 55, duplicates removed: the options the client wants, most wanted first. */
  parameterList: number[];
  /** Option 57 when present and at least 576: the largest IP datagram the client accepts. */
  maxMessageSize: number | undefined;
  /** Option 61, echoed in replies (RFC 6842). */
  clientId: Uint8Array | undefined;
  /** Option 82 from a relay, echoed back to it (RFC 3046). */
  relayInfo: Uint8Array | undefined;
  /** Option 60, raw (peer data). */
  vendorClass: string;
  /** Option 12, raw (peer data). */
  hostName: string;
}

const CLIENT_TYPES: ReadonlySet<number> = new Set([
  DhcpMessageType.DISCOVER, DhcpMessageType.REQUEST, DhcpMessageType.DECLINE, DhcpMessageType.RELEASE, DhcpMessageType.INFORM,
]);

const bad = (code: string, message: string) => err(new WireError('dhcp', code, message));

/** Text a peer chose, without the trailing NULs some phones add (reference §2.1). */
function peerText(m: DhcpMessage, code: number): string {
  const v = m.options.get(code);
  if (!v) return '';
  let end = v.length;
  while (end > 0 && v[end - 1] === 0) end--;
  return Buffer.from(v.subarray(0, end)).toString('latin1');
}

/** One address from an option that must carry exactly one. */
function oneAddress(m: DhcpMessage, code: number): Result<string | undefined> {
  const v = m.options.get(code);
  if (v !== undefined && v.length !== 4) return bad('bad-option', `option ${code} has ${v.length} bytes, expected 4`);
  const r = readIpList(m, code);
  return r.ok ? ok(r.value?.[0]) : r;
}

export function readClientRequest(bytes: Uint8Array): Result<ClientRequest> {
  if (bytes.length > DHCP_MAX_MESSAGE) return bad('oversized', `message of ${bytes.length} bytes exceeds ${DHCP_MAX_MESSAGE}`);
  const d = decodeDhcp(bytes);
  if (!d.ok) return d;
  const m = d.value;
  if (m.op !== 1) return bad('bad-op', 'a BOOTREPLY sent to a server');
  if (m.htype !== 1 || m.hlen !== 6) return bad('bad-htype', `hardware type ${m.htype}, length ${m.hlen}: only Ethernet clients are served`);
  if (m.hops > MAX_HOPS) return bad('too-many-hops', `${m.hops} hops (at most ${MAX_HOPS})`);
  const type = readMessageType(m);
  if (!type.ok) return type;
  if (!CLIENT_TYPES.has(type.value)) return bad('bad-type', `DHCP${dhcpTypeName(type.value)} is not a client's message`);
  const serverId = oneAddress(m, DhcpOption.SERVER_ID);
  if (!serverId.ok) return serverId;
  const requested = oneAddress(m, DhcpOption.REQUESTED_IP);
  if (!requested.ok) return requested;
  // RFC 2132 §9.10: two bytes, at least 576; anything else is ignored (the default applies).
  const mms = m.options.get(DhcpOption.MAX_MESSAGE_SIZE);
  const maxMessageSize = mms?.length === 2 && ((mms[0]! << 8) | mms[1]!) >= 576 ? (mms[0]! << 8) | mms[1]! : undefined;
  return ok({
    message: m,
    type: type.value,
    mac: Buffer.from(m.chaddr).toString('hex').toUpperCase(),
    ciaddr: m.ciaddr,
    giaddr: m.giaddr,
    serverId: serverId.value,
    requested: requested.value,
    parameterList: [...new Set(m.options.get(DhcpOption.PARAMETER_LIST) ?? [])],
    maxMessageSize,
    clientId: m.options.get(DhcpOption.CLIENT_ID),
    relayInfo: m.giaddr !== ZERO ? m.options.get(RELAY_AGENT_INFO) : undefined,
    vendorClass: peerText(m, DhcpOption.VENDOR_CLASS),
    hostName: peerText(m, DhcpOption.HOST_NAME),
  });
}

// ---- decisions ---------------------------------------------------------------------------------

/**
 * RFC 2131 §4.3.2 tells a REQUEST's states apart by server id, requested address and ciaddr.
 * RENEWING (unicast to us) and REBINDING (broadcast) differ only in the IP destination, which
 * a socket bound to 0.0.0.0 does not see; a relayed one (giaddr set) was broadcast, so it is
 * REBINDING. Both are answered alike, so nothing rests on telling the unrelayed ones apart.
 */
export type ClientState = 'SELECTING' | 'INIT-REBOOT' | 'RENEWING' | 'REBINDING';

export function requestState(r: Pick<ClientRequest, 'serverId' | 'requested' | 'ciaddr' | 'giaddr'>): ClientState {
  if (r.serverId !== undefined) return 'SELECTING';
  // A REQUEST with neither requested address nor ciaddr breaks §4.3.2; answered as INIT-REBOOT
  // with the client's address, as the companion always has.
  if (r.requested !== undefined || r.ciaddr === ZERO) return 'INIT-REBOOT';
  return r.giaddr !== ZERO ? 'REBINDING' : 'RENEWING';
}

export type Ignore = { kind: 'ignore'; why: string; dropHold?: boolean };
export type DiscoverDecision = { kind: 'offer'; address: string } | Ignore;
export type RequestDecision =
  | { kind: 'ack'; address: string; state: ClientState }
  | { kind: 'nak'; state: ClientState; wanted: string | undefined; why: string; tell: string }
  | Ignore;

/** DHCPDISCOVER: an offer of the pool's choice, or silence when the pool is exhausted. */
export function decideDiscover(ours: string | undefined): DiscoverDecision {
  return ours ? { kind: 'offer', address: ours } : { kind: 'ignore', why: 'pool exhausted' };
}

/** DHCPREQUEST (RFC 2131 §4.3.2). `self` is this server's identifier. */
export function decideRequest(r: ClientRequest, self: string, ours: string | undefined): RequestDecision {
  const state = requestState(r);
  // The client took another server's offer: ours is free for others.
  if (state === 'SELECTING' && r.serverId !== self) return { kind: 'ignore', why: `REQUEST for server ${r.serverId}`, dropHold: true };
  const wanted = r.requested ?? (r.ciaddr !== ZERO ? r.ciaddr : undefined);
  if (!ours) return { kind: 'nak', state, wanted, why: 'pool exhausted', tell: 'no address available' };
  if (wanted !== undefined && wanted !== ours) return { kind: 'nak', state, wanted, why: `address is ${ours}`, tell: 'requested address not available' };
  return { kind: 'ack', address: ours, state };
}

/** DHCPDECLINE (§4.3.3) and DHCPRELEASE (§4.3.4) name the server they are meant for. */
export function forAnotherServer(r: ClientRequest, self: string): string | undefined {
  return r.serverId !== undefined && r.serverId !== self ? `${r.type === DhcpMessageType.DECLINE ? 'DECLINE' : 'RELEASE'} for server ${r.serverId}` : undefined;
}

/**
 * DHCPINFORM (§4.3.5): the client has an address and wants only the options. The answer goes to
 * ciaddr, so ciaddr must be there and on the network this server serves — else any host could
 * aim our replies at any address.
 */
export function informRefusal(r: ClientRequest, onOurNetwork: (ip: string) => boolean): string | undefined {
  if (r.ciaddr === ZERO) return 'INFORM without ciaddr';
  if (!onOurNetwork(r.ciaddr)) return `INFORM from ${r.ciaddr}, not on the pool's network`;
  return undefined;
}

/** A relayed message is served only when the relay sits on the pool's network (its giaddr). */
export function relayRefusal(r: ClientRequest, onOurNetwork: (ip: string) => boolean): string | undefined {
  return r.giaddr !== ZERO && !onOurNetwork(r.giaddr) ? `relay ${r.giaddr} is not on the pool's network` : undefined;
}
