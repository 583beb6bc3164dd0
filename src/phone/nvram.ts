/**
 * The phone's non-volatile memory: one directory, one JSON document per concern (layout in
 * docs/nvram.md). Every write is atomic against a power cut (common/atomic-file.ts); a document
 * that still fails to parse (disk corruption) is treated as absent rather than crashing the boot.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.ts';

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

  writeBytes(name: string, data: Uint8Array): Promise<void> {
    return writeFileAtomic(this.path(name), data);
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
