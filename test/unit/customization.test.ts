import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { CUSTOMIZATION_EDGES, CUSTOMIZATION_STATES, Customization, type CustomizationState, EDOS_RETRY_SECS, edosRetrySecs, isCustomized, isFinal } from '../../src/phone/mpp/customization.ts';
import { MemoryNvram } from '../../src/phone/nvram.ts';

/** The error a promise rejects with (uvu has no rejects()). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

test('the documented path: Open, Pending, Custom-Pending, Acquired, each written to NVRAM and announced', async () => {
  const nvram = new MemoryNvram();
  const seen: string[] = [];
  const c = await Customization.load(nvram, (from, to) => seen.push(`${from}>${to}`));
  assert.is(c.state, 'Open');
  for (const s of ['Pending', 'Pending', 'Custom-Pending', 'Acquired'] as const) await c.moveTo(s);
  assert.equal(seen, ['Open>Pending', 'Pending>Pending', 'Pending>Custom-Pending', 'Custom-Pending>Acquired']);
  assert.is((await Customization.load(nvram)).state, 'Acquired', 'survives a reboot');
  assert.ok(isCustomized(c.state) && isFinal(c.state));
});

test('final states stay final; manual configuration aborts only what is not final; a factory reset (NVRAM wiped) is Open again', async () => {
  const nvram = new MemoryNvram();
  const c = await Customization.load(nvram);
  await c.moveTo('Pending');
  assert.ok(await c.configuredByHand());
  assert.is(c.state, 'Aborted');
  assert.not.ok(await c.configuredByHand(), 'already final');
  assert.match((await rejection(c.moveTo('Pending'))).message, /no edge Aborted -> Pending/);
  assert.is((await Customization.load(nvram)).state, 'Aborted');
  await nvram.wipe();
  assert.is((await Customization.load(nvram)).state, 'Open');
});

test('an illegal edge writes nothing: NVRAM keeps the last legal state', async () => {
  const nvram = new MemoryNvram();
  const c = await Customization.load(nvram);
  await c.moveTo('Pending');
  await c.moveTo('Unavailable');
  assert.match((await rejection(c.moveTo('Acquired'))).message, /no edge Unavailable -> Acquired/);
  assert.is((await Customization.load(nvram)).state, 'Unavailable');
});

test('property: any walk along the edges ends where NVRAM says, and never leaves a final state', async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.constantFrom(...CUSTOMIZATION_STATES), { maxLength: 12 }), async (walk) => {
    const nvram = new MemoryNvram();
    const c = await Customization.load(nvram);
    let expected: CustomizationState = 'Open';
    for (const to of walk) {
      const legal = CUSTOMIZATION_EDGES[expected].includes(to);
      try {
        await c.moveTo(to);
        if (!legal) return false;
        expected = to;
      } catch {
        if (legal) return false;
      }
    }
    return c.state === expected && (await Customization.load(nvram)).state === expected;
  }), { numRuns: 300, seed: 11 });
});

test('the EDOS ladder: 60 s doubling to 86400 s, which repeats', () => {
  assert.equal([0, 1, 2, 11, 12, 50].map(edosRetrySecs), [60, 120, 240, 86400, 86400, 86400]);
  assert.is(EDOS_RETRY_SECS.length, 12);
  for (let i = 1; i < 11; i++) assert.is(EDOS_RETRY_SECS[i], EDOS_RETRY_SECS[i - 1]! * 2);
});

test.run();
