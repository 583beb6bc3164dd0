/**
 * The phone's own TFTP client: RFC 1350 reads with RFC 2347 option negotiation — blksize
 * (2348), tsize and timeout (2349, timeout in *seconds*) and windowsize (7440). Written here
 * because the npm `tftp` client sends timeout in milliseconds (so tftpd-hpa refuses it) and
 * throws away the server's error code (platform-notes.md B2), and a phone must tell
 * "File not found" (code 1: the file is absent, try the next name) from every other failure.
 *
 *   RRQ(options) ──► OACK ──► ACK 0 ──► DATA 1..w ──► ACK w ──► … short block = end
 *              └──► DATA 1 (server ignored options: 512-byte blocks)
 *              └──► ERROR 8 (options refused): RRQ again without options
 */
import { randomInt } from 'node:crypto';
import { TFTP_DEFAULT_BLOCK, TFTP_PORT, TftpErrorCode, type TftpOptions, decodeTftp, encodeTftp, negotiatedValue } from '../wire/tftp.ts';
import type { Clock } from '../common/clock.ts';
import type { NetworkPort, UdpEndpoint } from './ports.ts';

export interface TftpRequestOptions {
  /** Options to ask for; omit one to not send it (a 79xx sends none). */
  blksize?: number;
  windowsize?: number;
  /** RFC 2349 timeout in seconds; also our retransmission interval when the server accepts it. */
  timeoutSecs?: number;
  tsize?: boolean;
}

export interface TftpClientOptions {
  network: NetworkPort;
  clock: Clock;
  request: TftpRequestOptions;
  /** Retransmission interval when no timeout was negotiated. */
  retransmitMs: number;
  retries: number;
  maxBytes: number;
  port?: number;
  localAddress?: string | undefined;
}

export type TftpResult =
  | { kind: 'file'; data: Buffer; blksize: number; windowsize: number; optionsRefused: boolean }
  /** The server said error code 1: the file does not exist. */
  | { kind: 'absent'; message: string }
  | { kind: 'server-error'; code: number; message: string }
  | { kind: 'timeout'; message: string }
  | { kind: 'failed'; message: string };

const OP_DATA = 3;

/** An ACK: four bytes, written directly (one is sent per window). */
function ack(block: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(0x00040000 | block, 0);
  return b;
}

/**
 * The file as it arrives, copied block by block into one buffer: the size the server announced
 * in tsize when it did (no copy at the end when it was right), grown by doubling otherwise, never
 * beyond maxBytes. A buffer per block, joined at the end, cost a second copy and an allocation
 * per block, which showed as garbage collection at windowed rates.
 */
class FileBuffer {
  private buf = Buffer.allocUnsafe(0);
  private length = 0;
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** The size announced (tsize); a lying server only costs a regrowth or some slack. */
  expect(size: number): void {
    if (this.length === 0 && size > this.buf.length) this.buf = Buffer.allocUnsafe(Math.min(size, this.max));
  }

  append(data: Uint8Array): void {
    const need = this.length + data.length;
    if (need > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(need, this.buf.length * 2, 64 * 1024), Math.max(need, this.max)));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    this.buf.set(data, this.length);
    this.length = need;
  }

  bytes(): Buffer {
    return this.length === this.buf.length ? this.buf : Buffer.from(this.buf.subarray(0, this.length));
  }
}

export async function tftpGet(o: TftpClientOptions, server: string, filename: string, signal: AbortSignal): Promise<TftpResult> {
  const first = await transfer(o, server, filename, o.request, signal);
  if (first.kind === 'server-error' && first.code === TftpErrorCode.OPTION_REFUSED && Object.keys(optionPairs(o.request)).length) {
    // RFC 2347: a server that refuses the options answers ERROR 8; ask again the RFC 1350 way.
    const plain = await transfer(o, server, filename, {}, signal);
    return plain.kind === 'file' ? { ...plain, optionsRefused: true } : plain;
  }
  return first;
}

function optionPairs(r: TftpRequestOptions): TftpOptions {
  const out: TftpOptions = {};
  if (r.blksize !== undefined) out['blksize'] = String(r.blksize);
  if (r.tsize) out['tsize'] = '0';
  if (r.timeoutSecs !== undefined) out['timeout'] = String(r.timeoutSecs);
  if (r.windowsize !== undefined) out['windowsize'] = String(r.windowsize);
  return out;
}

async function transfer(o: TftpClientOptions, server: string, filename: string, req: TftpRequestOptions, signal: AbortSignal): Promise<TftpResult> {
  const sock: UdpEndpoint = await o.network.udp(o.localAddress ? { address: o.localAddress } : {});
  const serverPort = o.port ?? TFTP_PORT;
  const asked = optionPairs(req);
  let blksize = TFTP_DEFAULT_BLOCK;
  let windowsize = 1;
  let retransmitMs = o.retransmitMs;
  let tid: number | undefined; // the server's transfer port, fixed by its first answer
  let expected = 1; // next block number wanted (mod 65536)
  let lastAcked = 0; // the server's next window starts after the block we last acknowledged
  let received = 0;
  const file = new FileBuffer(o.maxBytes);
  let lastSent = encodeTftp({ op: 'RRQ', filename, mode: 'octet', options: asked });
  let lastTo = serverPort;
  let wake: (() => void) | undefined;
  let outcome: TftpResult | undefined;
  let progressed = false;
  let sendError: string | undefined;

  // A send refused by the host (a firewall's drop is EPERM, a full queue ENOBUFS) is a packet
  // lost like any other: the retransmission timer sends it again, and only when every retry
  // went unanswered does the transfer fail, naming the error.
  const send = (buf: Buffer, port: number) => {
    lastSent = buf;
    lastTo = port;
    sock.send(buf, port, server).then(() => (sendError = undefined), (e: Error) => (sendError = e.message));
  };
  const finish = (r: TftpResult) => {
    outcome ??= r;
    wake?.();
  };
  const abortWith = (message: string, port: number) => {
    sock.send(encodeTftp({ op: 'ERROR', code: TftpErrorCode.NOT_DEFINED, message }), port, server).catch(() => {});
    finish({ kind: 'failed', message });
  };

  sock.onMessage((data, from) => {
    if (outcome || from.address !== server) return;
    if (tid === undefined) tid = from.port;
    else if (from.port !== tid) {
      // RFC 1350 §4: a packet from a stranger port gets ERROR 5 and does not disturb the transfer.
      sock.send(encodeTftp({ op: 'ERROR', code: TftpErrorCode.UNKNOWN_TID, message: 'Unknown transfer ID' }), from.port, server).catch(() => {});
      return;
    }
    // The hot path, one call per block: DATA read in place, without the codec's objects.
    if (data.length >= 4 && data[0] === 0 && data[1] === OP_DATA) return onData(data.readUInt16BE(2), data.subarray(4));
    const p = decodeTftp(data);
    if (!p.ok) return abortWith(`malformed packet: ${p.error.message}`, tid);
    const pkt = p.value;
    if (pkt.op === 'ERROR') {
      return finish(pkt.code === TftpErrorCode.FILE_NOT_FOUND ? { kind: 'absent', message: pkt.message } : { kind: 'server-error', code: pkt.code, message: pkt.message });
    }
    if (pkt.op === 'OACK') {
      if (received > 0 || expected !== 1) return; // a late duplicate
      for (const name of Object.keys(pkt.options)) {
        const sent = asked[name] === undefined ? undefined : Number(asked[name]);
        const v = negotiatedValue(name, sent, pkt.options[name]);
        if (v instanceof Error) return abortWith(v.message.replace(/^tftp: /, ''), tid);
        if (name === 'blksize' && v !== undefined) blksize = v;
        if (name === 'windowsize' && v !== undefined) windowsize = v;
        if (name === 'timeout' && v !== undefined) retransmitMs = v * 1000;
        if (name === 'tsize' && v !== undefined && v > o.maxBytes) return abortWith(`file of ${v} bytes exceeds the ${o.maxBytes}-byte limit`, tid);
        if (name === 'tsize' && v !== undefined) file.expect(v);
      }
      progressed = true;
      return send(encodeTftp({ op: 'ACK', block: 0 }), tid);
    }
    if (pkt.op !== 'DATA') return abortWith(`unexpected ${pkt.op} during a read`, tid);
    return onData(pkt.block, pkt.data);
  });

  function onData(block: number, data: Uint8Array): void {
    if (data.length > blksize) return abortWith(`DATA of ${data.length} bytes exceeds block size ${blksize}`, tid!);
    if (block !== expected) {
      // A duplicate or an out-of-window block: re-acknowledge the last in-order block (RFC 7440 §4).
      lastAcked = (expected + 65535) % 65536;
      send(ack(lastAcked), tid!);
      return;
    }
    received += data.length;
    if (received > o.maxBytes) return abortWith(`file exceeds the ${o.maxBytes}-byte limit`, tid!);
    file.append(data);
    progressed = true;
    const last = data.length < blksize;
    const blockNo = expected;
    expected = (expected + 1) % 65536;
    if (last || (blockNo - lastAcked + 65536) % 65536 >= windowsize) {
      lastAcked = blockNo;
      send(ack(blockNo), tid!);
    }
    if (last) finish({ kind: 'file', data: file.bytes(), blksize, windowsize, optionsRefused: false });
  }

  try {
    send(lastSent, serverPort);
    let silent = 0;
    while (!outcome) {
      signal.throwIfAborted();
      const waiter = new AbortController();
      const onOuter = () => waiter.abort(signal.reason);
      signal.addEventListener('abort', onOuter, { once: true });
      const woke = new Promise<void>((r) => (wake = r));
      await Promise.race([woke, o.clock.sleep(retransmitMs + randomInt(0, 50), waiter.signal).catch(() => {})]);
      waiter.abort();
      signal.removeEventListener('abort', onOuter);
      signal.throwIfAborted();
      if (outcome) break;
      if (progressed) {
        progressed = false;
        silent = 0;
        continue;
      }
      if (++silent > o.retries) {
        const because = sendError ? ` (cannot send: ${sendError})` : '';
        return { kind: 'timeout', message: tid === undefined ? `no answer from ${server}:${serverPort} after ${o.retries + 1} requests${because}` : `transfer from ${server} stalled at ${received} bytes${because}` };
      }
      send(lastSent, lastTo);
    }
    return outcome;
  } finally {
    sock.close();
  }
}
