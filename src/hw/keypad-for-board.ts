/**
 * The keypad a board.json names, built: evdev and serial devices open here (each module loaded
 * only when a board asks for it, so a phone without one never loads serialport). The terminal's
 * keypad comes with the terminal display (src/cli/phone-command.ts), and `none` is no keypad.
 */
import type { Keypad } from '../phone/ports.ts';
import type { Board } from './board.ts';

/** The board's own keypad, or undefined when it has none of its own (terminal, none). */
export async function keypadForBoard(spec: Board['keypad'], onMessage: (text: string) => void): Promise<Keypad | undefined> {
  switch (spec.source) {
    case 'evdev': {
      const { LINUX_KEYMAP, openEvdevKeypad } = await import('./evdev-keypad.ts');
      const keymap = { ...LINUX_KEYMAP, ...Object.fromEntries(Object.entries(spec.keymap ?? {}).map(([code, key]) => [Number(code), key])) };
      return openEvdevKeypad({ device: spec.device, keymap, onMessage });
    }
    case 'serial': {
      const { openSerialKeypad } = await import('./serial-keypad.ts');
      return openSerialKeypad({ device: spec.device, baud: spec.baud ?? 115200, onMessage });
    }
    case 'terminal':
    case 'none':
      return undefined;
  }
}
