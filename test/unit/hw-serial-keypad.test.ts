/**
 * The serial keypad (src/hw/serial-keypad.ts) on one end of a socat PTY pair, a stand-in
 * microcontroller writing protocol lines (docs/protocols/serial-keypad.md) on the other.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { LineSplitter, MAX_LINE, SerialKeypad, openSerialKeypad, parseLine } from '../../src/hw/serial-keypad.ts';
import { NullKeypad } from '../../src/phone/keypads.ts';
import { until } from '../support/until.ts';

/** `socat -d -d pty pty` prints "PTY is /dev/pts/N" twice on stderr, then the pair is up. */
async function ptyPair(): Promise<{ ends: [string, string]; socat: ChildProcess }> {
  const socat = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const ends = await new Promise<string[]>((resolve, reject) => {
    socat.stderr!.on('data', (d: Buffer) => {
      err += d;
      const found = [...err.matchAll(/PTY is (\/dev\/pts\/\d+)/g)].map((m) => m[1]!);
      if (found.length === 2 && /starting data transfer loop/.test(err)) resolve(found);
    });
    socat.on('exit', (code) => reject(new Error(`socat exited ${code}: ${err}`)));
  });
  return { ends: [ends[0]!, ends[1]!], socat };
}


test('lines: key names, the greeting, blank lines, unknown lines', () => {
  assert.equal(parseLine('5'), { kind: 'key', key: '5' });
  assert.equal(parseLine('soft2\r'), { kind: 'key', key: 'soft2' });
  assert.equal(parseLine('HELLO sepi-keypad/1 desk-pad v2'), { kind: 'hello', version: 1, name: 'desk-pad v2' });
  assert.equal(parseLine('HELLO sepi-keypad/1'), { kind: 'hello', version: 1, name: '' });
  assert.is(parseLine(''), undefined);
  assert.is(parseLine('\r'), undefined);
  assert.equal(parseLine('KEY 5 DOWN'), { kind: 'unknown', text: 'KEY 5 DOWN' });
  assert.equal(parseLine('Up'), { kind: 'unknown', text: 'Up' }, 'key names are lower case');
});

test('the splitter: a line across chunks, 64 bytes kept, 65 dropped, and an endless line dropped once', () => {
  const s = new LineSplitter();
  assert.equal(s.push(Buffer.from('up\r\nso')), [{ kind: 'key', key: 'up' }]);
  assert.equal(s.push(Buffer.from('ft1\n')), [{ kind: 'key', key: 'soft1' }]);
  assert.equal(s.push(Buffer.from(`${'x'.repeat(MAX_LINE)}\r\n`)), [{ kind: 'unknown', text: 'x'.repeat(MAX_LINE) }]);
  assert.equal(s.push(Buffer.from(`${'x'.repeat(MAX_LINE + 1)}\n#\n`)), [{ kind: 'too-long' }, { kind: 'key', key: '#' }]);
  assert.equal(s.push(Buffer.from('y'.repeat(50))), []);
  assert.equal(s.push(Buffer.from('y'.repeat(50))), [{ kind: 'too-long' }]);
  assert.equal(s.push(Buffer.from('y'.repeat(500))), [], 'the rest of it is skipped without a second report');
  assert.equal(s.push(Buffer.from('yyy\n*\n')), [{ kind: 'key', key: '*' }]);
});

test('a keypad on a PTY: greeting, keys with LF and CR LF, unknown and over-long lines ignored and counted', async () => {
  const { ends, socat } = await ptyPair();
  const messages: string[] = [];
  const k = await openSerialKeypad({ device: ends[0], baud: 115200, onMessage: (m) => messages.push(m) });
  assert.ok(k instanceof SerialKeypad);
  const keys: string[] = [];
  k.onKey((e) => keys.push(`${e.key}@${e.source}`));
  const mcu = openSync(ends[1], 'w');
  writeSync(mcu, 'HELLO sepi-keypad/1 bench-pad\r\n1\r\n2\nKEY 3\n');
  writeSync(mcu, `${'#'.repeat(80)}\r\nsettings\r\nDOWN\nsel`);
  await new Promise((r) => setTimeout(r, 30));
  writeSync(mcu, 'ect\r\nsoft4\n');
  await until(() => keys.length >= 5);
  assert.equal(keys, ['1@serial', '2@serial', 'settings@serial', 'select@serial', 'soft4@serial']);
  assert.equal(k.stats, { keys: 5, unknown: 2, tooLong: 1, name: 'bench-pad' });
  assert.equal(messages, [`serial keypad ${ends[0]}: "bench-pad" says hello`, `serial keypad ${ends[0]}: ignoring lines it does not know, e.g. "KEY 3"`]);
  k.close();
  closeSync(mcu);
  socat.kill();
});

test('a missing serial device is a NullKeypad and a message', async () => {
  const messages: string[] = [];
  const k = await openSerialKeypad({ device: '/dev/ttyNOSUCH9', onMessage: (m) => messages.push(m) });
  assert.ok(k instanceof NullKeypad);
  assert.is(k.source, 'serial');
  assert.is(messages.length, 1);
  assert.match(messages[0]!, /^serial keypad \/dev\/ttyNOSUCH9: .*no such file.*; no keys from it$/i);
});

test.run();
