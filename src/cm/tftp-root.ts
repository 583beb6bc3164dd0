/**
 * The companion's TFTP root: a folder of files served as they are, beside the generated ones —
 * firmware loads, locales, ringtones, dial plans, as on a CUCM's TFTP server. Names are looked
 * up under `<data>/tftp-root/`; nothing outside it is ever read: `..` segments, absolute names
 * and NUL are refused, and the resolved real path (symbolic links followed) must stay inside
 * the folder. Only regular files, at most MAX_BYTES (a firmware component fits).
 */
import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';

export const TFTP_ROOT = 'tftp-root';
const MAX_BYTES = 256 * 1024 * 1024;

export class TftpRoot {
  private readonly dir: string;
  private real: string | undefined;

  /** The folder itself is made with the data folder (data-folder.ts); until it exists, nothing is found. */
  constructor(dataDir: string) {
    this.dir = join(dataDir, TFTP_ROOT);
  }

  /** The file's bytes, or undefined when there is no such file inside the root (or it may not be served). */
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
      const buf = Buffer.allocUnsafe(st.size);
      let off = 0;
      while (off < st.size) {
        const n = readSync(fd, buf, off, st.size - off, off);
        if (n === 0) break;
        off += n;
      }
      return buf.subarray(0, off);
    } finally {
      closeSync(fd);
    }
  }
}
