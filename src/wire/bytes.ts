import { WireError } from './result.ts';

/** Bounds-checked big-endian reader; every overrun is a WireError naming the offset. */
export class ByteReader {
  readonly buf: Uint8Array;
  readonly format: string;
  offset: number;
  private readonly view: DataView;

  constructor(format: string, buf: Uint8Array, offset = 0) {
    this.format = format;
    this.buf = buf;
    this.offset = offset;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  need(n: number, what: string): void {
    if (n < 0 || this.offset + n > this.buf.length) {
      throw new WireError(this.format, 'truncated', `${what} needs ${n} bytes, ${this.remaining} left`, this.offset);
    }
  }

  u8(what = 'byte'): number {
    this.need(1, what);
    return this.view.getUint8(this.offset++);
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  bytes(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  fail(code: string, message: string, at = this.offset): never {
    throw new WireError(this.format, code, message, at);
  }
}

/** Growable big-endian writer for the encoders. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  length = 0;

  private grow(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  u8(v: number): this {
    this.grow(1);
    this.buf[this.length++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    return this.u8(v >>> 8).u8(v);
  }

  u32(v: number): this {
    return this.u16(v >>> 16).u16(v & 0xffff);
  }

  bytes(b: Uint8Array): this {
    this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  zeros(n: number): this {
    this.grow(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
    return this;
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}

export const ascii = (s: string): Uint8Array => Buffer.from(s, 'latin1');
export const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
