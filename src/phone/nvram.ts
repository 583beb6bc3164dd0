/**
 * The phone's non-volatile memory as a port: named documents (JSON) and blobs, laid out as
 * docs/nvram.md says. `FileNvram` keeps one directory on flash, every write atomic against a
 * power cut (common/atomic-file.ts); `MemoryNvram` keeps them in memory, for tests and for
 * fleets that need no state across runs. A document that fails to parse (disk corruption) is
 * treated as absent rather than crashing the boot.
 */
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.ts';

export interface Nvram {
  readBytes(name: string): Promise<Buffer | undefined>;
  /** Reads a JSON document; undefined when absent or unreadable (the caller falls back to defaults). */
  read<T>(name: string, check?: (v: unknown) => v is T): Promise<T | undefined>;
  writeBytes(name: string, data: Uint8Array): Promise<void>;
  write(name: string, value: unknown): Promise<void>;
  /** Removes a file or a folder (`trust` takes `trust/itl.tlv` with it). */
  remove(name: string): Promise<void>;
  /** Factory reset: everything goes, but the top-level names in `keep` (the firmware banks). */
  wipe(keep?: readonly string[]): Promise<void>;
}

/** Names are relative, lower-case paths: nothing a document name can do reaches outside NVRAM. */
function checkName(name: string): string {
  if (!/^[a-z][a-z0-9.-]*(\/[a-z][a-z0-9.-]*)*$/.test(name) || name.includes('..')) throw new RangeError(`bad NVRAM name ${name}`);
  return name;
}

const parseDocument = <T>(raw: Buffer | undefined, check?: (v: unknown) => v is T): T | undefined => {
  if (!raw) return undefined;
  try {
    const v: unknown = JSON.parse(raw.toString('utf8'));
    return !check || check(v) ? (v as T) : undefined;
  } catch {
    return undefined;
  }
};
const encodeDocument = (value: unknown) => Buffer.from(JSON.stringify(value, null, 2) + '\n');

export class FileNvram implements Nvram {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  private path(name: string): string {
    return join(this.dir, checkName(name));
  }

  async readBytes(name: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async read<T>(name: string, check?: (v: unknown) => v is T): Promise<T | undefined> {
    return parseDocument(await this.readBytes(`${name}.json`), check);
  }

  writeBytes(name: string, data: Uint8Array): Promise<void> {
    return writeFileAtomic(this.path(name), data);
  }

  write(name: string, value: unknown): Promise<void> {
    return this.writeBytes(`${name}.json`, encodeDocument(value));
  }

  async remove(name: string): Promise<void> {
    await rm(this.path(name), { recursive: true, force: true });
  }

  async wipe(keep: readonly string[] = []): Promise<void> {
    if (keep.length === 0) await rm(this.dir, { recursive: true, force: true });
    else for (const name of await readdir(this.dir).catch(() => [])) if (!keep.includes(name)) await rm(join(this.dir, name), { recursive: true, force: true });
    await mkdir(this.dir, { recursive: true });
  }
}

export class MemoryNvram implements Nvram {
  private readonly files = new Map<string, Buffer>();

  async readBytes(name: string): Promise<Buffer | undefined> {
    const b = this.files.get(checkName(name));
    return b && Buffer.from(b);
  }

  async read<T>(name: string, check?: (v: unknown) => v is T): Promise<T | undefined> {
    return parseDocument(await this.readBytes(`${name}.json`), check);
  }

  async writeBytes(name: string, data: Uint8Array): Promise<void> {
    this.files.set(checkName(name), Buffer.from(data));
  }

  write(name: string, value: unknown): Promise<void> {
    return this.writeBytes(`${name}.json`, encodeDocument(value));
  }

  async remove(name: string): Promise<void> {
    checkName(name);
    for (const k of [...this.files.keys()]) if (k === name || k.startsWith(`${name}/`)) this.files.delete(k);
  }

  async wipe(keep: readonly string[] = []): Promise<void> {
    for (const k of [...this.files.keys()]) if (!keep.includes(k.split('/')[0]!)) this.files.delete(k);
  }

  /** The names held, for tests. */
  names(): string[] {
    return [...this.files.keys()].sort();
  }
}
