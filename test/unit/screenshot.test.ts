/**
 * Screenshots: PSF1 and PSF2 fonts read (the console's own, and hand-made ones whose every pixel
 * is known), hostile font files refused without a throw, a frame drawn at the panel's pixel size
 * with each character's glyph in its cell and the softkey row inverted, and the JSON stream's last
 * screen picked for `sepi phone screenshot`.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { PNG } from 'pngjs';
import { glyphIndex, parsePsf, pixelSet } from '../../src/hw/psf-font.ts';
import { CONSOLE_FONTS, renderScreenshot, screenshotPng } from '../../src/phone/screenshot.ts';
import { lastScreen } from '../../src/cli/screenshot-command.ts';

const t = suite('screenshots');

/** A PSF2 font of 8x4 glyphs where glyph g has row y = g + y, with a Unicode table mapping 'A' to glyph 3. */
function psf2(): Buffer {
  const glyphs = 8;
  const header = Buffer.alloc(32);
  [0x864ab572, 0, 32, 1, glyphs, 4, 4, 8].forEach((v, i) => header.writeUInt32LE(v, i * 4));
  const bitmaps = Buffer.from(Array.from({ length: glyphs * 4 }, (_, i) => (Math.floor(i / 4) + (i % 4)) & 0xff));
  const table = Buffer.concat(Array.from({ length: glyphs }, (_, g) => Buffer.concat([Buffer.from(g === 3 ? 'A' : g === 4 ? '?' : ''), Buffer.from([0xff])])));
  return Buffer.concat([header, bitmaps, table]);
}

/** A PSF1 font: 256 glyphs of height 2, glyph g = [g, ~g], no Unicode table. */
function psf1(): Buffer {
  const body = Buffer.from(Array.from({ length: 512 }, (_, i) => (i % 2 ? ~(i >> 1) : i >> 1) & 0xff));
  return Buffer.concat([Buffer.from([0x36, 0x04, 0x00, 2]), body]);
}

t('PSF2 with a Unicode table and PSF1 without: sizes, the character map, every pixel', () => {
  const f = parsePsf(gzipSync(psf2()));
  assert.ok(f.ok);
  const font = f.ok ? f.value : undefined!;
  assert.equal([font.width, font.height, font.glyphCount], [8, 4, 8]);
  assert.is(glyphIndex(font, 'A'.codePointAt(0)!), 3);
  assert.is(glyphIndex(font, 'Z'.codePointAt(0)!), 4, 'an unknown character draws as ?');
  // Glyph 3, row 1 is the byte 4 = 00000100: only x = 5 is set.
  assert.equal([0, 1, 2, 3, 4, 5, 6, 7].map((x) => pixelSet(font, 3, x, 1)), [false, false, false, false, false, true, false, false]);
  const one = parsePsf(psf1());
  assert.ok(one.ok);
  if (one.ok) {
    assert.equal([one.value.width, one.value.height, one.value.glyphCount], [8, 2, 256]);
    assert.is(glyphIndex(one.value, 0x41), 0x41);
    assert.ok(pixelSet(one.value, 0x41, 1, 0) && pixelSet(one.value, 0x41, 7, 0) && !pixelSet(one.value, 0x41, 0, 0));
  }
});

t('the console font the Pi uses, when installed, reads as 8x16 with A mapped', () => {
  const file = CONSOLE_FONTS.find((f) => existsSync(f));
  assert.ok(file, 'console-setup-linux installs the console fonts (make peers)');
  const f = parsePsf(readFileSync(file!));
  assert.ok(f.ok, f.ok ? '' : f.error.message);
  if (f.ok) {
    assert.equal([f.value.width, f.value.height], [8, 16]);
    assert.ok(f.value.map.has(0x41) && f.value.map.has(0x2d));
  }
});

t('hostile font files: a clear error, never a throw', () => {
  for (const [bytes, code] of [[Buffer.from('hello'), 'bad-magic'], [psf2().subarray(0, 40), 'truncated'], [Buffer.from([0x36, 0x04, 0, 0]), 'bad-size'], [Buffer.from([0x1f, 0x8b, 1, 2]), 'bad-gzip']] as const) {
    const r = parsePsf(bytes);
    assert.is(r.ok ? 'ok' : r.error.code, code);
  }
  const good = psf2();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(good.length - 1), fc.uint8Array({ minLength: 1, maxLength: 8 }), (random, at, patch) => {
      parsePsf(random);
      const mutated = Buffer.from(good);
      mutated.set(patch.subarray(0, mutated.length - at), at);
      parsePsf(mutated);
      parsePsf(mutated.subarray(0, at));
    }),
    { numRuns: 2000, seed: 7 },
  );
});

t('a 20x8 frame drawn with an 8x16 font is the 160x128 panel; glyphs in their cells, the softkey row inverted', () => {
  const f = parsePsf(psf2());
  assert.ok(f.ok);
  const font = f.ok ? f.value : undefined!;
  const rows = ['A'.padEnd(20), ...Array.from({ length: 6 }, () => ' '.repeat(20)), 'A'.padEnd(20)];
  const png = renderScreenshot({ rows, softkeys: [] }, font, { background: [0, 0, 0], foreground: [255, 255, 255] });
  assert.equal([png.width, png.height], [160, 32]);
  const lit = (x: number, y: number) => png.data[(y * png.width + x) * 4] === 255;
  // Cell (0,0) is 'A' = glyph 3: row 1 has only x = 5 lit.
  assert.equal([0, 1, 2, 3, 4, 5, 6, 7].map((x) => lit(x, 1)), [false, false, false, false, false, true, false, false]);
  // The last row is inverted: the same glyph, its set pixels dark.
  assert.equal([0, 1, 2, 3, 4, 5, 6, 7].map((x) => lit(x, 28 + 1)), [true, true, true, true, true, false, true, true]);
  const decoded = PNG.sync.read(screenshotPng({ rows, softkeys: [] }, font));
  assert.equal([decoded.width, decoded.height], [160, 32]);
});

t('the screenshots in the docs are 160x128 PNGs and each is referenced from docs/cli.md', () => {
  const dir = join(import.meta.dirname, '..', '..', 'docs', 'images');
  const cli = readFileSync(join(dir, '..', 'cli.md'), 'utf8');
  const names = readdirSync(dir).filter((n) => n.endsWith('.png'));
  assert.ok(names.length >= 6, names.join());
  for (const n of names) {
    const png = PNG.sync.read(readFileSync(join(dir, n)));
    assert.equal([png.width, png.height], [160, 128], n);
    assert.ok(cli.includes(`images/${n}`), `${n} is shown in docs/cli.md`);
  }
});

t('sepi phone screenshot takes the last screen line of a JSON stream', () => {
  const stream = ['{"type":"event","step":"power"}', 'not json', '{"type":"screen","screen":["one"],"softkeys":["a"]}', '{"type":"screen","screen":["two"],"softkeys":["b"]}', ''].join('\n');
  assert.equal(lastScreen(stream), { screen: ['two'], softkeys: ['b'] });
  assert.is(lastScreen('{"type":"event"}'), undefined);
});

t.run();
