/**
 * Reads whole length-prefixed messages off a stream socket, one at a time, for protocols that
 * take turns (CAPF): `next()` resolves to the next complete message, or rejects when the peer
 * closes, sends more than `maxBytes` in one message, or says nothing within the timeout.
 */
import type { Duplex } from 'node:stream';
import type { Clock } from './clock.ts';

/** Where the bytes come from: a phone's TcpConnection port, or a Node socket (socketSource). */
export interface ByteSource {
  onData(handler: (data: Buffer) => void): void;
  onClose(handler: (reason: string) => void): void;
}

export const socketSource = (socket: Duplex): ByteSource => ({
  onData: (h) => socket.on('data', h),
  onClose: (h) => {
    socket.on('end', () => h('peer closed the connection'));
    socket.on('close', () => h('connection closed'));
    socket.on('error', (e) => h(e.message));
  },
});

export class MessageReader {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private ended: Error | undefined;
  private readonly messageLength: (buf: Buffer) => number | undefined;
  private readonly maxBytes: number;
  private readonly clock: Clock;

  constructor(source: ByteSource, o: { messageLength: (buf: Buffer) => number | undefined; maxBytes: number; clock: Clock }) {
    this.messageLength = o.messageLength;
    this.maxBytes = o.maxBytes;
    this.clock = o.clock;
    source.onData((chunk) => {
      if (this.ended) return;
      // Never more than one largest message held, whether or not anyone is reading: a peer that
      // streams bytes ends its connection, not the process's memory.
      if (this.buf.length + chunk.length > this.maxBytes) {
        this.buf = Buffer.alloc(0);
        this.finish(new Error(`more than ${this.maxBytes} bytes unread`));
        return;
      }
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      this.wake();
    });
    source.onClose((why) => this.finish(new Error(why)));
  }

  /** Stops taking data (the conversation is over): what still arrives is dropped. */
  close(): void {
    this.finish(new Error('closed'));
    this.buf = Buffer.alloc(0);
  }

  private finish(e: Error): void {
    this.ended ??= e;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async next(timeoutMs: number, what: string): Promise<Buffer> {
    let timedOut = false;
    const cancel = this.clock.timer(timeoutMs, () => {
      timedOut = true;
      this.wake();
    });
    try {
      for (;;) {
        const need = this.messageLength(this.buf);
        if (need !== undefined && need > this.maxBytes) throw new Error(`${what}: message of ${need} bytes exceeds ${this.maxBytes}`);
        if (need !== undefined && this.buf.length >= need) {
          const m = this.buf.subarray(0, need);
          this.buf = this.buf.subarray(need);
          return m;
        }
        if (this.ended) throw new Error(`${what}: ${this.ended.message}`);
        if (timedOut) throw new Error(`${what}: nothing within ${Math.round(timeoutMs / 1000)} s`);
        await new Promise<void>((r) => (this.waiter = r));
      }
    } finally {
      cancel();
    }
  }
}
