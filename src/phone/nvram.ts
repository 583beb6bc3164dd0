/**
 * The phone's non-volatile memory: one directory, one JSON document per concern (layout in
 * docs/nvram.md). Every write is atomic against a power cut at any instant: write a temporary
 * file, fsync it, rename it over the old one, fsync the directory. A reader therefore sees
 * either the old or the new document, never a torn one; a document that still fails to parse
 * (disk corruption) is reported and treated as absent rather than crashing the boot.
 */
import { mkdir, open, readFile, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export class Nvram {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  private path(name: string): string {
    if (!/^[a-z][a-z0-9.-]*(\/[a-z][a-z0-9.-]*)*$/.test(name) || name.includes('..')) throw new RangeError(`bad NVRAM name ${name}`);
    return join(this.dir, name);
  }

  async readBytes(name: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Reads a JSON document; undefined when absent or unreadable (the caller falls back to defaults). */
  async read<T>(name: string, check?: (v: unknown) => v is T): Promise<T | undefined> {
    const raw = await this.readBytes(`${name}.json`);
    if (!raw) return undefined;
    try {
      const v: unknown = JSON.parse(raw.toString('utf8'));
      return !check || check(v) ? (v as T) : undefined;
    } catch {
      return undefined;
    }
  }

  async writeBytes(name: string, data: Uint8Array): Promise<void> {
    const final = this.path(name);
    const dir = join(final, '..');
    await mkdir(dir, { recursive: true });
    const tmp = `${final}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, final);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }

  write(name: string, value: unknown): Promise<void> {
    return this.writeBytes(`${name}.json`, Buffer.from(JSON.stringify(value, null, 2) + '\n'));
  }

  async remove(name: string): Promise<void> {
    await rm(this.path(name), { recursive: true, force: true });
  }

  /** Factory reset: everything goes. */
  async wipe(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    await mkdir(this.dir, { recursive: true });
  }
}
