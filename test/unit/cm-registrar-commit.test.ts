/**
 * The registrar's bindings at scale (issue 12): the in-memory book and its queue, the group
 * commit that holds a 200 until its binding is durable, and the storm budget for per-device
 * log lines.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from '../../src/common/clock.ts';
import { CompanionDb, type RegistrationRecord } from '../../src/cm/db.ts';
import { GroupCommit } from '../../src/cm/group-commit.ts';
import { InlineRegistrationWriter, WorkerRegistrationWriter } from '../../src/cm/registrar/registration-writer.ts';
import { StormLog } from '../../src/cm/storm-log.ts';

const reg = (device: string, expiresAt: number, callId = 'c1'): RegistrationRecord => ({
  device, mac: device.slice(3), user: '1001', contact: 'sip:1001@10.0.0.2:5060;transport=tcp', callId, source: '10.0.0.2:40000',
  modelCode: 683, activeLoad: '', member: '10.0.0.1:5060', registeredAt: 1, expiresAt,
});

test('a reply waits for the commit of its binding; a failed commit answers false', () => {
  let pending = 0;
  const commits: Array<(ok: boolean) => void> = [];
  const deferred: Array<() => void> = [];
  const c = new GroupCommit({ commit: (done) => { pending = 0; commits.push(done); }, pending: () => pending, defer: (fn) => deferred.push(fn) });
  const seen: string[] = [];
  pending = 1;
  c.afterCommit((ok) => seen.push(`a ${ok}`));
  pending = 2;
  c.afterCommit((ok) => seen.push(`b ${ok}`));
  assert.equal(seen, [], 'nothing before the batch is written');
  deferred.shift()!();
  assert.is(commits.length, 1, 'one commit for both');
  pending = 1;
  c.afterCommit((ok) => seen.push(`c ${ok}`));
  assert.is(commits.length, 1, 'one commit in flight at a time');
  commits[0]!(true);
  assert.equal(seen, ['a true', 'b true'], 'both answered once durable, the third not yet');
  assert.is(commits.length, 2, 'what came during the write is committed right after it');
  commits[1]!(false);
  assert.equal(seen, ['a true', 'b true', 'c false']);
  assert.equal(c.stats, { commits: 2, replies: 3, largest: 2, failed: 1 });
});

test('with a pace, the commit after a commit waits for it, and a full batch does not', () => {
  let pending = 0;
  const commits: Array<(ok: boolean) => void> = [];
  const timers: Array<{ ms: number; fn: () => void; cancelled: boolean }> = [];
  const c = new GroupCommit({
    commit: (done) => { pending = 0; commits.push(done); }, pending: () => pending, defer: (fn) => fn(), maxBatch: 10, pace: 2,
    timer: (ms, fn) => {
      const t = { ms, fn, cancelled: false };
      timers.push(t);
      return () => (t.cancelled = true);
    },
  });
  const seen: string[] = [];
  pending = 1;
  c.afterCommit((ok) => seen.push(`a ${ok}`));
  assert.is(commits.length, 1, 'a lone change after a quiet spell is not paced');
  pending = 1;
  c.afterCommit((ok) => seen.push(`b ${ok}`));
  commits[0]!(true);
  assert.equal(seen, ['a true']);
  assert.is(commits.length, 1, 'the change that came during the write waits for the pace');
  assert.equal(timers.map((t) => t.ms), [2]);
  pending = 2;
  c.afterCommit((ok) => seen.push(`c ${ok}`));
  assert.is(commits.length, 1, 'more join the paced batch');
  timers[0]!.fn();
  assert.is(commits.length, 2, 'one commit for both after the pace');
  pending = 3;
  c.afterCommit((ok) => seen.push(`d ${ok}`));
  commits[1]!(true);
  assert.equal(seen, ['a true', 'b true', 'c true']);
  assert.is(timers.length, 2, 'paced again');
  pending = 10;
  c.schedule();
  assert.ok(timers[1]!.cancelled, 'a full batch cancels the pace');
  assert.is(commits.length, 3, 'and is committed at once');
  commits[2]!(true);
  assert.equal(seen, ['a true', 'b true', 'c true', 'd true']);
  assert.is(timers.length, 2, 'nothing waits: no pace');
});

test('drain() does not wait for the pace', async () => {
  let pending = 0;
  const commits: Array<(ok: boolean) => void> = [];
  const c = new GroupCommit({ commit: (done) => { pending = 0; commits.push(done); }, pending: () => pending, defer: (fn) => fn(), pace: 60_000 });
  pending = 1;
  c.afterCommit(() => {});
  pending = 1;
  c.afterCommit(() => {});
  commits[0]!(true);
  const drained = c.drain();
  assert.is(commits.length, 2, 'drain commits what waits at once');
  commits[1]!(true);
  await drained;
});

test('the book binds in memory at once, coalesces changes per device, and writes them in one transaction', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sepi-book-'));
  try {
    const db = new CompanionDb(dir);
    const book = db.registrationBook;
    book.put(reg('SEP001122334455', 100));
    book.put(reg('SEP001122334455', 200, 'c2'));
    book.put(reg('SEP001122334466', 300));
    book.remove('SEP001122334466');
    assert.is(db.registration('SEP001122334455')?.expiresAt, 200, 'seen at once');
    assert.is(book.pending, 2, 'one queued change per device');
    const again = new CompanionDb(dir);
    assert.is(again.registration('SEP001122334455'), undefined, 'nothing on disk before the commit');
    again.close();
    await new Promise<void>((resolve, reject) => new InlineRegistrationWriter(book).write(book.take(), (e) => (e ? reject(e) : resolve())));
    db.close();
    const reopened = new CompanionDb(dir);
    assert.equal(reopened.registrations().map((r) => [r.device, r.expiresAt, r.callId]), [['SEP001122334455', 200, 'c2']]);
    reopened.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the writer thread commits on its own connection; a removed phone takes its binding with it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sepi-book-'));
  try {
    const db = new CompanionDb(dir);
    const book = db.registrationBook;
    const writer = new WorkerRegistrationWriter(db.handle.location()!, new InlineRegistrationWriter(book), (t) => assert.unreachable(t));
    const write = () => new Promise<void>((resolve, reject) => writer.write(book.take(), (e) => (e ? reject(e) : resolve())));
    db.addPhone({ deviceName: 'SEP001122334455', mac: '001122334455', model: '8841', dn: '1001', description: '', password: '', autoregistered: false, createdAt: 'x', versionStamp: 'x' });
    book.put(reg('SEP001122334455', 100));
    await write();
    const other = new CompanionDb(dir);
    assert.is(other.registration('SEP001122334455')?.expiresAt, 100, 'durable: another connection reads it');
    other.close();
    db.removePhone('SEP001122334455');
    assert.is(db.registration('SEP001122334455'), undefined);
    assert.is(book.pending, 1, 'its removal queued behind any write still in flight');
    await write();
    await writer.close();
    db.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('per-device lines past 200 a second are held back and summed up once a second', async () => {
  const clock = new VirtualClock(0);
  const lines: string[] = [];
  const log = new StormLog<string>({ write: (e) => lines.push(e), summary: (t) => lines.push(t), clock, perSecond: 3 });
  for (let i = 0; i < 5; i++) log.entry('200', `line ${i}`);
  log.entry('401', 'line 5');
  assert.equal(lines, ['line 0', 'line 1', 'line 2']);
  await clock.advance(1000);
  assert.equal(lines.at(-1), 'storm: 3 per-client lines held back over 1 s (2 200, 1 401); more than 3 a second');
  log.entry('200', 'line 6');
  assert.equal(lines.at(-1), 'line 6', 'a new second, a new budget');
});

test.run();
