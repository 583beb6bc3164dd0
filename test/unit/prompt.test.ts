/**
 * The phone UI as the flows' UserPrompt: a question takes the screen over whatever is open,
 * keys answer it, and the cycle's signal withdraws it. Keys arrive through a keypad port into
 * a Handset, as they would from a terminal or a GPIO keypad.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VirtualClock } from '../../src/common/clock.ts';
import { Handset } from '../../src/phone/handset.ts';
import { ScriptedKeypad } from '../../src/phone/keypads.ts';
import { UnmanagedInterface } from '../../src/phone/node-ports.ts';
import { MemoryNvram } from '../../src/phone/nvram.ts';
import type { NetworkPort } from '../../src/phone/ports.ts';
import { MacAddress } from '../../src/wire/mac.ts';
import { modelByName } from '../../src/wire/models.ts';

const unused = new Proxy({}, { get: () => () => Promise.reject(new Error('no network in this test')) }) as NetworkPort;

function handset() {
  const keypad = new ScriptedKeypad();
  const frames: string[] = [];
  const h = new Handset({ mac: MacAddress.parse('001122334455')!, model: modelByName('8841')!, network: unused, iface: new UnmanagedInterface('lo'), clock: new VirtualClock(0), nvram: new MemoryNvram(), keypads: [keypad] });
  h.onScreen((f) => frames.push(f.rows.join('\n')));
  return { h, keypad, frames, screen: () => h.frame().rows.join('\n') };
}

test('an activation code: typed 4-4-4-4, Back takes a digit off, Clear empties, Submit only when all 16 are in', async () => {
  const { h, keypad, screen } = handset();
  keypad.press('settings');
  const ac = new AbortController();
  const answer = h.ui.ask({ kind: 'activation-code', problem: 'Code expired' }, ac.signal);
  assert.match(screen(), /Activation code[\s\S]*Enter activation\s+code[\s\S]*Code expired[\s\S]*____-____-____-____/);
  keypad.press('1', '2', '3', '4', '5');
  assert.match(screen(), /1234-5___-____-____/);
  keypad.press('back');
  assert.match(screen(), /1234-____-____-____/);
  keypad.press('soft1');
  assert.match(screen(), /12 digits to go/);
  keypad.press('soft2');
  assert.match(screen(), /____-____-____-____/);
  keypad.press(...('1111222233334444'.split('') as Array<'1'>), '5', '*', '#');
  assert.match(screen(), /1111-2222-3333-4444/, 'a 17th digit and * # do nothing');
  keypad.press('soft1');
  assert.equal(await answer, { digits: '1111222233334444' });
  assert.match(screen(), /SEP001122334455/, 'back on the home screen');
});

test('a yes/no question, and a question withdrawn when the cycle ends', async () => {
  const { h, keypad, screen } = handset();
  const yes = h.ui.ask({ kind: 'confirm', title: 'Factory reset', text: 'Erase everything?' }, new AbortController().signal);
  assert.match(screen(), /Factory reset[\s\S]*Erase everything\?[\s\S]*Yes +No/);
  keypad.press('soft1');
  assert.equal(await yes, { yes: true });
  const no = h.ui.ask({ kind: 'confirm', title: 'Sure?', text: 'Really?' }, new AbortController().signal);
  keypad.press('back');
  assert.equal(await no, { yes: false });
  const ac = new AbortController();
  const gone = h.ui.ask({ kind: 'activation-code' }, ac.signal).then(() => 'answered', (e: Error) => e.message);
  keypad.press('1');
  ac.abort(new Error('reboot'));
  assert.is(await gone, 'reboot');
  assert.not.match(screen(), /Activation code/);
  const already = new AbortController();
  already.abort(new Error('too late'));
  assert.is(await h.ui.ask({ kind: 'activation-code' }, already.signal).then(() => 'answered', (e: Error) => e.message), 'too late');
});

test.run();
