/**
 * The companion's TFTP root: a folder of files served as they are, beside the generated ones —
 * firmware loads, locales, ringtones, dial plans, as on a CUCM's TFTP server. Names are looked
 * up under `<data>/tftp-root/`; nothing outside it is ever read: `..` segments, absolute names
 * and NUL are refused, and the resolved real path (symbolic links followed) must stay inside
 * the folder. Only regular files, at most MAX_BYTES (a firmware component fits). Files are kept
 * in memory between requests while they stay the same file (tftp/root-cache.ts).
 */
import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { type Clock, SystemClock } from '../common/clock.ts';
import { RootCache } from './tftp/root-cache.ts';

export const TFTP_ROOT = 'tftp-root';
const MAX_BYTES = 256 * 1024 * 1024;
/**
 * A file's times have the file system's granularity (a clock tick, 2 s on FAT): two writes that
 * close together can leave the same times and size, and a copy kept between them would be
 * stale. So a file changed this recently is read from disk every time, as git does with an
 * index entry as new as the index ("racy git").
 */
const RACY_MS = 2000;

export class TftpRoot {
  private readonly dir: string;
  private real: string | undefined;
  private readonly cache: RootCache;
  private readonly clock: Clock;

  /** The folder itself is made with the data folder (data-folder.ts); until it exists, nothing is found. */
  constructor(dataDir: string, opts: { clock?: Clock; cache?: RootCache } = {}) {
    this.dir = join(dataDir, TFTP_ROOT);
    this.clock = opts.clock ?? new SystemClock();
    this.cache = opts.cache ?? new RootCache(this.clock);
  }

  /**
   * The file's bytes, or undefined when there is no such file inside the root (or it may not be
   * served). The buffer may be shared with other requests: read it, never write to it.
   */
  read(name: string): Buffer | undefined {
    if (name.length === 0 || name.length > 255 || name.includes('\0') || isAbsolute(name)) return undefined;
    const parts = name.split(/[\\/]+/);
    if (parts.some((p) => p === '..' || p === '.')) return undefined;
    const path = join(this.dir, ...parts);
    let real: string;
    try {
      this.real ??= realpathSync(this.dir);
      real = realpathSync(path);
    } catch {
      return undefined;
    }
    const rel = relative(this.real, real);
    if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) return undefined;
    let fd: number;
    try {
      fd = openSync(real, 'r');
    } catch {
      return undefined;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.size > MAX_BYTES) return undefined;
      const id = { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
      const kept = this.cache.get(real, id);
      if (kept) return kept;
      const buf = Buffer.allocUnsafe(st.size);
      let off = 0;
      while (off < st.size) {
        const n = readSync(fd, buf, off, st.size - off, off);
        if (n === 0) break;
        off += n;
      }
      // A file that shrank while being read is served as read, and not kept; so is one changed
      // within the last RACY_MS, whose next change could leave its times as they are.
      if (off < st.size) return buf.subarray(0, off);
      if (this.clock.now() - Math.max(st.mtimeMs, st.ctimeMs) >= RACY_MS) this.cache.put(real, id, buf);
      return buf;
    } finally {
      closeSync(fd);
    }
  }
}
