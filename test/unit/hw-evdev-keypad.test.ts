/**
 * The evdev keypad (src/hw/evdev-keypad.ts) reading input_event records from a named pipe, as it
 * would from /dev/input/eventN: 24- and 16-byte records, a record split across writes, releases,
 * EV_SYN and unknown codes ignored, a missing device, a device that goes away and comes back.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EvdevKeypad, InputEventDecoder, keyOf, LINUX_KEYMAP, nativeEventSize, openEvdevKeypad } from '../../src/hw/evdev-keypad.ts';
import { NullKeypad } from '../../src/phone/keypads.ts';
import type { Keypad } from '../../src/phone/ports.ts';
import { until } from '../support/until.ts';

const dir = mkdtempSync(join(tmpdir(), 'sepi-evdev-'));
let n = 0;

/** A FIFO standing in for /dev/input/eventN, held open by us as the kernel would hold the device. */
function fifo(): { path: string; fd: number } {
  const path = join(dir, `event${n++}`);
  execFileSync('mkfifo', [path]);
  // O_RDWR: opening a FIFO this way does not wait for a reader (Linux), and keeps it from ending.
  return { path, fd: openSync(path, constants.O_RDWR) };
}

/** One input_event record: the timeval is filled in, as the kernel does, and must be skipped. */
function event(size: 16 | 24, type: number, code: number, value: number): Buffer {
  const b = Buffer.alloc(size, 0xee);
  const at = size - 8;
  b.writeUInt16LE(type, at);
  b.writeUInt16LE(code, at + 2);
  b.writeInt32LE(value, at + 4);
  return b;
}

const press = (size: 16 | 24, code: number) => Buffer.concat([event(size, 1, code, 1), event(size, 0, 0, 0)]);

function collect(k: Keypad): string[] {
  const keys: string[] = [];
  k.onKey((e) => keys.push(`${e.key}@${e.source}`));
  return keys;
}


test('the record size follows the process: 24 bytes on 64-bit, 16 on 32-bit', () => {
  assert.is(nativeEventSize('x64'), 24);
  assert.is(nativeEventSize('arm64'), 24);
  assert.is(nativeEventSize('arm'), 16);
  assert.is(nativeEventSize('ia32'), 16);
});

test('the decoder keeps a split record for the next chunk', () => {
  const d = new InputEventDecoder(24);
  const two = Buffer.concat([event(24, 1, 2, 1), event(24, 1, 3, 0)]);
  assert.equal(d.push(two.subarray(0, 30)), [{ type: 1, code: 2, value: 1 }]);
  assert.equal(d.push(two.subarray(30, 40)), []);
  assert.equal(d.push(two.subarray(40)), [{ type: 1, code: 3, value: 0 }]);
});

test('only presses map to keys; repeats only for up and down', () => {
  assert.is(keyOf({ type: 1, code: 11, value: 1 }, LINUX_KEYMAP), '0');
  assert.is(keyOf({ type: 1, code: 11, value: 0 }, LINUX_KEYMAP), undefined);
  assert.is(keyOf({ type: 1, code: 11, value: 2 }, LINUX_KEYMAP), undefined);
  assert.is(keyOf({ type: 1, code: 108, value: 2 }, LINUX_KEYMAP), 'down');
  assert.is(keyOf({ type: 0, code: 11, value: 1 }, LINUX_KEYMAP), undefined);
  assert.is(keyOf({ type: 1, code: 0x20b, value: 1 }, LINUX_KEYMAP), '#');
  assert.is(keyOf({ type: 1, code: 139, value: 1 }, LINUX_KEYMAP), 'settings');
});

test('24-byte events from a pipe: presses, a split record, releases, EV_SYN and unknown codes ignored', async () => {
  const f = fifo();
  const k = new EvdevKeypad({ device: f.path, eventSize: 24, pollMs: 2 });
  const keys = collect(k);
  writeSync(f.fd, press(24, 2)); // KEY_1
  writeSync(f.fd, event(24, 1, 2, 0)); // its release
  writeSync(f.fd, event(24, 1, 240, 1)); // KEY_UNKNOWN
  writeSync(f.fd, event(24, 4, 4, 458782)); // EV_MSC scan code
  const star = press(24, 0x20a);
  writeSync(f.fd, star.subarray(0, 13));
  await new Promise((r) => setTimeout(r, 20));
  writeSync(f.fd, star.subarray(13));
  writeSync(f.fd, Buffer.concat([press(24, 59), event(24, 1, 103, 1), event(24, 1, 103, 2), event(24, 1, 4, 2)]));
  await until(() => keys.length >= 5);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(keys, ['1@evdev', '*@evdev', 'soft1@evdev', 'up@evdev', 'up@evdev']);
  k.close();
  closeSync(f.fd);
});

test('16-byte events (a 32-bit kernel)', async () => {
  const f = fifo();
  const k = new EvdevKeypad({ device: f.path, eventSize: 16, pollMs: 2 });
  const keys = collect(k);
  writeSync(f.fd, Buffer.concat([press(16, 11), press(16, 0x20b), press(16, 28), event(16, 1, 28, 0), press(16, 158)]));
  await until(() => keys.length >= 4);
  assert.equal(keys, ['0@evdev', '#@evdev', 'select@evdev', 'back@evdev']);
  k.close();
  closeSync(f.fd);
});

test('a missing device is a NullKeypad and a message, not a crash', async () => {
  const messages: string[] = [];
  const k = await openEvdevKeypad({ device: join(dir, 'no-such-event'), onMessage: (m) => messages.push(m) });
  assert.ok(k instanceof NullKeypad);
  assert.is(k.source, 'evdev');
  assert.is(messages.length, 1);
  assert.match(messages[0]!, /no-such-event: ENOENT/);
  k.close();
});

test('a device that goes away is reported once, retried, and read again when it is back', async () => {
  const f = fifo();
  const messages: string[] = [];
  const k = await openEvdevKeypad({ device: f.path, eventSize: 24, pollMs: 2, retryMs: 20, onMessage: (m) => messages.push(m) });
  assert.ok(k instanceof EvdevKeypad);
  const keys = collect(k);
  writeSync(f.fd, press(24, 3));
  await until(() => keys.length === 1);
  closeSync(f.fd); // the last writer gone: the reader sees end of file
  await until(() => messages.length === 1);
  await new Promise((r) => setTimeout(r, 100)); // several retries, each ending at once
  assert.equal(messages, [`evdev keypad ${f.path}: end of file; retrying every 0.02 s`]);
  rmSync(f.path); // now it is gone altogether, as an unplugged USB keypad
  await new Promise((r) => setTimeout(r, 60));
  execFileSync('mkfifo', [f.path]);
  const fd = openSync(f.path, constants.O_RDWR);
  await until(() => messages.length === 2);
  assert.match(messages[1]!, /: back$/);
  writeSync(fd, press(24, 4));
  await until(() => keys.length === 2);
  assert.equal(keys, ['2@evdev', '3@evdev']);
  k.close();
  closeSync(fd);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
