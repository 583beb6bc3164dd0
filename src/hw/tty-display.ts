/**
 * LCDs drawn with blessed on a terminal: the fbcon tty mapped to the panel on a Pi
 * (TERM=linux), or any terminal elsewhere. One screen holds one or more LCD boxes side by side
 * (the demo shows every phone) and a log pane under them. Keys go to one handler, the same
 * event whatever the source.
 */
import blessed from 'blessed';
import { printable } from '../common/printable.ts';
import type { Display } from '../phone/ports.ts';
import type { ScreenFrame } from '../phone/screen.ts';

export class TtyLcdWall {
  private readonly screen: blessed.Widgets.Screen;
  private readonly boxes: blessed.Widgets.BoxElement[] = [];
  private readonly log: blessed.Widgets.Log;
  private x = 0;
  private closed = false;

  constructor(p: { title: string; onKey?: (key: string) => void; output?: NodeJS.WriteStream; input?: NodeJS.ReadStream }) {
    this.screen = blessed.screen({ smartCSR: false, title: p.title, ...(p.output ? { output: p.output } : {}), ...(p.input ? { input: p.input } : {}), fullUnicode: false, dockBorders: true });
    this.log = blessed.log({ parent: this.screen, top: 12, left: 0, width: '100%', bottom: 0, border: { type: 'line' }, label: ' events ', scrollback: 500, tags: false });
    this.screen.key(['C-c', 'q'], () => p.onKey?.('quit'));
    this.screen.on('keypress', (ch: string | undefined, key: { name?: string; full?: string } | undefined) => {
      // Named keys (arrows, F1, enter) by name; printable ones by the character typed.
      const k = key?.name && key.name.length > 1 ? key.name : (ch ?? key?.full);
      if (k && k !== 'q') p.onKey?.(k);
    });
    this.screen.render();
  }

  /** Adds one LCD of the frame size the phone will draw. */
  lcd(label: string, cols: number, rows: number): Display {
    const box = blessed.box({ parent: this.screen, top: 0, left: this.x, width: cols + 2, height: rows + 2, border: { type: 'line' }, label: ` ${label.slice(0, cols - 4)} `, tags: false, style: { border: { fg: 'cyan' } } });
    this.x += cols + 3;
    this.log.top = Math.max(Number(this.log.top), rows + 2);
    this.boxes.push(box);
    return {
      show: (frame: ScreenFrame) => {
        if (this.closed) return;
        box.setContent(frame.rows.join('\n'));
        box.style.border.fg = frame.rows.some((r) => r.startsWith('Registered')) ? 'green' : 'cyan';
        this.screen.render();
      },
      close: () => {},
    };
  }

  note(line: string): void {
    if (this.closed) return;
    this.log.log(printable(line));
    this.screen.render();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.screen.destroy();
  }
}
