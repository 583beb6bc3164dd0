/**
 * A write whose fsync is left to the next group commit.
 *
 * The companion's database runs with synchronous=FULL: every commit waits for the WAL to reach
 * the disk (0.2–1 ms here, several under load), and in the event loop that wait stops every
 * request behind it. In a boot storm the registrar makes two such writes per new phone besides
 * its binding (the autoregistered phone's row, and the mark that it came back on its own
 * file), thousands a second.
 *
 * Run with synchronous=NORMAL, such a commit writes its WAL frames (the OS has them: a kill -9
 * loses nothing) without the fsync. The registrar answers a REGISTER only after its binding's
 * group commit (group-commit.ts), and that commit — by another connection to
 * the same database, after this write — fsyncs the WAL file, which takes these frames to the
 * disk with its own. So the write is durable before anything is acknowledged, with no fsync of
 * its own. Use it only where such a commit follows before the answer; anything else keeps
 * synchronous=FULL.
 */
import type { DatabaseSync } from 'node:sqlite';

export function withDeferredSync<T>(db: DatabaseSync, write: () => T): T {
  db.exec('PRAGMA synchronous = NORMAL');
  try {
    return write();
  } finally {
    db.exec('PRAGMA synchronous = FULL');
  }
}
