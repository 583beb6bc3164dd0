/**
 * The pieces the boot flows are made of, without a network: the guarded state machine and the
 * enterprise flow's edges, the one Backoff on virtual time, the event bus, NVRAM in memory, and
 * the published JSON contract being what the code declares.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Backoff } from '../../src/common/backoff.ts';
import { Bus } from '../../src/common/bus.ts';
import { VirtualClock } from '../../src/common/clock.ts';
import { ENTERPRISE_EDGES, type EnterpriseState } from '../../src/phone/flows/enterprise.ts';
import { IllegalTransition, StateMachine } from '../../src/phone/flows/state-machine.ts';
import { MemoryNvram } from '../../src/phone/nvram.ts';
import { CM_UNANSWERED_RETRY, CONFIG_RETRY, DHCP_RETRY, REGISTER_RETRY } from '../../src/phone/retries.ts';
import { SCHEMA_PATH, phoneEventsSchema } from '../../scripts/phone-events-schema.ts';
import { readFile } from 'node:fs/promises';

const STATES = Object.keys(ENTERPRISE_EDGES) as EnterpriseState[];

test('enterprise flow: every drawn edge is allowed, every other edge throws and leaves the state alone', () => {
  let allowed = 0;
  let refused = 0;
  for (const from of STATES) {
    for (const to of STATES) {
      const seen: string[] = [];
      // Start the machine at `from` by its own edges table: a machine whose initial state is `from`.
      const m = new StateMachine<EnterpriseState>('test', from, ENTERPRISE_EDGES, (a, b) => seen.push(`${a}>${b}`));
      if (ENTERPRISE_EDGES[from].includes(to)) {
        m.transition(to);
        assert.is(m.state, to);
        assert.equal(seen, [`${from}>${to}`]);
        allowed++;
      } else {
        assert.throws(() => m.transition(to), (e: Error) => e instanceof IllegalTransition && e.message.includes(`${from} -> ${to}`));
        assert.is(m.state, from);
        assert.equal(seen, []);
        refused++;
      }
    }
  }
  assert.ok(allowed >= 15 && refused > allowed, `${allowed} allowed, ${refused} refused`);
});

test('enterprise flow: the boot path is a walk along drawn edges, and nothing skips provisioning', () => {
  const m = new StateMachine<EnterpriseState>('test', 'start', ENTERPRISE_EDGES);
  for (const s of ['trust-lists', 'configuration', 'onboarding', 'firmware-load', 'registering', 'registered', 'registering', 'registration-retry', 'trust-lists'] as const) m.transition(s);
  for (const skip of ['registering', 'onboarding', 'registered'] as const) assert.not.ok(new StateMachine<EnterpriseState>('t', 'start', ENTERPRISE_EDGES).can(skip), `start -> ${skip}`);
  assert.not.ok(new StateMachine<EnterpriseState>('t', 'registration-retry', ENTERPRISE_EDGES).can('registering'), 'a refused phone reads its configuration again');
  // Every state can be reached from start.
  const reached = new Set<EnterpriseState>(['start']);
  for (let changed = true; changed; ) {
    changed = false;
    for (const s of [...reached]) for (const t of ENTERPRISE_EDGES[s]) if (!reached.has(t)) (reached.add(t), (changed = true));
  }
  assert.equal([...reached].sort(), [...STATES].sort());
});

test('backoff: doubles from first to the cap and stays there; reset starts again; waits are virtual', async () => {
  const clock = new VirtualClock(0);
  const b = new Backoff(DHCP_RETRY, clock);
  const ladder: number[] = [];
  for (let i = 0; i < 7; i++) {
    ladder.push(b.delaySecs);
    const before = clock.now();
    const w = b.wait();
    await clock.advance(b.spec.maxSecs * 1000);
    await w;
    assert.is(clock.now() - before, b.spec.maxSecs * 1000);
  }
  assert.equal(ladder, [10, 20, 40, 80, 120, 120, 120]);
  assert.is(b.tries, 7);
  b.reset();
  assert.is(b.delaySecs, 10);
  assert.is(b.tries, 0);
  const ladderOf = (spec: typeof CONFIG_RETRY) => {
    const x = new Backoff(spec, clock);
    return Array.from({ length: 7 }, () => {
      const d = x.delaySecs;
      void x.wait().catch(() => {});
      return d;
    });
  };
  assert.equal(ladderOf(CONFIG_RETRY), [5, 10, 20, 40, 80, 120, 120]);
  assert.equal(ladderOf(REGISTER_RETRY), [5, 10, 20, 40, 60, 60, 60]);
  assert.equal(ladderOf(CM_UNANSWERED_RETRY), [5, 10, 20, 40, 80, 120, 120]);
});

test('backoff: a scaled wait is shorter but reports the nominal seconds; an abort ends the wait', async () => {
  const clock = new VirtualClock(0);
  const b = new Backoff({ name: 'edos', firstSecs: 60, maxSecs: 86400 }, clock, { scale: 0.001 });
  assert.is(b.delaySecs, 60);
  const w = b.wait();
  await clock.advance(60);
  await w;
  assert.is(clock.now(), 60);
  assert.is(b.delaySecs, 120);
  const ac = new AbortController();
  const aborted = b.wait(ac.signal).then(() => 'waited', () => 'aborted');
  ac.abort();
  assert.is(await aborted, 'aborted');
  assert.throws(() => new Backoff({ name: 'bad', firstSecs: 0, maxSecs: 1 }, clock), RangeError);
});

test('bus: every subscriber hears every event; unsubscribe works, also from inside a listener; a throwing listener harms nobody', () => {
  const errors: unknown[] = [];
  const bus = new Bus<number>((e) => errors.push(e));
  const a: number[] = [];
  const b: number[] = [];
  const offA = bus.subscribe((n) => a.push(n));
  bus.subscribe(() => {
    throw new Error('broken display');
  });
  const offB = bus.subscribe((n) => {
    b.push(n);
    if (n === 2) offB();
  });
  bus.publish(1);
  bus.publish(2);
  bus.publish(3);
  offA();
  offA();
  bus.publish(4);
  assert.equal(a, [1, 2, 3]);
  assert.equal(b, [1, 2]);
  assert.is(errors.length, 4);
  assert.is(bus.size, 1);
});

test('NVRAM in memory: the same contract as the file one', async () => {
  const nv = new MemoryNvram();
  await nv.write('lease', { address: '10.0.0.9' });
  assert.equal(await nv.read('lease'), { address: '10.0.0.9' });
  await nv.writeBytes('trust/itl.tlv', Uint8Array.of(1, 2));
  await nv.writeBytes('trust/ctl.tlv', Uint8Array.of(3));
  await nv.writeBytes('boot.json', Buffer.from('{not json'));
  assert.is(await nv.read('boot'), undefined, 'unreadable is absent');
  assert.is(await nv.read('lease', (v): v is { port: number } => typeof (v as { port?: unknown }).port === 'number'), undefined, 'failing the check is absent');
  await nv.remove('trust');
  assert.equal(nv.names(), ['boot.json', 'lease.json']);
  assert.is(await nv.read('../etc/passwd').then(() => 'read', (e: Error) => e.name), 'RangeError');
  await nv.wipe();
  assert.equal(nv.names(), []);
});

test('the published schema is exactly what the event declarations generate (make schema)', async () => {
  assert.is(await readFile(SCHEMA_PATH, 'utf8'), phoneEventsSchema());
});

test.run();
