/**
 * The LCD as a PNG, for docs and bug reports: the character grid a frame is (screen.ts) drawn
 * with a Linux console font (psf-font.ts), so the picture is what the panel shows when the
 * firmware runs on the console of a Pi's ST7735R framebuffer — at the board's pixel size when
 * its grid and font fill it (20x8 of 8x16 on a 160x128 panel).
 *
 * The font is a PSF file: one given, or the first of the console fonts Debian and Raspberry Pi
 * OS install (console-setup) that exists. Without one there is no honest picture to draw, and
 * the caller gets an error saying what to install, never a picture drawn with a made-up font.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { PNG } from 'pngjs';
import { type PsfFont, glyphIndex, parsePsf, pixelSet } from '../hw/psf-font.ts';
import type { ScreenFrame } from './screen.ts';

/** Console fonts looked for, in order: the Pi's default console font first. */
export const CONSOLE_FONTS = [
  '/usr/share/consolefonts/Uni2-Terminus16.psf.gz',
  '/usr/share/consolefonts/Lat15-Terminus16.psf.gz',
  '/usr/share/consolefonts/Lat15-Fixed16.psf.gz',
  '/usr/share/consolefonts/Uni2-Fixed16.psf.gz',
  '/usr/share/consolefonts/default8x16.psf.gz',
] as const;

export class NoFont extends Error {
  override name = 'NoFont';
}

/** The font file given, or the first console font installed. */
export async function loadConsoleFont(file?: string): Promise<PsfFont> {
  const path = file ?? CONSOLE_FONTS.find((f) => existsSync(f));
  if (!path) throw new NoFont(`no console font found (looked for ${CONSOLE_FONTS.join(', ')}): install console-setup-linux, or give a PSF font file`);
  const bytes = await readFile(path).catch((e: Error) => {
    throw new NoFont(`${path}: ${e.message}`);
  });
  const font = parsePsf(bytes);
  if (!font.ok) throw new NoFont(`${path}: ${font.error.message}`);
  return font.value;
}

export interface ScreenshotStyle {
  /** RGB of the background and of the text; the softkey row (the last) is drawn inverted. */
  background: [number, number, number];
  foreground: [number, number, number];
}

/** The console's grey on black. */
export const CONSOLE_STYLE: ScreenshotStyle = { background: [0, 0, 0], foreground: [0xaa, 0xaa, 0xaa] };

/** Draws the frame's rows, one glyph per character cell; the image is cols×width by rows×height. */
export function renderScreenshot(frame: ScreenFrame, font: PsfFont, style: ScreenshotStyle = CONSOLE_STYLE): PNG {
  const rows = frame.rows;
  const cols = Math.max(1, ...rows.map((r) => [...r].length));
  const png = new PNG({ width: cols * font.width, height: rows.length * font.height });
  rows.forEach((text, r) => {
    // The softkey labels sit on the last row, drawn inverted as a phone's softkey bar is.
    const [fg, bg] = r === rows.length - 1 ? [style.background, style.foreground] : [style.foreground, style.background];
    const chars = [...text.padEnd(cols)];
    chars.forEach((ch, c) => {
      const g = glyphIndex(font, ch.codePointAt(0)!);
      for (let y = 0; y < font.height; y++) {
        for (let x = 0; x < font.width; x++) {
          const i = ((r * font.height + y) * png.width + c * font.width + x) * 4;
          const rgb = pixelSet(font, g, x, y) ? fg : bg;
          png.data[i] = rgb[0];
          png.data[i + 1] = rgb[1];
          png.data[i + 2] = rgb[2];
          png.data[i + 3] = 255;
        }
      }
    });
  });
  return png;
}

export function screenshotPng(frame: ScreenFrame, font: PsfFont, style?: ScreenshotStyle): Buffer {
  return PNG.sync.write(renderScreenshot(frame, font, style));
}
