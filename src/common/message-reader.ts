/**
 * Reads whole length-prefixed messages off a stream socket, one at a time, for protocols that
 * take turns (CAPF): `next()` resolves to the next complete message, or rejects when the peer
 * closes, sends more than `maxBytes` in one message, or says nothing within the timeout.
 */
import type { Duplex } from 'node:stream';
import type { Clock } from './clock.ts';

export class MessageReader {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private ended: Error | undefined;
  private readonly messageLength: (buf: Buffer) => number | undefined;
  private readonly maxBytes: number;
  private readonly clock: Clock;

  constructor(socket: Duplex, o: { messageLength: (buf: Buffer) => number | undefined; maxBytes: number; clock: Clock }) {
    this.messageLength = o.messageLength;
    this.maxBytes = o.maxBytes;
    this.clock = o.clock;
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      this.wake();
    });
    socket.on('end', () => this.finish(new Error('peer closed the connection')));
    socket.on('close', () => this.finish(new Error('connection closed')));
    socket.on('error', (e) => this.finish(e));
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
