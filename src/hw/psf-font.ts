/**
 * PC Screen Font (PSF1 and PSF2, optionally gzipped): the bitmap fonts the Linux console draws
 * with — on a Pi the console on the LCD's framebuffer uses one (console-setup's
 * `Uni2-Terminus16`, `Lat15-Fixed16` …), so a screenshot drawn with the same font is what the
 * panel shows, pixel for pixel.
 *
 * Format (kbd's documentation of psf): PSF1 is `36 04`, a mode byte (1: 512 glyphs, 2 or 4: a
 * Unicode table follows) and the glyph height; glyphs are 8 pixels wide. PSF2 is `72 b5 4a 86`,
 * then u32 LE version, header size, flags (1: Unicode table), glyph count, bytes per glyph,
 * height, width. Glyph rows are padded to whole bytes, most significant bit leftmost. The
 * Unicode table gives, per glyph, the characters it draws (PSF1: u16 LE ending in FFFF, FFFE
 * starting sequences; PSF2: UTF-8 ending in FF, FE starting sequences).
 */
import { gunzipSync } from 'node:zlib';
import { type Result, WireError, catchWire } from '../wire/result.ts';

const FORMAT = 'psf';
const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_GLYPHS = 65_536;
const MAX_SIDE = 64;

export interface PsfFont {
  width: number;
  height: number;
  /** Bytes per glyph row: ceil(width / 8). */
  rowBytes: number;
  glyphCount: number;
  glyphs: Uint8Array;
  /** Character → glyph index, from the Unicode table (or identity when there is none). */
  map: Map<number, number>;
}

const fail = (code: string, message: string, at?: number): never => {
  throw new WireError(FORMAT, code, message, at);
};

export function parsePsf(input: Uint8Array): Result<PsfFont> {
  return catchWire(() => {
    let data = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    if (data[0] === 0x1f && data[1] === 0x8b) {
      try {
        data = gunzipSync(data, { maxOutputLength: MAX_FILE_BYTES });
      } catch (e) {
        fail('bad-gzip', `gzip data is damaged or too large (${(e as Error).message})`);
      }
    }
    if (data.length > MAX_FILE_BYTES) fail('oversized', `${data.length} bytes`);
    if (data.length >= 4 && data.readUInt32LE(0) === 0x864ab572) return psf2(data);
    if (data.length >= 4 && data[0] === 0x36 && data[1] === 0x04) return psf1(data);
    return fail('bad-magic', 'not a PSF1 or PSF2 font', 0);
  });
}

function psf1(d: Buffer): PsfFont {
  const mode = d[2]!;
  const height = d[3]!;
  if (height === 0 || height > MAX_SIDE) fail('bad-size', `glyph height ${height}`, 3);
  const glyphCount = mode & 1 ? 512 : 256;
  const end = 4 + glyphCount * height;
  if (d.length < end) fail('truncated', `${glyphCount} glyphs of ${height} bytes need ${end} bytes, the file has ${d.length}`, d.length);
  const map = new Map<number, number>();
  if (mode & 6) {
    let at = end;
    for (let g = 0; g < glyphCount && at + 1 < d.length; g++) {
      let inSequence = false;
      for (;;) {
        if (at + 1 >= d.length) fail('truncated', 'Unicode table ends inside a glyph\'s entry', at);
        const u = d.readUInt16LE(at);
        at += 2;
        if (u === 0xffff) break;
        if (u === 0xfffe) inSequence = true;
        else if (!inSequence && !map.has(u)) map.set(u, g);
      }
    }
  } else for (let g = 0; g < glyphCount; g++) map.set(g, g);
  return { width: 8, height, rowBytes: 1, glyphCount, glyphs: new Uint8Array(d.subarray(4, end)), map };
}

function psf2(d: Buffer): PsfFont {
  if (d.length < 32) fail('truncated', 'PSF2 header is 32 bytes', d.length);
  const headerSize = d.readUInt32LE(8);
  const flags = d.readUInt32LE(12);
  const glyphCount = d.readUInt32LE(16);
  const bytesPerGlyph = d.readUInt32LE(20);
  const height = d.readUInt32LE(24);
  const width = d.readUInt32LE(28);
  if (width === 0 || height === 0 || width > MAX_SIDE || height > MAX_SIDE) fail('bad-size', `glyphs of ${width}x${height}`, 24);
  const rowBytes = Math.ceil(width / 8);
  if (bytesPerGlyph !== rowBytes * height) fail('bad-size', `${bytesPerGlyph} bytes per glyph for ${width}x${height}`, 20);
  if (glyphCount === 0 || glyphCount > MAX_GLYPHS) fail('bad-size', `${glyphCount} glyphs`, 16);
  if (headerSize < 32 || headerSize > d.length) fail('bad-header', `header size ${headerSize}`, 8);
  const end = headerSize + glyphCount * bytesPerGlyph;
  if (d.length < end) fail('truncated', `${glyphCount} glyphs need ${end} bytes, the file has ${d.length}`, d.length);
  const map = new Map<number, number>();
  if (flags & 1) {
    let at = end;
    for (let g = 0; g < glyphCount && at < d.length; g++) {
      let inSequence = false;
      while (at < d.length && d[at] !== 0xff) {
        if (d[at] === 0xfe) {
          inSequence = true;
          at++;
          continue;
        }
        const len = d[at]! < 0x80 ? 1 : d[at]! < 0xe0 ? 2 : d[at]! < 0xf0 ? 3 : 4;
        const cp = d.subarray(at, at + len).toString('utf8').codePointAt(0);
        if (cp === undefined) fail('truncated', 'Unicode table ends inside a character', at);
        if (!inSequence && !map.has(cp!)) map.set(cp!, g);
        at += len;
      }
      at++;
    }
  } else for (let g = 0; g < glyphCount; g++) map.set(g, g);
  return { width, height, rowBytes, glyphCount, glyphs: new Uint8Array(d.subarray(headerSize, end)), map };
}

/** The glyph for a character: its own, else `?`, else glyph 0. */
export function glyphIndex(font: PsfFont, ch: number): number {
  return font.map.get(ch) ?? font.map.get(0x3f) ?? 0;
}

/** Whether the pixel (x, y) of glyph g is set. */
export function pixelSet(font: PsfFont, g: number, x: number, y: number): boolean {
  const byte = font.glyphs[(g * font.height + y) * font.rowBytes + (x >> 3)]!;
  return (byte & (0x80 >> (x & 7))) !== 0;
}
