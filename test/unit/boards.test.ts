import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LINUX_KEYMAP } from '../../src/hw/evdev-keypad.ts';
import { needs } from '../support/proc.ts';
import { geometry, loadBoard } from '../../src/cli/phone-command.ts';

const run = promisify(execFile);
const boards = join(import.meta.dirname, '..', '..', 'board');

test('every board folder describes a usable LCD grid and interface', async () => {
  const names = (await readdir(boards, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  assert.ok(names.length >= 2);
  for (const n of names) {
    const b = await loadBoard(n);
    const g = geometry(`${b.lcd.cols}x${b.lcd.rows}`);
    assert.is(g.cols, b.lcd.cols, n);
    assert.ok(b.iface.length > 0);
  }
});

test('the boards the issue names are here: Pi Zero 2 W, Pi 4 (matrix keypad and serial keypad), host', async () => {
  const pi4 = await loadBoard('rpi4-st7735r');
  const zero = await loadBoard('rpi-zero2w-st7735r');
  const serial = await loadBoard('rpi4-st7735r-serial');
  const host = await loadBoard('host');
  assert.equal([pi4.lcd.pixels, zero.lcd.pixels, serial.lcd.pixels], [[160, 128], [160, 128], [160, 128]]);
  assert.equal([pi4.keypad.source, zero.keypad.source, serial.keypad.source, host.keypad.source], ['evdev', 'evdev', 'serial', 'terminal']);
  assert.is(zero.iface, 'wlan0');
});

test('the keypad overlays compile with dtc, and every key they report is a phone key', async () => {
  await needs('dtc');
  const want = new Set(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'soft1', 'soft2', 'up', 'down']);
  for (const [board, file, keys] of [['rpi4-st7735r', 'sepi-keypad-5x4.dts', 20], ['rpi-zero2w-st7735r', 'sepi-keypad-4x4.dts', 16]] as const) {
    const dts = join(boards, board, file);
    const dir = await mkdtemp(join(tmpdir(), 'sepi-dtc-'));
    try {
      // dtc, nobody here wrote it, compiles the overlay and decompiles it: the keymap is what the kernel gets.
      await run('dtc', ['-@', '-q', '-I', 'dts', '-O', 'dtb', '-o', join(dir, 'k.dtbo'), dts]);
      const { stdout } = await run('dtc', ['-q', '-I', 'dtb', '-O', 'dts', join(dir, 'k.dtbo')]);
      const entries = /linux,keymap = <([^>]*)>/.exec(stdout)![1]!.trim().split(/\s+/).map((x) => Number(x));
      assert.is(entries.length, keys, board);
      const cells = new Set(entries.map((e) => e >>> 16));
      assert.is(cells.size, keys, `${board}: one key per row and column`);
      const mapped = entries.map((e) => LINUX_KEYMAP[e & 0xffff]);
      assert.ok(mapped.every((k) => k !== undefined), `${board}: a code the phone does not know`);
      for (const k of want) assert.ok(mapped.includes(k as never), `${board}: no ${k}`);
      assert.match(await readFile(join(boards, board, 'config.txt'), 'utf8'), new RegExp(`dtoverlay=${file.replace('.dts', '')}`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});

test('a bad board name is a usage error, not a path', async () => {
  for (const bad of ['../etc', 'nope']) {
    const r = await loadBoard(bad).then(() => 'loaded', (e: Error) => e.name);
    assert.is(r, 'UsageError');
  }
});

test.run();
