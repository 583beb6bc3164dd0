/**
 * Keypad adapters that need no hardware: none at all, keys pressed by a program (tests, and
 * `--activation-code` typing a code), and key names read as lines from a stream (`--keys stdin`,
 * the way lab scripts drive a phone). The terminal's keypad is in src/hw/terminal-keypad.ts.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Bus } from '../common/bus.ts';
import { KEYS, type Key, isKey } from './keys.ts';
import type { KeyEvent, Keypad } from './ports.ts';

/** A keypad that never sends a key: the fallback when a device is missing. */
export class NullKeypad implements Keypad {
  readonly source: string;

  constructor(source = 'none') {
    this.source = source;
  }

  onKey(): () => void {
    return () => {};
  }

  close(): void {}
}

/** Keys pressed by a program. */
export class ScriptedKeypad implements Keypad {
  readonly source: string;
  private readonly bus = new Bus<KeyEvent>();

  constructor(source = 'script') {
    this.source = source;
  }

  onKey(fn: (e: KeyEvent) => void): () => void {
    return this.bus.subscribe(fn);
  }

  press(...keys: Key[]): void {
    for (const key of keys) this.bus.publish({ key, source: this.source });
  }

  close(): void {}
}

/** Key names, one or more a line, separated by spaces; unknown names are reported, not pressed. */
export class LineKeypad implements Keypad {
  readonly source: string;
  private readonly keys: ScriptedKeypad;
  private readonly lines: ReturnType<typeof createInterface>;

  constructor(input: Readable, onUnknown: (word: string, known: readonly string[]) => void, source = 'stdin') {
    this.source = source;
    this.keys = new ScriptedKeypad(source);
    this.lines = createInterface({ input });
    this.lines.on('line', (line) => {
      for (const word of line.trim().split(/\s+/).filter(Boolean)) {
        if (isKey(word)) this.keys.press(word);
        else onUnknown(word, KEYS);
      }
    });
  }

  onKey(fn: (e: KeyEvent) => void): () => void {
    return this.keys.onKey(fn);
  }

  close(): void {
    this.lines.close();
  }
}
