/**
 * A key's whole path: input_event records written into a FIFO standing in for the board's
 * /dev/input/eventN, read by the keypad that board.json names (src/hw/keypad-for-board.ts), into
 * a Handset's UI: Menu opens Settings, Down moves in it, Back closes it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from '../../src/common/clock.ts';
import { keypadForBoard } from '../../src/hw/keypad-for-board.ts';
import { Handset } from '../../src/phone/handset.ts';
import { UnmanagedInterface } from '../../src/phone/node-ports.ts';
import { MemoryNvram } from '../../src/phone/nvram.ts';
import type { NetworkPort } from '../../src/phone/ports.ts';
import { MacAddress } from '../../src/wire/mac.ts';
import { modelByName } from '../../src/wire/models.ts';
import { until } from '../support/until.ts';

const unused = new Proxy({}, { get: () => () => Promise.reject(new Error('no network in this test')) }) as NetworkPort;
const dir = mkdtempSync(join(tmpdir(), 'sepi-keypath-'));

/** A key press as a 64-bit kernel reports it: EV_KEY down, EV_SYN, EV_KEY up, EV_SYN. */
function press(code: number): Buffer {
  const rec = (type: number, c: number, value: number) => {
    const b = Buffer.alloc(24);
    b.writeUInt16LE(type, 16);
    b.writeUInt16LE(c, 18);
    b.writeInt32LE(value, 20);
    return b;
  };
  return Buffer.concat([rec(1, code, 1), rec(0, 0, 0), rec(1, code, 0), rec(0, 0, 0)]);
}


test('keys from an evdev device reach the phone UI', async () => {
  const device = join(dir, 'event0');
  execFileSync('mkfifo', [device]);
  const kernel = openSync(device, constants.O_RDWR);
  const messages: string[] = [];
  const keypad = await keypadForBoard({ source: 'evdev', device }, (m) => messages.push(m));
  assert.is(keypad?.source, 'evdev');
  const h = new Handset({ mac: MacAddress.parse('001122334455')!, model: modelByName('8841')!, network: unused, iface: new UnmanagedInterface('lo'), clock: new VirtualClock(0), nvram: new MemoryNvram(), keypads: [keypad!] });
  const screen = () => h.frame().rows.join('\n');
  const home = screen();
  assert.not.match(home, /Trust list/);
  writeSync(kernel, press(139)); // KEY_MENU
  await until(() => screen() !== home);
  assert.match(screen(), /^Settings[\s\S]*>1 Trust list/);
  writeSync(kernel, press(108)); // KEY_DOWN
  await until(() => /^>2 Status messages/m.test(screen()));
  writeSync(kernel, press(158)); // KEY_BACK
  await until(() => screen() === home);
  assert.equal(messages, []);
  keypad!.close();
  closeSync(kernel);
});

test('a board keymap rewires keys over the built-in map', async () => {
  const device = join(dir, 'event1');
  execFileSync('mkfifo', [device]);
  const kernel = openSync(device, constants.O_RDWR);
  // A keypad whose "1" key sends KEY_F13 (183) and whose menu key sends KEY_MENU as usual.
  const keypad = await keypadForBoard({ source: 'evdev', device, keymap: { '183': '1' } }, () => {});
  const keys: string[] = [];
  keypad!.onKey((e) => keys.push(e.key));
  writeSync(kernel, press(183));
  writeSync(kernel, press(139));
  await until(() => keys.length >= 2);
  assert.equal(keys, ['1', 'settings']);
  keypad!.close();
  closeSync(kernel);
});

test('boards without keys of their own: terminal and none build nothing here', async () => {
  assert.is(await keypadForBoard({ source: 'terminal' }, () => {}), undefined);
  assert.is(await keypadForBoard({ source: 'none' }, () => {}), undefined);
});

test('a board whose serial keypad is missing gets a NullKeypad and says so', async () => {
  const messages: string[] = [];
  const k = await keypadForBoard({ source: 'serial', device: '/dev/ttyNOSUCH7' }, (m) => messages.push(m));
  assert.is(k?.source, 'serial');
  assert.is(messages.length, 1);
  assert.match(messages[0]!, /ttyNOSUCH7/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
