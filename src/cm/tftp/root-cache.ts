/**
 * The TFTP root's files kept in memory between requests (tftp-root.ts). A load component of
 * tens of MiB was read from disk into a new buffer for every request: for HTTP 6970 that read
 * cost as much as sending it (16 MiB: ~10 ms of a ~40 ms fetch), and a room of phones fetching
 * the same load held a copy each. Now one buffer serves every transfer of the file.
 *
 * An entry is used only while the file is the same one: its identity (device, inode, size,
 * modification and change times, from an fstat the caller does anyway) is compared on every
 * request, so a file replaced or edited is read again. Buffers handed out are shared and must
 * never be written to (the TFTP and HTTP servers only read them).
 *
 * Bounded: at most `maxBytes` held (least recently used dropped first; a file larger than that
 * is served but not kept), and an entry not asked for during `idleMs` is dropped at the next
 * request (no timer: the cache has no life of its own to stop).
 */
import type { Clock } from '../../common/clock.ts';

/** What says a file is still the one read: fstat's fields that change when it does. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

interface Entry {
  id: FileIdentity;
  data: Buffer;
  usedAt: number;
}

export const ROOT_CACHE_BYTES = 256 * 1024 * 1024;
export const ROOT_CACHE_IDLE_MS = 10 * 60_000;

const same = (a: FileIdentity, b: FileIdentity) =>
  a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;

export class RootCache {
  /** By real path, least recently used first (a Map keeps insertion order). */
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private readonly clock: Clock;
  private readonly maxBytes: number;
  private readonly idleMs: number;

  constructor(clock: Clock, maxBytes = ROOT_CACHE_BYTES, idleMs = ROOT_CACHE_IDLE_MS) {
    this.clock = clock;
    this.maxBytes = maxBytes;
    this.idleMs = idleMs;
  }

  /** Bytes held. */
  get size(): number {
    return this.bytes;
  }

  /** The file's bytes when the cached ones are of this very file, else undefined. */
  get(path: string, id: FileIdentity): Buffer | undefined {
    const now = this.clock.now();
    this.expire(now);
    const e = this.entries.get(path);
    if (!e) return undefined;
    this.entries.delete(path);
    if (!same(e.id, id)) {
      this.bytes -= e.data.length;
      return undefined;
    }
    e.usedAt = now;
    this.entries.set(path, e);
    return e.data;
  }

  /** Keeps a file just read, making room by dropping the least recently used. */
  put(path: string, id: FileIdentity, data: Buffer): void {
    const old = this.entries.get(path);
    if (old) {
      this.entries.delete(path);
      this.bytes -= old.data.length;
    }
    if (data.length > this.maxBytes) return;
    for (const [p, e] of this.entries) {
      if (this.bytes + data.length <= this.maxBytes) break;
      this.entries.delete(p);
      this.bytes -= e.data.length;
    }
    this.entries.set(path, { id, data, usedAt: this.clock.now() });
    this.bytes += data.length;
  }

  private expire(now: number): void {
    for (const [p, e] of this.entries) {
      if (now - e.usedAt < this.idleMs) break; // the rest were used later
      this.entries.delete(p);
      this.bytes -= e.data.length;
    }
  }
}
