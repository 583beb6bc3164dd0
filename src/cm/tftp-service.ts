/**
 * The companion's TFTP server (RFC 1350 reads; options of RFC 2347, 2348, 2349 and 7440), on
 * our own codec (src/wire/tftp.ts), fed from memory by a FileSource.
 *
 * Why not the npm `tftp` package any more (it served here until issue 7): attacks on the lab
 * LAN showed that it accepts an ACK from another source port (another transfer ID), refuses a
 * blksize above its maximum instead of lowering it as RFC 2348 allows, lets an EMFILE on a
 * transfer stream escape as an unhandled 'error' that kills the process, binds every transfer
 * socket to all addresses so replies can leave from the interface's other address, and has no
 * limit on transfers. Each of those is a structural choice of the package rather than a bug to
 * patch around. Issue 12 wants windowed transfers (RFC 7440) fast: the package negotiates
 * windowsize, but its streams moved 16 MiB at windowsize 8 at about 60% of this server's rate
 * in the same lab. The package stays a test peer (test/unit/tftp-client.test.ts).
 *
 *   client:port ──RRQ──► host:69 ── checks, limits, lookup ──► ReadTransfer on host:ephemeral
 *                 ◄── ERROR 1/2/4/0 from :69 when no transfer starts
 *
 * On the listening port: RRQ starts a transfer; WRQ is ERROR 2 (the companion is read-only); a
 * malformed request is ERROR 4; DATA, ACK, ERROR, OACK and noise are dropped unanswered (an
 * answer could start an error loop with another server). Answers that start no transfer leave
 * from the listening socket, which needs no new file descriptor, so "busy" and "out of
 * resources" still reach the client when descriptors have run out.
 *
 * Limits (defaults in TFTP_LIMITS): concurrent transfers in total and per client address,
 * refused with ERROR 0 "Server busy" and a 'refused' log entry; blksize and windowsize caps;
 * retransmissions and a stall time per transfer (tftp/read-transfer.ts).
 */
import dgram from 'node:dgram';
import { deepenReceiveQueue } from '../common/udp-queue.ts';
import { type Clock, SystemClock } from '../common/clock.ts';
import { TftpErrorCode, decodeTftp, encodeTftp } from '../wire/tftp.ts';
import type { FileLogEntry, FileSource } from './file-services.ts';
import type { FileAnswer } from './provisioning-files.ts';
import { DEFAULT_MAX_BLKSIZE, DEFAULT_MAX_WINDOWSIZE, DEFAULT_RETRANSMIT_MS, negotiate, refusedName, toNetascii } from './tftp/negotiation.ts';
import { ReadTransfer, type TransferEnd } from './tftp/read-transfer.ts';
import { Tally } from './limits.ts';

export interface TftpLimits {
  /** Transfers at once, all clients together. */
  maxTransfers: number;
  /** Transfers at once from one client address (a phone fetches one file at a time). */
  maxTransfersPerClient: number;
  maxBlksize: number;
  maxWindowsize: number;
  /** Retransmission interval when the client asked no RFC 2349 timeout. */
  retransmitMs: number;
  /** Retransmissions without progress before a transfer ends. */
  retries: number;
  /** A transfer that nothing moved for this long ends, whatever timeout the client asked. */
  stallMs: number;
}

export const TFTP_LIMITS: TftpLimits = {
  maxTransfers: 256,
  maxTransfersPerClient: 16,
  maxBlksize: DEFAULT_MAX_BLKSIZE,
  maxWindowsize: DEFAULT_MAX_WINDOWSIZE,
  retransmitMs: DEFAULT_RETRANSMIT_MS,
  retries: 5,
  stallMs: 30_000,
};

/** How a transfer ended, for tests and counters; the log has one entry when it starts. */
export interface TftpTransferEnd {
  name: string;
  from: string;
  how: TransferEnd;
  detail: string;
}

export interface TftpServiceOptions extends Partial<TftpLimits> {
  /** Retransmission and stall timers; SystemClock unless given. */
  clock?: Clock;
  onTransferEnd?: (e: TftpTransferEnd) => void;
}

/** One transfer's place in the limits, held from the request until its end. */
interface Slot {
  key: string;
  address: string;
  name: string;
  transfer: ReadTransfer | undefined;
  cancelled: boolean;
}

/** Room for about a thousand queued requests. */
const LISTEN_BUFFER_BYTES = 1 << 20;
const BUSY = 'Server busy, try again later';

export class TftpService {
  private readonly files: FileSource;
  private readonly log: (e: FileLogEntry) => void;
  private readonly limits: TftpLimits;
  private readonly clock: Clock;
  private readonly onTransferEnd: ((e: TftpTransferEnd) => void) | undefined;
  private socket: dgram.Socket | undefined;
  private host = '';
  /** By client address:port, the client's transfer ID. */
  private readonly slots = new Map<string, Slot>();
  private readonly perClient = new Tally();

  constructor(files: FileSource, log: (e: FileLogEntry) => void, options: TftpServiceOptions = {}) {
    this.files = files;
    this.log = log;
    const { clock, onTransferEnd, ...limits } = options;
    this.limits = { ...TFTP_LIMITS, ...limits };
    this.clock = clock ?? new SystemClock();
    this.onTransferEnd = onTransferEnd;
  }

  /** Transfers running or starting. */
  get activeTransfers(): number {
    return this.slots.size;
  }

  /** Listens on host:port; resolves to the bound port (the kernel's choice when port is 0). Files come from the FileSource. */
  async start(host: string, port: number): Promise<number> {
    const socket = dgram.createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: host, port }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // After the bind nothing on a UDP socket is fatal to the server: a failed send (ERROR to a
    // client gone, ICMP unreachable) is that client's problem.
    socket.on('error', () => {});
    // A room full of phones powered on at once asks at once: let the kernel queue a burst of
    // requests (it caps this at net.core.rmem_max) rather than drop them while we answer.
    deepenReceiveQueue(socket, LISTEN_BUFFER_BYTES);
    socket.on('message', (msg, from) => this.onDatagram(msg, from));
    this.socket = socket;
    this.host = host;
    return socket.address().port;
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    for (const slot of [...this.slots.values()]) {
      slot.cancelled = true;
      slot.transfer?.stop('server stopping', 'Server shutting down');
    }
    if (socket) await new Promise<void>((r) => socket.close(() => r()));
  }

  private onDatagram(msg: Buffer, from: dgram.RemoteInfo): void {
    try {
      this.request(msg, from);
    } catch {
      this.answer(from, TftpErrorCode.NOT_DEFINED, 'Internal error');
    }
  }

  private request(msg: Buffer, from: dgram.RemoteInfo): void {
    if (msg.length < 2 || msg[0] !== 0 || (msg[1] !== 1 && msg[1] !== 2)) return;
    const d = decodeTftp(msg);
    if (!d.ok) return this.answer(from, TftpErrorCode.ILLEGAL_OPERATION, 'Illegal TFTP operation');
    const req = d.value;
    if (req.op !== 'RRQ' && req.op !== 'WRQ') return;
    const name = req.filename;
    if (req.op === 'WRQ') return this.refuse(from, name, TftpErrorCode.ACCESS_VIOLATION, 'Access violation: read-only server');
    if (refusedName(name) !== undefined) return this.refuse(from, name, TftpErrorCode.ACCESS_VIOLATION, 'Access violation');
    if (req.mode !== 'octet' && req.mode !== 'netascii') return this.refuse(from, name, TftpErrorCode.ILLEGAL_OPERATION, `Unsupported mode ${req.mode}`);

    const key = `${from.address}:${from.port}`;
    const current = this.slots.get(key);
    if (current) {
      // The client asked again before its first answer arrived: that transfer's own
      // retransmission answers it. Anything else from the same port means the client gave the
      // old transfer up and started another.
      if (current.name === name && !current.transfer?.confirmed) return;
      current.cancelled = true;
      // Not told: an ERROR from the old port would only confuse the client's new transfer.
      current.transfer?.stop('replaced by a new request from the same port');
      this.release(current);
    }
    if (this.slots.size >= this.limits.maxTransfers || this.perClient.of(from.address) >= this.limits.maxTransfersPerClient) {
      return this.refuse(from, name, TftpErrorCode.NOT_DEFINED, BUSY);
    }

    let answer: FileAnswer;
    try {
      answer = this.files.lookup(name);
    } catch {
      return this.refuse(from, name, TftpErrorCode.NOT_DEFINED, 'Internal error');
    }
    if (answer.kind === 'absent') {
      this.log({ via: 'tftp', name, from: from.address, result: 'absent' });
      return this.answer(from, TftpErrorCode.FILE_NOT_FOUND, 'File not found');
    }
    const bytes = answer.data.length;
    const data = req.mode === 'netascii' ? toNetascii(answer.data) : answer.data;
    const { params, oack } = negotiate(req.options, data.length, this.limits);
    const slot: Slot = { key, address: from.address, name, transfer: undefined, cancelled: false };
    this.reserve(slot);
    const spec = { host: this.host, peer: { address: from.address, port: from.port }, data, params, oack, retries: this.limits.retries, stallMs: this.limits.stallMs, clock: this.clock };
    ReadTransfer.open(spec, (how, detail) => this.ended(slot, how, detail)).then(
      (transfer) => {
        if (slot.cancelled) return transfer.stop('server stopping or request replaced');
        slot.transfer = transfer;
        this.log({ via: 'tftp', name, from: from.address, result: 'sent', bytes });
        transfer.start();
      },
      (e: NodeJS.ErrnoException) => {
        // EMFILE/ENFILE (descriptors exhausted) or EADDRNOTAVAIL (the address went away): this
        // transfer does not start; the server goes on.
        this.release(slot);
        if (slot.cancelled) return;
        const short = e.code === 'EMFILE' || e.code === 'ENFILE' || e.code === 'ENOBUFS';
        this.refuse(from, name, TftpErrorCode.NOT_DEFINED, short ? 'Out of resources, try again later' : 'Cannot start transfer');
      },
    );
  }

  private reserve(slot: Slot): void {
    this.slots.set(slot.key, slot);
    this.perClient.add(slot.address);
  }

  private release(slot: Slot): void {
    if (this.slots.get(slot.key) !== slot) return;
    this.slots.delete(slot.key);
    this.perClient.remove(slot.address);
  }

  private ended(slot: Slot, how: TransferEnd, detail: string): void {
    this.release(slot);
    this.onTransferEnd?.({ name: slot.name, from: slot.address, how, detail });
  }

  /** One log entry and an ERROR for a request that starts no transfer. */
  private refuse(from: dgram.RemoteInfo, name: string, code: number, message: string): void {
    this.log({ via: 'tftp', name, from: from.address, result: 'refused' });
    this.answer(from, code, message);
  }

  private answer(from: dgram.RemoteInfo, code: number, message: string): void {
    try {
      this.socket?.send(encodeTftp({ op: 'ERROR', code, message }), from.port, from.address, () => {});
    } catch {
      // the socket is closing: the client will time out
    }
  }
}
