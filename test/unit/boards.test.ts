import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { geometry, loadBoard } from '../../src/cli/phone-command.ts';

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

test('a bad board name is a usage error, not a path', async () => {
  for (const bad of ['../etc', 'nope']) {
    const r = await loadBoard(bad).then(() => 'loaded', (e: Error) => e.name);
    assert.is(r, 'UsageError');
  }
});

test.run();
