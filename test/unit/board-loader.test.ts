/** The one board loader (src/hw/board.ts): the whole board.json is read and checked. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBoard } from '../../src/hw/board.ts';

test('the shipped boards read whole: LCD, interface and keypad', async () => {
  const pi = await loadBoard('rpi3-st7735r');
  assert.equal(pi.lcd.pixels, [160, 128]);
  assert.is(pi.keypad.source, 'evdev');
  assert.is(pi.keypad.source === 'evdev' && pi.keypad.device.startsWith('/dev/input/'), true);
  const t = await loadBoard('host');
  assert.is(t.keypad.source, 'terminal');
  assert.is(t.iface, 'eth0');
});

test('a broken board.json is refused naming the field', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sepi-boards-'));
  const write = async (name: string, body: unknown) => {
    await mkdir(join(dir, name), { recursive: true });
    await writeFile(join(dir, name, 'board.json'), typeof body === 'string' ? body : JSON.stringify(body));
  };
  const good = { name: 'x', description: 'd', lcd: { cols: 20, rows: 8 }, iface: 'eth0', keypad: { source: 'terminal' } };
  await write('x', good);
  assert.is((await loadBoard('x', dir)).name, 'x');
  await write('mpp', { ...good, name: 'mpp', persona: 'mpp', model: '8841-3PCC' });
  const mpp = await loadBoard('mpp', dir);
  assert.equal([mpp.persona, mpp.model], ['mpp', '8841-3PCC']);
  const cases: Array<[string, unknown, RegExp]> = [
    ['a', { ...good, name: 'a', lcd: { cols: 4, rows: 8 } }, /lcd\.cols/],
    ['b', { ...good, name: 'b', keypad: { source: 'evdev' } }, /keypad/],
    ['c', { ...good, name: 'c', keypad: { source: 'usb-hid' } }, /keypad/],
    ['d', { ...good, name: 'd', extra: true }, /extra|Unrecognized/i],
    ['e', '{ not json', /JSON|Expected/i],
    ['f', good, /names itself "x"/],
    ['h', { ...good, name: 'h', persona: 'sccp' }, /persona/],
    ['i', { ...good, name: 'i', model: 'CP-8841' }, /model/],
    ['g', { ...good, name: 'g', keypad: { source: 'evdev', device: '/dev/input/event0', keymap: { '183': 'launch-missiles' } } }, /keypad/],
  ];
  for (const [name, body, why] of cases) {
    await write(name, body);
    const e = await loadBoard(name, dir).then(() => undefined, (err: Error) => err);
    assert.ok(e, `${name} refused`);
    assert.is(e!.name, 'BoardError');
    assert.match(e!.message, why);
  }
  await rm(dir, { recursive: true });
});

test.run();
