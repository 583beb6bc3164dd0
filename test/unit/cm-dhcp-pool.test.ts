/**
 * The DHCP server's in-memory lease index (dhcp/address-pool.ts) and its parts: the min-heap,
 * the free addresses (cursor + heap), group commit (ACKs held until their commit), the lease
 * journal and its worker-thread writer. The pool is checked against a model over random
 * sequences of DISCOVER, REQUEST, RELEASE, DECLINE, time passing and restarts: no address is
 * ever bound to two MACs, offers never collide with another client's live lease, and after a
 * commit the table in SQLite says what the index says.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { VirtualClock } from '../../src/common/clock.ts';
import { buildConfig } from '../../src/cm/config.ts';
import { CompanionDb, type LeaseRecord } from '../../src/cm/db.ts';
import { AddressPool, DECLINE_HOLD_MS, OFFER_HOLD_MS, toInt } from '../../src/cm/dhcp/address-pool.ts';
import { FreeAddresses } from '../../src/cm/dhcp/free-addresses.ts';
import { DhcpCommit } from '../../src/cm/dhcp/group-commit.ts';
import type { Outgoing } from '../../src/cm/dhcp/handler.ts';
import { LeaseJournal } from '../../src/cm/dhcp/lease-journal.ts';
import { InlineLeaseWriter, WorkerLeaseWriter } from '../../src/cm/dhcp/lease-writer.ts';
import { MinHeap } from '../../src/cm/dhcp/min-heap.ts';
import { ipv4ToInt } from '../../src/wire/ipv4.ts';

const SEED = 0x12d;
const SELF = '10.30.0.1';
const small = (first: string, last: string, leaseSecs = 3600) => buildConfig({ dhcp: { poolFirst: first, poolLast: last, leaseSecs } }, { address: SELF, prefix: 24 });
const mac = (n: number) => `02000000${n.toString(16).padStart(4, '0').toUpperCase()}`;

interface Ctx { dir: string; db: CompanionDb; clock: VirtualClock }
const t = suite<Ctx>('DHCP lease index');

t.before.each(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), 'sepi-cm-dhcp-pool-'));
  ctx.db = new CompanionDb(ctx.dir);
  ctx.clock = new VirtualClock();
});

t.after.each(async (ctx) => {
  try {
    ctx.db.close();
  } catch {
    // closed by the test
  }
  await rm(ctx.dir, { recursive: true, force: true });
});

/** DISCOVER (allocate + hold) then REQUEST (allocate + bind) as the handler does them. */
function lease(pool: AddressPool, m: string): string | undefined {
  const a = pool.allocate(m);
  if (!a) return undefined;
  pool.hold(m, a);
  assert.is(pool.allocate(m), a, 'the REQUEST finds the offer');
  pool.bind(m, a, '');
  return a;
}

const rows = (db: CompanionDb) => Object.fromEntries(db.leases().map((l) => [l.mac, l.address]));

// ---- parts ---------------------------------------------------------------------------------------

t('MinHeap pops in order whatever the pushes, and retain() keeps only what it is told to', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 200 }), (xs) => {
    const h = new MinHeap<number>((a, b) => a < b);
    for (const x of xs) h.push(x);
    const out: number[] = [];
    while (h.size) out.push(h.pop()!);
    assert.equal(out, [...xs].sort((a, b) => a - b));
    for (const x of xs) h.push(x);
    h.retain((x) => x % 2 === 0);
    const even: number[] = [];
    while (h.size) even.push(h.pop()!);
    assert.equal(even, xs.filter((x) => x % 2 === 0).sort((a, b) => a - b));
  }), { seed: SEED, numRuns: 200 });
});

t('the pool\'s quick address parser agrees with ipv4ToInt, throws included', () => {
  const r = (f: (s: string) => number, s: string) => {
    try {
      return String(f(s));
    } catch {
      return 'throw';
    }
  };
  const part = fc.oneof(fc.nat(300).map(String), fc.constantFrom('', '0', '00', '01', '255', '256', '1000', 'a', ' 1'));
  fc.assert(fc.property(fc.array(part, { maxLength: 6 }).map((a) => a.join('.')), (s) => r(toInt, s) === r(ipv4ToInt, s)), { seed: SEED, numRuns: 5000 });
  assert.is(toInt('255.255.255.255'), 0xffffffff);
});

t('FreeAddresses: lowest free first; what is handed back below the cursor comes back; nothing scans the range', () => {
  const taken = new Set<number>([100, 101]);
  let asked = 0;
  const f = new FreeAddresses(100, 100_000_000, (n) => {
    asked++;
    return taken.has(n);
  });
  assert.is(f.peek(), 102);
  taken.add(102);
  taken.add(103);
  assert.is(f.peek(), 104);
  taken.delete(101);
  f.add(101);
  assert.is(f.peek(), 101, 'handed back below the cursor');
  f.add(101);
  assert.is(f.backlog, 1, 'queued once');
  taken.add(101);
  assert.is(f.peek(), 104, 'taken again: dropped at the top');
  assert.is(f.backlog, 0);
  assert.ok(asked < 20, `${asked} checks for a range of 100 million`);
  const full = new FreeAddresses(1, 3, () => true);
  assert.is(full.peek(), undefined);
});

t('DhcpCommit: ACKs wait for their commit, other replies do not; one commit in flight; a full batch commits at once; a failure drops its ACKs', () => {
  const sent: string[] = [];
  const dropped: string[] = [];
  let pending = 0;
  const commits: Array<(ok: boolean) => void> = [];
  const deferred: Array<() => void> = [];
  const g = new DhcpCommit({
    commit: (done) => {
      pending = 0;
      commits.push(done);
    },
    pending: () => pending,
    send: (o) => sent.push(o.address),
    dropped: (o) => dropped.push(o.address),
    defer: (fn) => deferred.push(fn),
    maxBatch: 3,
  });
  const out = (address: string, afterCommit?: boolean): Outgoing => ({ bytes: Buffer.alloc(0), address, port: 67, ...(afterCommit ? { afterCommit } : {}) });
  g.submit(out('offer-1'));
  assert.equal(sent, ['offer-1'], 'an OFFER goes at once');
  assert.is(deferred.length, 0, 'nothing to commit');
  pending = 1;
  g.submit(out('ack-1', true));
  assert.equal(sent, ['offer-1'], 'the ACK waits');
  assert.is(deferred.length, 1, 'a commit is scheduled');
  deferred.shift()!();
  assert.is(commits.length, 1);
  pending = 1;
  g.submit(out('ack-2', true));
  pending = 3;
  g.submit(out('ack-3', true));
  assert.is(commits.length, 1, 'one commit in flight at a time, even with a full batch');
  commits.shift()!(true);
  assert.equal(sent, ['offer-1', 'ack-1'], 'sent once its commit is done');
  assert.is(commits.length, 1, 'what arrived meanwhile is committed right after');
  commits.shift()!(false);
  assert.equal(dropped, ['ack-2', 'ack-3'], 'a failed commit sends none of its ACKs');
  pending = 3;
  g.submit(out('ack-4', true));
  assert.is(commits.length, 1, 'a full batch is committed without waiting');
  let drained = false;
  void g.drain().then(() => (drained = true));
  commits.shift()!(true);
  assert.equal(sent.at(-1), 'ack-4');
  return Promise.resolve().then(() => assert.ok(drained, 'drain resolves once nothing is queued'));
});

t('the worker-thread writer commits a batch to the file and reports success; a worker that cannot start writes in the main thread instead, and says so', async ({ db, dir }) => {
  const inline = new InlineLeaseWriter(new LeaseJournal(db.handle));
  const notes: string[] = [];
  const w = new WorkerLeaseWriter(join(dir, 'companion.sqlite'), inline, (n) => notes.push(n));
  const batch: LeaseRecord[] = [
    { mac: mac(1), address: '10.30.0.100', state: 'bound', expiresAt: 1, vendorClass: 'a' },
    { mac: mac(2), address: '10.30.0.101', state: 'bound', expiresAt: 2, vendorClass: '' },
    // The address moves to another MAC in the same batch: the old row is evicted first.
    { mac: mac(3), address: '10.30.0.100', state: 'bound', expiresAt: 3, vendorClass: '' },
  ];
  const e = await new Promise<Error | undefined>((r) => w.write(batch, r));
  assert.is(e, undefined);
  assert.equal(rows(db), { [mac(2)]: '10.30.0.101', [mac(3)]: '10.30.0.100' });
  await w.close();
  const bad = new DatabaseSync(join(dir, 'empty.sqlite'));
  bad.close();
  assert.equal(notes, []);
  const w2 = new WorkerLeaseWriter(join(dir, 'empty.sqlite'), inline, (n) => notes.push(n));
  for (let i = 0; i < 500 && notes.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.match(notes[0] ?? '', /^lease writer thread failed \(.*no such table: leases.*\); writing leases in the main thread$/);
  const e2 = await new Promise<Error | undefined>((r) => w2.write([{ mac: mac(9), address: '10.30.0.109', state: 'bound', expiresAt: 9, vendorClass: '' }], r));
  assert.is(e2, undefined);
  assert.is(rows(db)[mac(9)], '10.30.0.109', 'written in the main thread');
  await w2.close();
});

// ---- the pool ------------------------------------------------------------------------------------

t('nothing is written before the commit, and one commit writes every change since the last', ({ db, clock }) => {
  const pool = new AddressPool(db, small('10.30.0.100', '10.30.0.199'), clock);
  for (let i = 0; i < 50; i++) lease(pool, mac(i));
  assert.is(db.leases().length, 0);
  assert.is(pool.journal.pending, 50);
  pool.journal.commit();
  assert.is(db.leases().length, 50);
  assert.is(pool.journal.stats.commits, 1, 'one transaction');
});

t('the queues stay bounded by the leases, however many offers and renewals went through them', ({ db, clock }) => {
  const pool = new AddressPool(db, small('10.30.0.100', '10.30.39.255'), clock);
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 5000; i++) lease(pool, mac(i));
    pool.journal.take();
  }
  assert.is(pool.size.leases, 5000);
  assert.ok(pool.backlog <= 2 * 5000 + 3 * 1024, `${pool.backlog} entries for 5000 leases after 20000 offers and binds`);
});

t('a restart finds every lease in the database: the same MAC gets its address back, a new one gets a free address', ({ db, dir, clock }) => {
  const cfg = small('10.30.0.100', '10.30.0.199');
  const pool = new AddressPool(db, cfg, clock);
  const before = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [mac(i), lease(pool, mac(i))]));
  pool.journal.commit();
  db.close();
  const db2 = new CompanionDb(dir);
  try {
    const again = new AddressPool(db2, cfg, clock);
    for (let i = 0; i < 30; i++) assert.is(again.allocate(mac(i)), before[mac(i)]);
    const fresh = lease(again, mac(500));
    assert.ok(fresh && !Object.values(before).includes(fresh), `${fresh} is nobody's`);
  } finally {
    db2.close();
  }
});

t('free addresses go first; then the lease over longest (released, or expired); a live lease never', async ({ db, clock }) => {
  const pool = new AddressPool(db, small('10.30.0.100', '10.30.0.102', 60), clock);
  const a = lease(pool, mac(1))!;
  const b = lease(pool, mac(2))!;
  const c = lease(pool, mac(3))!;
  assert.equal([a, b, c], ['10.30.0.100', '10.30.0.101', '10.30.0.102']);
  assert.is(pool.allocate(mac(4)), undefined, 'exhausted: every lease is live');
  await clock.advance(30_000);
  assert.ok(pool.release(mac(3), c));
  assert.is(lease(pool, mac(4)), c, 'released: over at once');
  assert.is(pool.allocate(mac(5)), undefined);
  await clock.advance(31_000);
  assert.is(lease(pool, mac(5)), a, 'a and b expired together: the lower first');
  assert.is(pool.allocate(mac(1)), b, 'its old address went to another: client 1 gets the next one over');
  pool.journal.commit();
  assert.equal(rows(db), { [mac(2)]: b, [mac(4)]: c, [mac(5)]: a }, 'the rows of the clients whose addresses were reused are gone');
});

t('an expired lease offered to its own client is held: not offered to another before the REQUEST', async ({ db, clock }) => {
  const pool = new AddressPool(db, small('10.30.0.100', '10.30.0.100', 60), clock);
  const a = lease(pool, mac(1))!;
  await clock.advance(61_000);
  assert.is(pool.allocate(mac(1)), a);
  pool.hold(mac(1), a);
  assert.is(pool.allocate(mac(2)), undefined, 'held for its client');
  await clock.advance(OFFER_HOLD_MS);
  assert.is(pool.allocate(mac(2)), a, 'the hold ran out');
  pool.hold(mac(2), a);
  assert.is(pool.allocate(mac(1)), undefined, 'offered to another: not the old client\'s any more');
});

t('a DISCOVER retransmitted holds the same offer longer', async ({ db, clock }) => {
  const pool = new AddressPool(db, small('10.30.0.100', '10.30.0.100'), clock);
  const a = pool.allocate(mac(1))!;
  pool.hold(mac(1), a);
  await clock.advance(50_000);
  assert.is(pool.allocate(mac(1)), a);
  pool.hold(mac(1), a);
  await clock.advance(50_000);
  assert.is(pool.allocate(mac(2)), undefined, 'still held 100 s after the first offer');
  await clock.advance(OFFER_HOLD_MS);
  assert.is(pool.allocate(mac(2)), a);
});

t('a declined address sits out its hold, then goes back to the pool', async ({ db, clock }) => {
  const pool = new AddressPool(db, small('10.30.0.100', '10.30.0.101'), clock);
  const a = lease(pool, mac(1))!;
  assert.ok(pool.decline(mac(1), a));
  assert.is(pool.allocate(mac(1)), '10.30.0.101');
  assert.is(lease(pool, mac(2)), '10.30.0.101');
  assert.is(pool.allocate(mac(3)), undefined, 'the declined address is out');
  await clock.advance(DECLINE_HOLD_MS);
  assert.is(pool.allocate(mac(3)), a);
});

// ---- against a model -----------------------------------------------------------------------------

const op = fc.oneof(
  fc.record({ k: fc.constant('discover' as const), m: fc.nat(11) }),
  fc.record({ k: fc.constant('request' as const), m: fc.nat(11) }),
  fc.record({ k: fc.constant('release' as const), m: fc.nat(11) }),
  fc.record({ k: fc.constant('decline' as const), m: fc.nat(11) }),
  fc.record({ k: fc.constant('wait' as const), ms: fc.constantFrom(1000, 30_000, 61_000, 700_000) }),
  fc.record({ k: fc.constant('restart' as const) }),
);

t('random DISCOVER, REQUEST, RELEASE, DECLINE, time and restarts: never one address for two live leases; the table is the index after each commit', async ({ dir }) => {
  // A pool of 6 for 12 MACs and 2-minute leases: exhaustion, reuse and holds all happen.
  const cfg = small('10.30.0.100', '10.30.0.105', 120);
  let run = 0;
  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), async (ops) => {
    const sub = join(dir, `run${run++}`);
    await import('node:fs/promises').then((f) => f.mkdir(sub));
    let db = new CompanionDb(sub);
    const clock = new VirtualClock();
    let pool = new AddressPool(db, cfg, clock);
    /** What each client was told: its bound address and until when. */
    const told = new Map<string, { address: string; until: number }>();
    try {
      for (const o of ops) {
        if (o.k === 'wait') {
          await clock.advance(o.ms);
        } else if (o.k === 'restart') {
          pool.journal.commit();
          db.close();
          db = new CompanionDb(sub);
          pool = new AddressPool(db, cfg, clock);
        } else if (o.k === 'discover') {
          const a = pool.allocate(mac(o.m));
          if (a) pool.hold(mac(o.m), a);
        } else if (o.k === 'request') {
          const a = pool.allocate(mac(o.m));
          if (!a) continue;
          pool.bind(mac(o.m), a, '');
          told.set(mac(o.m), { address: a, until: clock.now() + 120_000 });
        } else if (o.k === 'release') {
          const l = pool.lease(mac(o.m));
          if (l && pool.release(mac(o.m), l.address)) told.delete(mac(o.m));
        } else {
          const l = pool.lease(mac(o.m));
          if (l && pool.decline(mac(o.m), l.address)) told.delete(mac(o.m));
        }
        // No two clients hold a live lease on one address.
        const live = [...told].filter(([, v]) => v.until > clock.now());
        const byAddress = new Map<string, string>();
        for (const [m, v] of live) {
          const other = byAddress.get(v.address);
          assert.ok(other === undefined, `${v.address} is live for ${other} and ${m}`);
          byAddress.set(v.address, m);
        }
        // A live lease is the client's in the index, and nobody else is offered its address.
        for (const [m, v] of live) {
          assert.is(pool.lease(m)?.address, v.address);
          for (let n = 0; n < 12; n++) if (mac(n) !== m) assert.is.not(pool.allocate(mac(n)), v.address, `${v.address} offered to ${mac(n)} while ${m} holds it`);
        }
      }
      pool.journal.commit();
      const index = Object.fromEntries(Array.from({ length: 12 }, (_, n) => [mac(n), pool.lease(mac(n))?.address]).filter(([, a]) => a));
      assert.equal(rows(db), index);
    } finally {
      db.close();
    }
  }), { seed: SEED, numRuns: 150 });
});

t.run();
