/**
 * A DHCP load generator that plays a relay (RFC 1542): one UDP socket bound to the relay's own
 * address, port 67; every message it sends carries giaddr = that address and hops 1, so a server
 * that follows RFC 2131 §4.1 answers unicast to it on port 67. Because the socket is bound to a
 * unicast address, Linux does not hand it broadcasts: a reply that went out as a broadcast is
 * never counted. N distinct MACs (mac-base + 0 … N-1) each do one 4-way exchange — DISCOVER,
 * OFFER, REQUEST (SELECTING: option 50 the offered address, option 54 the server's id), ACK —
 * DISCOVERs started at a target rate; a NAK restarts the client from DISCOVER; a message not
 * answered in --timeout-ms is sent again (same xid), at most --retries times.
 *
 * It prints (with --json, one JSON object a line): {"progress":…} each second, {"ack":MAC,
 * "address":IP} per ACK with --acks, and at the end {"summary":true,…}: exchanges completed per
 * second (ACKs over the time from the first DISCOVER to the last ACK), MACs bound, NAKs,
 * retransmissions, and addresses ACKed to two different MACs (must be 0).
 *
 * Used by bench/dhcp.ts (the same generator against sepi, Kea and dnsmasq) and by the tests.
 * It only sends to --server, an address in the caller's own lab namespace, and stops by itself:
 * when every client is bound, or after --idle-secs with nothing received, or --max-secs.
 *
 *   node bench/dhcp-load.ts --server 10.93.0.1 --relay 10.93.0.60 --clients 20000 --rate 5000 --mac-base 025e02000000 [--json] [--acks]
 */
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { DHCP_SERVER_PORT, type DhcpMessage, DhcpMessageType, DhcpOption, encodeDhcp, ipListOption } from '../src/wire/dhcp.ts';
import { intToIpv4 } from '../src/wire/ipv4.ts';

const { values: v } = parseArgs({
  options: {
    server: { type: 'string' },
    relay: { type: 'string' },
    port: { type: 'string', default: String(DHCP_SERVER_PORT) },
    clients: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '1000' },
    'mac-base': { type: 'string', default: '025e00000000' },
    'timeout-ms': { type: 'string', default: '1000' },
    retries: { type: 'string', default: '3' },
    'idle-secs': { type: 'string', default: '5' },
    'max-secs': { type: 'string', default: '300' },
    json: { type: 'boolean', default: false },
    acks: { type: 'boolean', default: false },
  },
});
if (!v.server || !v.relay) throw new Error('--server and --relay are required');
const SERVER = v.server;
const RELAY = v.relay;
const PORT = Number(v.port);
const CLIENTS = Number(v.clients);
const RATE = Number(v.rate);
const TIMEOUT_MS = Number(v['timeout-ms']);
const RETRIES = Number(v.retries);
const IDLE_MS = Number(v['idle-secs']) * 1000;
const MAX_MS = Number(v['max-secs']) * 1000;
const MAC_BASE = BigInt(`0x${v['mac-base']}`);
/** xid = XID_BASE + client index: the reply's xid finds its client at once. */
const XID_BASE = (Math.floor(Math.random() * 0x7f) << 24) >>> 0;

const say = (o: Record<string, unknown>) => {
  if (v.json) process.stdout.write(JSON.stringify(o) + '\n');
  else if (o['summary'] || o['progress']) process.stdout.write(Object.entries(o).map(([k, x]) => `${k}=${typeof x === 'object' ? JSON.stringify(x) : x}`).join(' ') + '\n');
};

// ---- messages: one template each, patched per client ---------------------------------------------

const macOf = (i: number): Buffer => Buffer.from((MAC_BASE + BigInt(i)).toString(16).padStart(12, '0').slice(-12), 'hex');

function template(type: number, extra: Array<[number, Uint8Array]>): Buffer {
  const m: DhcpMessage = {
    op: 1, htype: 1, hlen: 6, hops: 1, xid: 0, secs: 0, flags: 0, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: RELAY,
    chaddr: new Uint8Array(6), sname: '', file: '',
    options: new Map<number, Uint8Array>([[DhcpOption.MESSAGE_TYPE, Uint8Array.of(type)], ...extra, [DhcpOption.PARAMETER_LIST, Uint8Array.of(1, 3, 6, 15, 42, 66, 150)]]),
  };
  return encodeDhcp(m);
}

/** Where option `code`'s value starts in an encoded message (after the 240-byte header). */
function optionAt(b: Buffer, code: number): number {
  for (let i = 240; i < b.length;) {
    if (b[i] === 0) { i++; continue; }
    if (b[i] === 255) break;
    if (b[i] === code) return i + 2;
    i += 2 + b[i + 1]!;
  }
  throw new Error(`option ${code} not in template`);
}

const DISCOVER = template(DhcpMessageType.DISCOVER, []);
const REQUEST = template(DhcpMessageType.REQUEST, [[DhcpOption.REQUESTED_IP, ipListOption(['0.0.0.0'])], [DhcpOption.SERVER_ID, ipListOption(['0.0.0.0'])]]);
const REQ_50 = optionAt(REQUEST, DhcpOption.REQUESTED_IP);
const REQ_54 = optionAt(REQUEST, DhcpOption.SERVER_ID);

/** The replies' fields this generator needs, read without the full codec (it must outrun servers). */
function readReply(b: Buffer): { xid: number; chaddr: Buffer; yiaddr: number; type: number; serverId: number } | undefined {
  if (b.length < 244 || b[0] !== 2 || b.readUInt32BE(236) !== 0x63825363) return undefined;
  let type = 0;
  let serverId = 0;
  for (let i = 240; i < b.length;) {
    const code = b[i]!;
    if (code === 0) { i++; continue; }
    if (code === 255 || i + 1 >= b.length) break;
    const len = b[i + 1]!;
    if (code === DhcpOption.MESSAGE_TYPE && len === 1) type = b[i + 2]!;
    if (code === DhcpOption.SERVER_ID && len === 4) serverId = b.readUInt32BE(i + 2);
    i += 2 + len;
  }
  return { xid: b.readUInt32BE(4), chaddr: b.subarray(28, 34), yiaddr: b.readUInt32BE(16), type, serverId };
}

// ---- clients ------------------------------------------------------------------------------------

/** Client states. */
const S = { IDLE: 0, SELECTING: 1, REQUESTING: 2, BOUND: 3, FAILED: 4 } as const;
const state = new Uint8Array(CLIENTS);
const tries = new Uint8Array(CLIENTS);
const deadline = new Float64Array(CLIENTS);
const offered = new Uint32Array(CLIENTS);
const serverIds = new Uint32Array(CLIENTS);
const boundTo = new Uint32Array(CLIENTS);
const macs = Array.from({ length: CLIENTS }, (_, i) => macOf(i));
/** Address -> index of the client ACKed it. */
const holders = new Map<number, number>();
const counts = { discover: 0, request: 0, offer: 0, ack: 0, nak: 0, retransmit: 0, stray: 0, duplicates: 0, failed: 0 };

const sock = dgram.createSocket({ type: 'udp4', reuseAddr: false });
let firstSend = 0;
let lastAck = 0;
let lastHeard = 0;

function send(i: number, kind: 'discover' | 'request'): void {
  const b = Buffer.from(kind === 'discover' ? DISCOVER : REQUEST);
  b.writeUInt32BE((XID_BASE + i) >>> 0, 4);
  macs[i]!.copy(b, 28);
  if (kind === 'request') {
    b.writeUInt32BE(offered[i]!, REQ_50);
    b.writeUInt32BE(serverIds[i]!, REQ_54);
  }
  counts[kind]++;
  deadline[i] = performance.now() + TIMEOUT_MS;
  sock.send(b, PORT, SERVER);
}

sock.on('message', (b) => {
  const r = readReply(b);
  if (!r) return void counts.stray++;
  const i = (r.xid - XID_BASE) >>> 0;
  if (i >= CLIENTS || !r.chaddr.equals(macs[i]!)) return void counts.stray++;
  lastHeard = performance.now();
  if (r.type === DhcpMessageType.OFFER && state[i] === S.SELECTING) {
    counts.offer++;
    offered[i] = r.yiaddr;
    serverIds[i] = r.serverId;
    state[i] = S.REQUESTING;
    tries[i] = 0;
    send(i, 'request');
  } else if (r.type === DhcpMessageType.ACK && state[i] === S.REQUESTING) {
    counts.ack++;
    state[i] = S.BOUND;
    boundTo[i] = r.yiaddr;
    lastAck = lastHeard;
    const other = holders.get(r.yiaddr);
    if (other !== undefined && other !== i) counts.duplicates++;
    holders.set(r.yiaddr, i);
    if (v.acks) say({ ack: macs[i]!.toString('hex').toUpperCase(), address: intToIpv4(r.yiaddr) });
  } else if (r.type === DhcpMessageType.NAK && state[i] === S.REQUESTING) {
    counts.nak++;
    state[i] = S.SELECTING;
    tries[i] = 0;
    send(i, 'discover');
  }
});

await new Promise<void>((resolve, reject) => {
  sock.once('error', reject);
  sock.bind({ port: PORT, address: RELAY, exclusive: true }, () => resolve());
});
sock.on('error', (e) => say({ error: e.message }));
try {
  sock.setRecvBufferSize(8 << 20);
  sock.setSendBufferSize(8 << 20);
} catch {
  // the kernel's limits stay
}

const start = performance.now();
firstSend = start;
let started = 0;
const bound = () => counts.ack;
let lastProgress = start;
let lastSweep = start;

await new Promise<void>((resolve) => {
  const tick = setInterval(() => {
    const now = performance.now();
    // New clients at the target rate.
    const due = Math.min(CLIENTS, Math.floor(((now - start) / 1000) * RATE) + 1);
    for (; started < due; started++) {
      state[started] = S.SELECTING;
      send(started, 'discover');
    }
    // Retransmissions: a sweep over the clients in flight every 50 ms (timeouts are ~1 s).
    if (now - lastSweep >= 50) lastSweep = now;
    for (let i = 0; lastSweep === now && i < started; i++) {
      const s = state[i]!;
      if ((s === S.SELECTING || s === S.REQUESTING) && deadline[i]! < now) {
        if (tries[i]! >= RETRIES) {
          state[i] = S.FAILED;
          counts.failed++;
          continue;
        }
        tries[i]!++;
        counts.retransmit++;
        send(i, s === S.SELECTING ? 'discover' : 'request');
      }
    }
    if (now - lastProgress >= 1000) {
      lastProgress = now;
      say({ progress: true, t: Math.round(now - start), started, bound: bound(), ...counts });
    }
    const settled = started === CLIENTS && counts.ack + counts.failed >= CLIENTS;
    const idle = started === CLIENTS && now - Math.max(lastHeard, start) > IDLE_MS;
    if (settled || idle || now - start > MAX_MS) {
      clearInterval(tick);
      resolve();
    }
  }, 2);
});

const seconds = ((lastAck || performance.now()) - firstSend) / 1000;
say({
  summary: true, clients: CLIENTS, offeredRate: RATE, acked: counts.ack, unanswered: CLIENTS - counts.ack,
  exchangesPerSecond: Math.round((counts.ack / Math.max(seconds, 1e-3)) * 10) / 10, seconds: Math.round(seconds * 1000) / 1000,
  ...counts, relay: RELAY, server: SERVER,
});
sock.close();
