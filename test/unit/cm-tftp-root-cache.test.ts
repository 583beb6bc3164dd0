/**
 * The TFTP root's files kept in memory (src/cm/tftp/root-cache.ts, used by tftp-root.ts): a file
 * asked for again is served from one shared buffer, but only while it is the same file — a file
 * replaced or edited is read again, one changed too recently to tell is never kept — within a
 * byte budget and an idle time.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Clock, SystemClock, VirtualClock } from '../../src/common/clock.ts';
import { type FileIdentity, RootCache } from '../../src/cm/tftp/root-cache.ts';
import { TftpRoot } from '../../src/cm/tftp-root.ts';

const id = (ino: number, size: number, mtimeMs = 1000): FileIdentity => ({ dev: 1, ino, size, mtimeMs, ctimeMs: mtimeMs });
const bytes = (n: number, fill = 1) => Buffer.alloc(n, fill);

test('the same file is one buffer; another identity is a miss and drops the entry', () => {
  const cache = new RootCache(new VirtualClock());
  const data = bytes(10);
  cache.put('/r/a', id(1, 10), data);
  assert.is(cache.get('/r/a', id(1, 10)), data, 'the very buffer kept');
  assert.is(cache.get('/r/a', id(1, 10, 2000)), undefined, 'a later modification time');
  assert.is(cache.size, 0, 'the stale entry is gone');
  cache.put('/r/a', id(1, 10), data);
  assert.is(cache.get('/r/a', id(2, 10)), undefined, 'another inode (the file replaced by a rename)');
  assert.is(cache.get('/r/b', id(1, 10)), undefined, 'another path');
});

test('a byte budget: the least recently used go first, a file larger than the budget is not kept', () => {
  const cache = new RootCache(new VirtualClock(), 100);
  cache.put('/r/a', id(1, 40), bytes(40));
  cache.put('/r/b', id(2, 40), bytes(40));
  assert.ok(cache.get('/r/a', id(1, 40)), 'a used: b is now the least recently used');
  cache.put('/r/c', id(3, 40), bytes(40));
  assert.is(cache.size, 80);
  assert.is(cache.get('/r/b', id(2, 40)), undefined, 'b dropped to make room');
  assert.ok(cache.get('/r/a', id(1, 40)));
  assert.ok(cache.get('/r/c', id(3, 40)));
  cache.put('/r/big', id(4, 101), bytes(101));
  assert.is(cache.get('/r/big', id(4, 101)), undefined, 'over the budget: served, not kept');
  assert.is(cache.size, 80, 'and nothing else dropped for it');
});

test('an entry nobody asked for during the idle time is dropped at the next request', async () => {
  const clock = new VirtualClock();
  const cache = new RootCache(clock, 1000, 60_000);
  cache.put('/r/a', id(1, 10), bytes(10));
  cache.put('/r/b', id(2, 10), bytes(10));
  await clock.advance(40_000);
  assert.ok(cache.get('/r/b', id(2, 10)), 'b used at 40 s');
  await clock.advance(30_000);
  assert.is(cache.get('/r/c', id(3, 10)), undefined);
  assert.is(cache.size, 10, 'a (idle 70 s) dropped, b (idle 30 s) kept');
  assert.ok(cache.get('/r/b', id(2, 10)));
});

// ---- through TftpRoot, on a real folder --------------------------------------------------

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sepi-root-cache-'));
  await mkdir(join(dir, 'tftp-root'));
});
test.after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A clock an hour ahead of the files' times, so none of them is "just changed". */
const later: Clock = { now: () => Date.now() + 3_600_000, sleep: (ms, s) => new SystemClock().sleep(ms, s), timer: (ms, fn) => new SystemClock().timer(ms, fn) };

test('TftpRoot: a file asked for twice is read once; rewritten or replaced, it is read again', async () => {
  const root = new TftpRoot(dir, { clock: later });
  const path = join(dir, 'tftp-root', 'ring.raw');
  await writeFile(path, 'first version');
  await utimes(path, 1_000_000, 1_000_000);
  const a = root.read('ring.raw');
  assert.is(a?.toString(), 'first version');
  assert.is(root.read('ring.raw'), a, 'the same buffer: kept');
  // The same size in place: only the modification time tells.
  await writeFile(path, 'other version');
  await utimes(path, 1_000_010, 1_000_010);
  assert.is(root.read('ring.raw')?.toString(), 'other version');
  // Replaced by a rename (a new inode), as an installer does.
  await writeFile(`${path}.new`, 'third version');
  await rename(`${path}.new`, path);
  assert.is(root.read('ring.raw')?.toString(), 'third version');
});

test('TftpRoot: a file changed within the last seconds is read from disk every time', async () => {
  const root = new TftpRoot(dir, { clock: new SystemClock() });
  await writeFile(join(dir, 'tftp-root', 'fresh.xml'), '<new/>');
  const a = root.read('fresh.xml');
  const b = root.read('fresh.xml');
  assert.is(b?.toString(), '<new/>');
  assert.is.not(a, b, 'not kept: a write in the same clock tick could leave its times unchanged');
});

test.run();
