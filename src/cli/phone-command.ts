/**
 * `sepi phone`: one phone, booting until told to stop or until --until is reached.
 * Exit status: 0 when --until was reached, 1 with the reason on stderr otherwise (timeout,
 * failure), 2 for usage errors. With --json-events every event is one JSON object on stdout.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MacAddress } from '../wire/mac.ts';
import { PHONE_MODELS, modelByName } from '../wire/models.ts';
import { isIpv4 } from '../wire/ipv4.ts';
import type { TtyLcdWall } from '../hw/tty-display.ts';
import { SystemClock } from '../common/clock.ts';
import type { PhoneEvent } from '../phone/events.ts';
import { Firmware } from '../phone/firmware.ts';
import { KernelInterface, NodeNetwork, UnmanagedInterface } from '../phone/node-ports.ts';
import { Nvram } from '../phone/nvram.ts';
import { KEYS, type Key, PhoneUi, isKey } from '../phone/ui.ts';
import { createInterface } from 'node:readline';
import { type Display, NullDisplay, TextDisplay } from '../phone/render.ts';
import { LCD_160x128, LCD_320x240, type ScreenGeometry, renderScreen } from '../phone/screen.ts';
import type { PhoneSettings } from '../phone/settings.ts';
import { UsageError, parse, positiveInt, required } from './args.ts';

export type UntilGoal = 'dhcp' | 'config' | 'registered' | 'registered-any';

/** True when an event reaches the goal. `registered` means registered with the phone's own file. */
export function reaches(goal: UntilGoal, e: PhoneEvent): boolean {
  if (e.state !== 'done') return false;
  switch (goal) {
    case 'dhcp':
      return e.step === 'dhcp';
    case 'config':
      return e.step === 'config';
    case 'registered':
      return e.step === 'register' && e['configKind'] === 'device';
    case 'registered-any':
      return e.step === 'register';
  }
}

/** Terminal keys to phone keys: digits, * and #, F1–F4 softkeys, arrows, Enter, Esc, s for Settings. */
export function terminalKey(k: string): Key | undefined {
  const map: Record<string, Key> = { f1: 'soft1', f2: 'soft2', f3: 'soft3', f4: 'soft4', up: 'up', down: 'down', enter: 'select', return: 'select', escape: 'back', backspace: 'back', s: 'settings' };
  if (isKey(k) && k.length === 1) return k;
  return map[k];
}

export function geometry(v: string | undefined): ScreenGeometry {
  if (v === undefined || v === '20x8') return LCD_160x128;
  if (v === '40x15') return LCD_320x240;
  const m = /^(\d{1,3})x(\d{1,3})$/.exec(v);
  if (!m || Number(m[1]) < 16 || Number(m[2]) < 6) throw new UsageError('--lcd must be COLSxROWS, at least 16x6 (20x8, 40x15)');
  return { cols: Number(m[1]), rows: Number(m[2]) };
}

export function settingsFromFlags(v: { 'tftp-server'?: string | undefined; static?: string | undefined }): Partial<PhoneSettings> {
  const out: Partial<PhoneSettings> = {};
  if (v['tftp-server']) {
    const [a, b] = v['tftp-server'].split(',');
    if (!a || !isIpv4(a) || (b !== undefined && !isIpv4(b))) throw new UsageError('--tftp-server takes one or two IPv4 addresses, comma-separated');
    Object.assign(out, { alternateTftp: true, tftpServer1: a, tftpServer2: b ?? '' });
  }
  if (v.static) {
    const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(v.static);
    if (!m || !isIpv4(m[1]!) || Number(m[2]) > 32) throw new UsageError('--static takes IP/PREFIX, e.g. 10.0.0.20/24');
    Object.assign(out, { dhcpEnabled: false, staticAddress: m[1], staticPrefix: Number(m[2]) });
  }
  return out;
}

export interface BoardDescription {
  name: string;
  lcd: { cols: number; rows: number };
  iface: string;
}

const BOARDS = join(import.meta.dirname, '..', '..', 'board');

/** Reads board/NAME/board.json: the LCD grid and the interface of a supported board. */
export async function loadBoard(name: string): Promise<BoardDescription> {
  if (!/^[a-z0-9-]+$/.test(name)) throw new UsageError(`--board ${name}: not a board name`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(BOARDS, name, 'board.json'), 'utf8'));
  } catch (e) {
    throw new UsageError(`--board ${name}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such board (see board/)' : (e as Error).message}`);
  }
  const b = raw as BoardDescription;
  if (typeof b?.iface !== 'string' || typeof b?.lcd?.cols !== 'number' || typeof b?.lcd?.rows !== 'number') throw new UsageError(`board ${name}: board.json needs iface and lcd.cols/rows`);
  return b;
}

export async function phoneCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    iface: { type: 'string' },
    mac: { type: 'string' },
    model: { type: 'string' },
    nvram: { type: 'string' },
    display: { type: 'string' },
    until: { type: 'string' },
    timeout: { type: 'string' },
    'json-events': { type: 'boolean' },
    net: { type: 'string' },
    'tftp-server': { type: 'string' },
    static: { type: 'string' },
    lcd: { type: 'string' },
    'http-port': { type: 'string' },
    'tftp-port': { type: 'string' },
    'json-screens': { type: 'boolean' },
    board: { type: 'string' },
    keys: { type: 'string' },
    'factory-reset': { type: 'boolean' },
  });
  if (v.keys !== undefined && v.keys !== 'stdin') throw new UsageError('--keys takes "stdin" (key names, one or more a line)');
  const board = v.board ? await loadBoard(v.board) : undefined;
  const iface = required(v.iface ?? board?.iface, '--iface');
  // A board is the phone: by default its MAC is the interface's own.
  const macText = v.mac ?? (await readFile(`/sys/class/net/${iface}/address`, 'utf8').catch(() => ''));
  if (!macText) throw new UsageError(`--mac is required (no MAC address readable for ${iface})`);
  const mac = MacAddress.parse(macText);
  if (!mac) throw new UsageError('--mac must be a MAC address, e.g. 00:11:22:33:44:55');
  const model = modelByName(v.model ?? '8841');
  if (!model) throw new UsageError(`--model must be one of ${[...PHONE_MODELS.keys()].join(', ')}`);
  const until = v.until as UntilGoal | undefined;
  if (until !== undefined && !['dhcp', 'config', 'registered', 'registered-any'].includes(until)) throw new UsageError('--until must be dhcp, config, registered or registered-any');
  const timeoutSecs = v.timeout === undefined ? undefined : positiveInt(v.timeout, '--timeout', 0);
  const netMode = v.net ?? 'kernel';
  if (netMode !== 'kernel' && netMode !== 'none') throw new UsageError('--net must be kernel (own the interface) or none (emulated)');
  const json = v['json-events'] ?? false;
  const displayKind = v.display ?? (json ? 'none' : process.stdout.isTTY ? 'tty' : 'text');
  if (!['tty', 'text', 'none'].includes(displayKind)) throw new UsageError('--display must be tty, text or none');
  const g = geometry(v.lcd ?? (board ? `${board.lcd.cols}x${board.lcd.rows}` : undefined));
  const nvramDir = v.nvram ?? join(process.env['XDG_STATE_HOME'] ?? join(homedir(), '.local', 'state'), 'sepi', mac.deviceName);

  const clock = new SystemClock();
  const network = new NodeNetwork();
  const ifacePort = netMode === 'kernel' ? new KernelInterface(iface) : new UnmanagedInterface(iface);
  let wall: TtyLcdWall | undefined;
  let display: Display;
  let stop: (code: number, why: string) => void = () => {};
  let ui: PhoneUi | undefined;
  if (displayKind === 'tty' && process.stdout.isTTY) {
    const { TtyLcdWall } = await import('../hw/tty-display.ts');
    wall = new TtyLcdWall({ title: `sepi ${mac.deviceName}`, onKey: (k) => (k === 'quit' ? stop(130, 'stopped from the keyboard') : pressKey(terminalKey(k))) });
    display = wall.lcd(`${model.name} ${mac.deviceName}`, g.cols, g.rows);
  } else if (displayKind === 'none') display = new NullDisplay();
  else display = new TextDisplay(json ? process.stderr : process.stdout, ` ${mac.deviceName} `);

  let lastScreen = '';
  const nvram = new Nvram(nvramDir);
  if (v['factory-reset']) await nvram.wipe();
  const pressKey = (k: Key | undefined) => {
    if (k) ui?.press(k);
  };
  const firmware = new Firmware({
    mac, model, network, iface: ifacePort, clock, nvram,
    httpPort: positiveInt(v['http-port'], '--http-port', 6970),
    tftpPort: positiveInt(v['tftp-port'], '--tftp-port', 69),
    settingsOverride: settingsFromFlags(v),
    onEvent: (e) => {
      if (json) process.stdout.write(JSON.stringify(e) + '\n');
      wall?.note(`${(e.t / 1000).toFixed(1).padStart(6)}s ${e.step.padEnd(8)} ${e.message}`);
      if (until && reaches(until, e)) stop(0, '');
    },
    onStatus: () => showScreen(),
  });
  ui = new PhoneUi(firmware, () => showScreen());
  function showScreen(): void {
    const frame = ui ? ui.frame(g) : renderScreen(firmware.status, g);
    display.show(frame);
    const text = frame.rows.join('\n');
    if (json && v['json-screens'] && text !== lastScreen) {
      lastScreen = text;
      process.stdout.write(JSON.stringify({ screen: frame.rows, softkeys: frame.softkeys }) + '\n');
    }
  }
  if (v.keys === 'stdin') {
    createInterface({ input: process.stdin }).on('line', (line) => {
      for (const word of line.trim().split(/\s+/).filter(Boolean)) {
        if (isKey(word)) ui.press(word);
        else process.stderr.write(`sepi phone: unknown key "${word}" (keys: ${KEYS.join(' ')})\n`);
      }
    });
  }

  const code = await new Promise<number>((resolve) => {
    let done = false;
    stop = (c, why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      void firmware.powerOff().finally(() => {
        wall?.close();
        display.close();
        void network.close();
        if (why) process.stderr.write(`sepi phone ${mac.deviceName}: ${why}\n`);
        resolve(c);
      });
    };
    const timer = timeoutSecs
      ? setTimeout(() => stop(1, `--until ${until ?? '(none)'} not reached in ${timeoutSecs} s; last: ${firmware.status.problem ?? firmware.status.log.at(-1) ?? 'nothing happened'}`), timeoutSecs * 1000)
      : undefined;
    process.once('SIGINT', () => stop(130, 'interrupted'));
    process.once('SIGTERM', () => stop(143, 'terminated'));
    firmware.powerOn();
  });
  return code;
}
