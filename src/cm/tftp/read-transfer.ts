/**
 * One read transfer (RRQ) of the companion's TFTP server, from a socket of its own:
 *
 *   [OACK ──► ACK 0] ──► DATA a+1 … a+w ──► ACK b (a < b ≤ a+w) ──► DATA b+1 … b+w ──► … ACK last
 *
 * - The socket is bound to the server's address (not 0.0.0.0), so on an interface with several
 *   addresses the replies leave from the one the client asked, and an ephemeral port, the
 *   server's transfer ID (RFC 1350 §4).
 * - A datagram from any other address or port gets ERROR 5 "Unknown transfer ID" and changes
 *   nothing; only the client's own ACKs move the transfer.
 * - Windowed (RFC 7440): up to `windowsize` blocks go out, and the next window starts after the
 *   block the client last acknowledged, whether it acknowledged the whole window or less.
 * - Only an ACK that acknowledges something new sends anything. A duplicate ACK is dropped:
 *   answering it with the next blocks again is the sorcerer's apprentice (RFC 1123 §4.2.3.1),
 *   where every delayed block doubles the traffic until the end of the file.
 * - A timer retransmits the window (or the OACK) when nothing new was acknowledged within the
 *   retransmission interval, at most `retries` times, and the transfer also ends when nothing
 *   moved for `stallMs`, so a client asking timeout 255 cannot hold a slot for 25 minutes.
 * - The last block is shorter than blksize: an empty one when the size is a multiple of it.
 * - Nothing here throws: a socket error or an exception ends this transfer, never the process.
 */
import dgram from 'node:dgram';
import type { Clock } from '../../common/clock.ts';
import { TftpErrorCode, type TftpOptions, decodeTftp, encodeTftp } from '../../wire/tftp.ts';
import type { TransferParams } from './negotiation.ts';

export interface TftpPeer {
  address: string;
  port: number;
}

export interface ReadTransferSpec {
  /** The address the socket binds: the server's own. */
  host: string;
  peer: TftpPeer;
  /** The bytes sent; never written to (blocks go out as views of it). */
  data: Buffer;
  params: TransferParams;
  oack: TftpOptions | undefined;
  retries: number;
  stallMs: number;
  clock: Clock;
}

/** How a transfer ended: all sent and acknowledged, the client gone or said no, or us. */
export type TransferEnd = 'done' | 'timeout' | 'aborted' | 'failed' | 'stopped';

const UNKNOWN_TID = encodeTftp({ op: 'ERROR', code: TftpErrorCode.UNKNOWN_TID, message: 'Unknown transfer ID' });
const OP_ACK = 4;
const OP_ERROR = 5;
const ignore = () => {};
/**
 * Every DATA header there is (opcode 3 and block numbers 0–65535, which roll over as tftpd-hpa's
 * do), made once: a block goes out as two pieces, its header from here and its bytes straight
 * from the file, gathered by the kernel into one datagram. Nothing is copied or allocated per
 * block but two views; the file's buffer is never written to, so the views stay valid while
 * sends are pending, and transfers of the same file share it.
 */
const DATA_HEADERS = Buffer.alloc(65536 * 4);
for (let i = 0; i < 65536; i++) DATA_HEADERS.writeUInt32BE(0x00030000 | i, i * 4);

export class ReadTransfer {
  private readonly spec: ReadTransferSpec;
  private readonly socket: dgram.Socket;
  private readonly onEnd: (how: TransferEnd, detail: string) => void;
  /** Blocks in the file: the last one is shorter than blksize, possibly empty. */
  private readonly blocks: number;
  private phase: 'oack' | 'data';
  /** Absolute numbers (the wire's are these mod 65536): the last block ACKed, the last sent. */
  private acked = 0;
  private sent = 0;
  private retransmits = 0;
  private lastProgress: number;
  /** When the current window (or the OACK) last went out. */
  private sentAt = 0;
  private cancelTimer: (() => void) | undefined;
  private ended = false;
  private heard = false;

  /** Binds the transfer's socket; rejects (EMFILE, EADDRNOTAVAIL…) without side effects. */
  static open(spec: ReadTransferSpec, onEnd: (how: TransferEnd, detail: string) => void): Promise<ReadTransfer> {
    return new Promise((resolve, reject) => {
      let socket: dgram.Socket;
      try {
        socket = dgram.createSocket({ type: 'udp4' });
      } catch (e) {
        return reject(e);
      }
      const failed = (e: unknown) => {
        try {
          socket.close();
        } catch {
          // never bound: nothing to close
        }
        reject(e);
      };
      socket.once('error', failed);
      try {
        socket.bind({ address: spec.host, port: 0 }, () => {
          socket.off('error', failed);
          resolve(new ReadTransfer(spec, socket, onEnd));
        });
      } catch (e) {
        socket.off('error', failed);
        failed(e);
      }
    });
  }

  private constructor(spec: ReadTransferSpec, socket: dgram.Socket, onEnd: (how: TransferEnd, detail: string) => void) {
    this.spec = spec;
    this.socket = socket;
    this.onEnd = onEnd;
    this.blocks = Math.floor(spec.data.length / spec.params.blksize) + 1;
    this.phase = spec.oack ? 'oack' : 'data';
    this.lastProgress = spec.clock.now();
    socket.on('error', (e) => this.end('failed', `socket: ${e.message}`, 'Transfer failed'));
    socket.on('message', (msg, from) => {
      if (this.ended) return;
      try {
        this.onMessage(msg, from);
      } catch (e) {
        this.end('failed', `exception: ${(e as Error).message}`, 'Transfer failed');
      }
    });
  }

  /** Whether the client has answered yet (a retransmitted RRQ before that is a duplicate). */
  get confirmed(): boolean {
    return this.heard;
  }

  start(): void {
    this.guard(() => (this.phase === 'oack' ? this.sendOack() : this.sendWindow()));
  }

  /** Ends the transfer from the server's side, telling the client why when there is a reason to. */
  stop(detail: string, tell?: string): void {
    this.end('stopped', detail, tell);
  }

  private guard(f: () => void): void {
    if (this.ended) return;
    try {
      f();
    } catch (e) {
      this.end('failed', `exception: ${(e as Error).message}`, 'Transfer failed');
    }
  }

  private onMessage(msg: Buffer, from: dgram.RemoteInfo): void {
    const { peer } = this.spec;
    if (from.port !== peer.port || from.address !== peer.address) {
      // Never answer an error with an error: two endpoints could bounce them for ever.
      if (!(msg.length >= 2 && msg[0] === 0 && msg[1] === OP_ERROR)) this.socket.send(UNKNOWN_TID, from.port, from.address, ignore);
      return;
    }
    // The hot path: one ACK per window, read without the codec's allocations. Like tftpd-hpa,
    // bytes after the block number are not held against the client.
    if (msg.length >= 4 && msg[0] === 0 && msg[1] === OP_ACK) return this.onAck(msg.readUInt16BE(2));
    const p = decodeTftp(msg);
    if (p.ok && p.value.op === 'ERROR') {
      this.end('aborted', `client error ${p.value.code}: ${p.value.message}`);
    }
    // Anything else from the client (a DATA, a garbled packet) is ignored: the timer still runs.
  }

  private onAck(block: number): void {
    this.heard = true;
    if (this.phase === 'oack') {
      if (block !== 0) return;
      this.phase = 'data';
      this.progressed();
      return this.sendWindow();
    }
    // Which of the blocks sent and not yet acknowledged this ACK names, if any.
    const ahead = (block - this.acked) & 0xffff;
    if (ahead === 0 || ahead > this.sent - this.acked) return; // a duplicate, or no block of ours
    this.acked += ahead;
    this.progressed();
    if (this.acked >= this.blocks) return this.end('done', `${this.spec.data.length} bytes`);
    this.sendWindow();
  }

  private progressed(): void {
    this.retransmits = 0;
    this.lastProgress = this.spec.clock.now();
  }

  private sendOack(): void {
    this.socket.send(encodeTftp({ op: 'OACK', options: this.spec.oack ?? {} }), this.spec.peer.port, this.spec.peer.address);
    this.arm();
  }

  /** The window after the last acknowledged block (a retransmission is the same window again). */
  private sendWindow(): void {
    const last = Math.min(this.acked + this.spec.params.windowsize, this.blocks);
    for (let b = this.acked + 1; b <= last; b++) this.sendBlock(b);
    this.sent = last;
    this.arm();
  }

  private sendBlock(n: number): void {
    const { data, params, peer } = this.spec;
    const start = (n - 1) * params.blksize;
    const end = Math.min(start + params.blksize, data.length);
    const h = (n & 0xffff) * 4;
    this.socket.send([DATA_HEADERS.subarray(h, h + 4), data.subarray(start, end)], peer.port, peer.address);
  }

  /**
   * The window (or OACK) just went out: retransmit it one interval from now unless an ACK moves
   * the transfer first. One timer runs per transfer and is not re-armed for every ACK (a
   * lock-step client ACKs every block, and that cost shows); when it fires early it looks at
   * when the window last went out and sleeps again for the rest.
   */
  private arm(): void {
    this.sentAt = this.spec.clock.now();
    if (!this.cancelTimer) this.schedule();
  }

  private schedule(): void {
    const { clock, params, stallMs } = this.spec;
    const now = clock.now();
    const wait = Math.min(this.sentAt + params.retransmitMs - now, this.lastProgress + stallMs - now);
    this.cancelTimer = clock.timer(Math.max(0, wait), () => {
      this.cancelTimer = undefined;
      this.guard(() => this.onTimer());
    });
  }

  private onTimer(): void {
    const now = this.spec.clock.now();
    const idle = now - this.lastProgress;
    if (idle >= this.spec.stallMs) return this.end('timeout', `nothing acknowledged for ${idle} ms`);
    if (now - this.sentAt < this.spec.params.retransmitMs) return this.schedule(); // an ACK moved it meanwhile
    if (this.retransmits >= this.spec.retries) return this.end('timeout', `nothing acknowledged after ${this.retransmits} retransmissions`);
    this.retransmits++;
    if (this.phase === 'oack') this.sendOack();
    else this.sendWindow();
  }

  /** Ends once: the timer cancelled, an ERROR to the client when there is something to say, the socket closed. */
  private end(how: TransferEnd, detail: string, tell?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const close = () => {
      try {
        this.socket.close();
      } catch {
        // already closed
      }
    };
    if (tell === undefined) close();
    else {
      try {
        const { peer } = this.spec;
        this.socket.send(encodeTftp({ op: 'ERROR', code: TftpErrorCode.NOT_DEFINED, message: tell }), peer.port, peer.address, close);
      } catch {
        close();
      }
    }
    try {
      this.onEnd(how, detail);
    } catch {
      // the owner's bookkeeping must not undo the end
    }
  }
}
