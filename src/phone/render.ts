/**
 * Renderers draw ScreenFrames. The text renderer writes a frame whenever it changes (tests,
 * pipes, logs); the tty renderer (render-tty.ts) keeps an LCD box live with blessed.
 */
import type { Writable } from 'node:stream';
import type { Display } from './ports.ts';
import { type ScreenFrame, frameText } from './screen.ts';

export class NullDisplay implements Display {
  show(): void {}
  close(): void {}
}

/** Prints each new frame framed by a border, skipping repeats. */
export class TextDisplay implements Display {
  private last = '';
  private readonly out: Writable;
  private readonly label: string;

  constructor(out: Writable, label = '') {
    this.out = out;
    this.label = label;
  }

  show(frame: ScreenFrame): void {
    const text = frameText(frame);
    if (text === this.last) return;
    this.last = text;
    const width = frame.rows[0]?.length ?? 0;
    const top = `+${this.label ? `${this.label}`.slice(0, width).padEnd(width, '-') : '-'.repeat(width)}+`;
    this.out.write([top, ...frame.rows.map((r) => `|${r}|`), `+${'-'.repeat(width)}+`].join('\n') + '\n');
  }

  close(): void {}
}
