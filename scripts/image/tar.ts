/**
 * A small POSIX tar (ustar, with pax headers for long names) writer and reader for `make image`.
 *
 * The writer is deterministic by construction: entries in byte order of their paths, the mode,
 * owner (0/0, root/root) and mtime each entry is given and nothing from the build machine (no
 * umask, no user, no clock), and the archive padded to GNU tar's 10240-byte records. GNU tar,
 * busybox tar and bsdtar read it. The reader reads what the writer writes and npm's package
 * tarballs (ustar, pax `path`/`linkpath`, GNU `L`/`K` long names).
 */

export type TarEntry =
  | { path: string; type: 'dir'; mode: number }
  | { path: string; type: 'file'; mode: number; data: Uint8Array }
  | { path: string; type: 'symlink'; target: string };

export interface TarOptions {
  /** Seconds since the epoch, the mtime of every entry. */
  mtime: number;
}

const BLOCK = 512;
const RECORD = 10240;
const enc = new TextEncoder();

function octal(h: Buffer, at: number, width: number, n: number): void {
  const s = n.toString(8);
  if (s.length > width - 1) throw new Error(`tar: ${n} does not fit ${width - 1} octal digits`);
  h.write(s.padStart(width - 1, '0') + '\0', at, width, 'ascii');
}

function header(name: string, prefix: string, o: { mode: number; size: number; mtime: number; type: string; link?: string }): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, o.mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, o.size);
  octal(h, 136, 12, o.mtime);
  h.write(o.type, 156, 1, 'ascii');
  if (o.link) h.write(o.link, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  octal(h, 329, 8, 0);
  octal(h, 337, 8, 0);
  h.write(prefix, 345, 155, 'utf8');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** name and prefix fields for a path, or undefined when it needs a pax header. */
function split(path: string): [string, string] | undefined {
  const bytes = enc.encode(path).length;
  if (bytes <= 100) return [path, ''];
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (enc.encode(prefix).length <= 155 && enc.encode(name).length <= 100 && name.length > 0) return [name, prefix];
  }
  return undefined;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = enc.encode(body).length + 1;
  while (String(len).length + enc.encode(body).length !== len) len++;
  return `${len}${body}`;
}

const pad = (n: number) => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);

function checkPath(p: string): void {
  if (!p || p.startsWith('/') || p.endsWith('/') || p.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new Error(`tar: bad entry path "${p}"`);
}

/** The archive (uncompressed) of `entries`, sorted by path; duplicate paths are refused. */
export function writeTar(entries: TarEntry[], opts: TarOptions): Buffer {
  const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const out: Buffer[] = [];
  let prev: string | undefined;
  for (const e of sorted) {
    checkPath(e.path);
    if (e.path === prev) throw new Error(`tar: ${e.path} twice`);
    prev = e.path;
    const path = e.type === 'dir' ? `${e.path}/` : e.path;
    const link = e.type === 'symlink' ? e.target : '';
    const fields = split(path);
    const longLink = enc.encode(link).length > 100;
    if (!fields || longLink) {
      const pax = Buffer.from((fields ? '' : paxRecord('path', path)) + (longLink ? paxRecord('linkpath', link) : ''), 'utf8');
      const base = path.replace(/\/$/, '').split('/').pop()!.slice(0, 80);
      out.push(header(`PaxHeaders/${base}`, '', { mode: 0o644, size: pax.length, mtime: opts.mtime, type: 'x' }), pax, pad(pax.length));
    }
    const [name, prefix] = fields ?? [path.slice(-100).replace(/^[^/]*\//, ''), ''];
    const data = e.type === 'file' ? Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength) : Buffer.alloc(0);
    const mode = e.type === 'symlink' ? 0o777 : e.mode;
    out.push(header(name, prefix, { mode, size: data.length, mtime: opts.mtime, type: e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2', link: longLink ? link.slice(0, 100) : link }));
    if (data.length) out.push(data, pad(data.length));
  }
  out.push(Buffer.alloc(2 * BLOCK));
  const size = out.reduce((n, b) => n + b.length, 0);
  out.push(Buffer.alloc((RECORD - (size % RECORD)) % RECORD));
  return Buffer.concat(out);
}

export interface ReadEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  size: number;
  linkname: string;
  data: Buffer;
}

const str = (b: Buffer, at: number, len: number) => {
  const s = b.subarray(at, at + len);
  const z = s.indexOf(0);
  return (z === -1 ? s : s.subarray(0, z)).toString('utf8');
};
const num = (b: Buffer, at: number, len: number) => parseInt(str(b, at, len).trim() || '0', 8);

function paxFields(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp === -1) break;
    const len = Number(data.subarray(i, sp).toString('ascii'));
    if (!(len > 0)) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Every entry of an (uncompressed) archive, in archive order; paths without a trailing slash. */
export function readTar(tar: Buffer): ReadEntry[] {
  const out: ReadEntry[] = [];
  let at = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  while (at + BLOCK <= tar.length) {
    const h = tar.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== num(h, 148, 8)) throw new Error(`tar: bad header checksum at ${at}`);
    const size = num(h, 124, 12);
    const type = String.fromCharCode(h[156]!) || '0';
    const data = tar.subarray(at + BLOCK, at + BLOCK + size);
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x') {
      pax = { ...pax, ...paxFields(data) };
      continue;
    }
    if (type === 'g') continue;
    if (type === 'L' || type === 'K') {
      const v = str(data, 0, data.length);
      if (type === 'L') longName = v;
      else longLink = v;
      continue;
    }
    const prefix = str(h, 345, 155);
    const name = str(h, 0, 100);
    const path = (pax['path'] ?? longName ?? (prefix ? `${prefix}/${name}` : name)).replace(/\/+$/, '');
    const kind = type === '0' || type === '\0' || type === '7' ? 'file' : type === '5' ? 'dir' : type === '2' ? 'symlink' : type === '1' ? 'hardlink' : 'other';
    out.push({
      path, type: kind, mode: num(h, 100, 8), uid: num(h, 108, 8), gid: num(h, 116, 8), uname: str(h, 265, 32), gname: str(h, 297, 32),
      mtime: num(h, 136, 12), size, linkname: pax['linkpath'] ?? longLink ?? str(h, 157, 100), data,
    });
    pax = {};
    longName = undefined;
    longLink = undefined;
  }
  return out;
}
