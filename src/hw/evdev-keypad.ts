/**
 * A Linux input device (`/dev/input/eventN`) as a keypad: what the kernel's `gpio-keys` and
 * `matrix-keypad` overlays, and USB keypads, give us. The device is read as a stream of
 * `struct input_event` records, without a native addon:
 *
 *   64-bit kernels: struct timeval {s64 sec; s64 usec} | u16 type | u16 code | s32 value  (24 bytes)
 *   32-bit kernels: struct timeval {s32 sec; s32 usec} | u16 type | u16 code | s32 value  (16 bytes)
 *
 * Only EV_KEY presses become keys (and autorepeat, for up and down only, so a held arrow
 * scrolls but a held digit does not type twice). The fd is opened non-blocking and polled: a
 * blocking read would hold a libuv thread until the next key press and keep the process from
 * exiting after close().
 */
import { constants } from 'node:fs';
import { type FileHandle, access, open } from 'node:fs/promises';
import { Bus } from '../common/bus.ts';
import type { Key } from '../phone/keys.ts';
import { NullKeypad } from '../phone/keypads.ts';
import type { KeyEvent, Keypad } from '../phone/ports.ts';

export const EV_SYN = 0;
export const EV_KEY = 1;
const KEY_RELEASE = 0;
const KEY_PRESS = 1;
const KEY_REPEAT = 2;

/**
 * Linux key codes (include/uapi/linux/input-event-codes.h) to the phone's keys. A plain table so
 * a board.json can replace it: keyboards' digit row, the keypad block, the KEY_NUMERIC_* codes
 * phone keypads use, arrows, Enter/OK/Select, Back/Esc/Backspace, F1–F4 as softkeys, Menu/Setup.
 */
export const LINUX_KEYMAP: Readonly<Record<number, Key>> = {
  11: '0', 2: '1', 3: '2', 4: '3', 5: '4', 6: '5', 7: '6', 8: '7', 9: '8', 10: '9', // KEY_0, KEY_1..KEY_9
  82: '0', 79: '1', 80: '2', 81: '3', 75: '4', 76: '5', 77: '6', 71: '7', 72: '8', 73: '9', // KEY_KP0..KEY_KP9
  0x200: '0', 0x201: '1', 0x202: '2', 0x203: '3', 0x204: '4', 0x205: '5', 0x206: '6', 0x207: '7', 0x208: '8', 0x209: '9', // KEY_NUMERIC_0..9
  55: '*', 0x20a: '*', 0x20b: '#', // KEY_KPASTERISK, KEY_NUMERIC_STAR, KEY_NUMERIC_POUND
  103: 'up', 108: 'down', // KEY_UP, KEY_DOWN
  28: 'select', 96: 'select', 0x160: 'select', 0x161: 'select', // KEY_ENTER, KEY_KPENTER, KEY_OK, KEY_SELECT
  158: 'back', 1: 'back', 14: 'back', // KEY_BACK, KEY_ESC, KEY_BACKSPACE
  59: 'soft1', 60: 'soft2', 61: 'soft3', 62: 'soft4', // KEY_F1..KEY_F4
  139: 'settings', 141: 'settings', // KEY_MENU, KEY_SETUP
};

/** Keys a held button repeats: scrolling a list, never typing a digit twice. */
const REPEATING: ReadonlySet<Key> = new Set<Key>(['up', 'down']);

export interface InputEvent {
  type: number;
  code: number;
  value: number;
}

/** The record size of the running process's kernel ABI: 24 bytes on 64-bit, 16 on 32-bit. */
export function nativeEventSize(arch: string = process.arch): 16 | 24 {
  return ['arm64', 'x64', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el'].includes(arch) ? 24 : 16;
}

/**
 * Cuts a byte stream into input_event records. Reads of a real evdev device are whole records,
 * but a pipe (and a test) may split one across reads: the tail waits for the next chunk.
 */
export class InputEventDecoder {
  private readonly size: 16 | 24;
  private rest: Buffer = Buffer.alloc(0);

  constructor(size: 16 | 24) {
    this.size = size;
  }

  push(chunk: Buffer): InputEvent[] {
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const out: InputEvent[] = [];
    const at = this.size - 8; // type, code and value follow the timeval
    let off = 0;
    for (; off + this.size <= buf.length; off += this.size) {
      out.push({ type: buf.readUInt16LE(off + at), code: buf.readUInt16LE(off + at + 2), value: buf.readInt32LE(off + at + 4) });
    }
    this.rest = Buffer.from(buf.subarray(off));
    return out;
  }
}

/** The key an event presses, if any: EV_KEY presses, and repeats of the keys that repeat. */
export function keyOf(e: InputEvent, keymap: Readonly<Record<number, Key>>): Key | undefined {
  if (e.type !== EV_KEY || e.value === KEY_RELEASE) return undefined;
  const key = keymap[e.code];
  if (!key) return undefined;
  if (e.value === KEY_PRESS || (e.value === KEY_REPEAT && REPEATING.has(key))) return key;
  return undefined;
}

export interface EvdevOptions {
  device: string;
  /** Bytes per input_event: 24 (64-bit kernel) or 16 (32-bit); the running process's by default. */
  eventSize?: 16 | 24;
  keymap?: Readonly<Record<number, Key>>;
  /** Where trouble is reported (device missing, gone, back): a log line, never a crash. */
  onMessage?: (text: string) => void;
  /** How long to wait before opening a device that went away again. */
  retryMs?: number;
  /** How often an idle device is polled for events. */
  pollMs?: number;
}

/** An evdev keypad when the device can be read, else a NullKeypad and a message saying why. */
export async function openEvdevKeypad(opts: EvdevOptions): Promise<Keypad> {
  try {
    await access(opts.device, constants.R_OK);
  } catch (e) {
    opts.onMessage?.(`evdev keypad ${opts.device}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; no keys from it`);
    return new NullKeypad('evdev');
  }
  return new EvdevKeypad(opts);
}

export class EvdevKeypad implements Keypad {
  readonly source = 'evdev';
  private readonly bus = new Bus<KeyEvent>();
  private readonly opts: Required<Omit<EvdevOptions, 'onMessage'>> & Pick<EvdevOptions, 'onMessage'>;
  private closed = false;
  private file: FileHandle | undefined;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  /** Set while the device is away, so it is reported once, not on every retry. */
  private away = false;

  constructor(opts: EvdevOptions) {
    this.opts = { eventSize: nativeEventSize(), keymap: LINUX_KEYMAP, retryMs: 3000, pollMs: 15, ...opts };
    void this.run();
  }

  onKey(fn: (e: KeyEvent) => void): () => void {
    return this.bus.subscribe(fn);
  }

  close(): void {
    this.closed = true;
    // Ends a poll or retry wait now, so the device is closed at once and nothing keeps Node alive.
    clearTimeout(this.timer);
    this.wake?.();
  }

  /** Opens the device and reads it until close(); a failure is reported and retried. */
  private async run(): Promise<void> {
    while (!this.closed) {
      const why = await this.readDevice();
      if (this.closed) break;
      if (!this.away) this.opts.onMessage?.(`evdev keypad ${this.opts.device}: ${why}; retrying every ${this.opts.retryMs / 1000} s`);
      this.away = true;
      await this.sleep(this.opts.retryMs);
    }
  }

  /** Reads until the device fails or the keypad is closed; resolves with why it stopped. */
  private async readDevice(): Promise<string> {
    try {
      this.file = await open(this.opts.device, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    }
    const decoder = new InputEventDecoder(this.opts.eventSize);
    const buf = Buffer.alloc(this.opts.eventSize * 64);
    try {
      while (!this.closed) {
        let n: number;
        try {
          ({ bytesRead: n } = await this.file.read(buf, 0, buf.length, null));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
          n = -1;
        }
        if (n === 0) return 'end of file';
        // Back only once a read works: a pipe without a writer opens fine and then ends at once.
        if (this.away) this.opts.onMessage?.(`evdev keypad ${this.opts.device}: back`);
        this.away = false;
        if (n < 0) {
          await this.sleep(this.opts.pollMs);
          continue;
        }
        for (const e of decoder.push(Buffer.from(buf.subarray(0, n)))) {
          const key = keyOf(e, this.opts.keymap);
          if (key && !this.closed) this.bus.publish({ key, source: this.source });
        }
      }
      return 'closed';
    } finally {
      await this.file.close().catch(() => {});
      this.file = undefined;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }
}
