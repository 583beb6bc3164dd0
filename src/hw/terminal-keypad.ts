/**
 * The terminal's keyboard as a keypad (on a desktop, or the Pi's console): digits, * and #, F1–F4
 * for the softkeys, arrows, Enter to select, Esc or Backspace to go back, s for Settings.
 */
import { Bus } from '../common/bus.ts';
import { type Key, isKey } from '../phone/keys.ts';
import type { KeyEvent, Keypad } from '../phone/ports.ts';

export function terminalKey(k: string): Key | undefined {
  const map: Record<string, Key> = { f1: 'soft1', f2: 'soft2', f3: 'soft3', f4: 'soft4', up: 'up', down: 'down', enter: 'select', return: 'select', escape: 'back', backspace: 'back', s: 'settings' };
  if (isKey(k) && k.length === 1) return k;
  return map[k];
}

/** Fed by whatever reads the terminal (the blessed LCD wall), one key name at a time. */
export class TerminalKeypad implements Keypad {
  readonly source = 'terminal';
  private readonly bus = new Bus<KeyEvent>();

  onKey(fn: (e: KeyEvent) => void): () => void {
    return this.bus.subscribe(fn);
  }

  /** A terminal key name (blessed's: `f1`, `up`, `enter`, or the character typed). */
  feed(name: string): void {
    const key = terminalKey(name);
    if (key) this.bus.publish({ key, source: this.source });
  }

  close(): void {}
}
