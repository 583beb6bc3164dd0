/**
 * A microcontroller on a UART as a keypad, speaking our line protocol (docs/protocols/
 * serial-keypad.md, version 1): one key name a line, an optional `HELLO sepi-keypad/1 NAME`
 * greeting, unknown lines ignored and counted, lines over 64 bytes dropped. The lines are split
 * here rather than with @serialport/parser-readline, which buffers without limit: a board that
 * sends noise and never a newline must not grow our memory.
 */
import type { SerialPort } from 'serialport';
import { Bus } from '../common/bus.ts';
import { type Key, isKey } from '../phone/keys.ts';
import { NullKeypad } from '../phone/keypads.ts';
import type { KeyEvent, Keypad } from '../phone/ports.ts';

export const PROTOCOL_VERSION = 1;
/** The longest line, without its CR LF or LF. */
export const MAX_LINE = 64;
const LF = 0x0a;

export type SerialLine =
  | { kind: 'key'; key: Key }
  | { kind: 'hello'; version: number; name: string }
  | { kind: 'unknown'; text: string }
  | { kind: 'too-long' };

/** One line, its terminator already taken off: a key, the greeting, or something we do not know. */
export function parseLine(line: string): SerialLine | undefined {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text === '') return undefined; // blank lines are allowed as keep-alives
  if (isKey(text)) return { kind: 'key', key: text };
  const hello = /^HELLO sepi-keypad\/(\d{1,3})(?: ([\x21-\x7e][\x20-\x7e]*))?$/.exec(text);
  if (hello) return { kind: 'hello', version: Number(hello[1]), name: hello[2] ?? '' };
  return { kind: 'unknown', text };
}

/** Bytes in, lines out; a line longer than MAX_LINE is skipped up to its newline. */
export class LineSplitter {
  private buf: Buffer = Buffer.alloc(0);
  /** True while the rest of an over-long line is being thrown away. */
  private skipping = false;

  push(chunk: Buffer): SerialLine[] {
    const out: SerialLine[] = [];
    let data = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (let nl = data.indexOf(LF); nl >= 0; nl = data.indexOf(LF)) {
      const raw = data.subarray(0, nl);
      data = data.subarray(nl + 1);
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      // A CR before the LF is part of the terminator, not of the 64 bytes.
      const len = raw.at(-1) === 0x0d ? raw.length - 1 : raw.length;
      if (len > MAX_LINE) out.push({ kind: 'too-long' });
      else {
        const line = parseLine(raw.toString('latin1'));
        if (line) out.push(line);
      }
    }
    // MAX_LINE + 1 keeps room for a CR still to come before the LF.
    if (!this.skipping && data.length > MAX_LINE + 1) {
      out.push({ kind: 'too-long' });
      this.skipping = true;
    }
    this.buf = this.skipping ? Buffer.alloc(0) : Buffer.from(data);
    return out;
  }
}

export interface SerialKeypadOptions {
  device: string;
  baud?: number;
  /** Where the greeting, the first unknown line and trouble are reported: a log line, never a crash. */
  onMessage?: (text: string) => void;
  /** How long to wait before opening a port that went away again. */
  retryMs?: number;
}

export interface SerialKeypadStats {
  keys: number;
  unknown: number;
  tooLong: number;
  /** The name from the greeting, when the keypad said hello. */
  name: string | undefined;
}

/** A serial keypad when the port opens, else a NullKeypad and a message saying why. */
export async function openSerialKeypad(opts: SerialKeypadOptions): Promise<Keypad> {
  const { SerialPort } = await import('serialport');
  const port = new SerialPort({ path: opts.device, baudRate: opts.baud ?? 115200, autoOpen: false });
  const error = await new Promise<Error | null>((resolve) => port.open(resolve));
  if (error) {
    opts.onMessage?.(`serial keypad ${opts.device}: ${error.message}; no keys from it`);
    return new NullKeypad('serial');
  }
  return new SerialKeypad(port, opts);
}

export class SerialKeypad implements Keypad {
  readonly source = 'serial';
  readonly stats: SerialKeypadStats = { keys: 0, unknown: 0, tooLong: 0, name: undefined };
  private readonly bus = new Bus<KeyEvent>();
  private readonly port: SerialPort;
  private readonly opts: SerialKeypadOptions;
  private splitter = new LineSplitter();
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  /** Takes an open port; openSerialKeypad makes one. */
  constructor(port: SerialPort, opts: SerialKeypadOptions) {
    this.port = port;
    this.opts = opts;
    port.on('data', (chunk: Buffer) => this.receive(chunk));
    port.on('error', (e: Error) => this.say(`${e.message}`));
    port.on('close', () => this.lost());
  }

  onKey(fn: (e: KeyEvent) => void): () => void {
    return this.bus.subscribe(fn);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.port.isOpen) this.port.close();
  }

  private receive(chunk: Buffer): void {
    for (const line of this.splitter.push(chunk)) {
      if (line.kind === 'key') {
        this.stats.keys++;
        this.bus.publish({ key: line.key, source: this.source });
      } else if (line.kind === 'hello') {
        this.stats.name = line.name;
        const other = line.version === PROTOCOL_VERSION ? '' : ` (version ${line.version}; we speak ${PROTOCOL_VERSION}, reading on)`;
        this.say(`"${line.name}" says hello${other}`);
      } else if (line.kind === 'unknown') {
        // The first one says the keypad speaks something else; after that only the count grows.
        if (this.stats.unknown++ === 0) this.say(`ignoring lines it does not know, e.g. ${JSON.stringify(line.text)}`);
      } else this.stats.tooLong++;
    }
  }

  /** The port closed under us (unplugged USB adapter): reported once, reopened every few seconds. */
  private lost(): void {
    if (this.closed) return;
    const every = this.opts.retryMs ?? 3000;
    this.say(`gone; retrying every ${every / 1000} s`);
    const retry = () => {
      if (this.closed) return;
      this.port.open((e) => {
        if (this.closed) {
          if (this.port.isOpen) this.port.close();
        } else if (e) this.timer = setTimeout(retry, every);
        else {
          this.splitter = new LineSplitter(); // half a line from before is not the start of a new one
          this.say('back');
        }
      });
    };
    this.timer = setTimeout(retry, every);
  }

  private say(text: string): void {
    this.opts.onMessage?.(`serial keypad ${this.opts.device}: ${text}`);
  }
}
