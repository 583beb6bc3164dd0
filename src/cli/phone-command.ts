/**
 * `sepi phone`: flags in, one handset out. Builds the ports (clock, network, interface, NVRAM,
 * displays, keypads) and the output subscribers, powers the handset on and waits for --until,
 * --timeout or a signal. Exit status: 0 when --until was reached, 1 with the reason on stderr
 * otherwise, 2 for usage errors (docs/cli.md). Calls (docs/calls.md): `--call DN` dials once
 * registered, `--auto-answer` answers, `--dtmf`, `--hangup-after`, `--audio-file`, `--record`.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MacAddress } from '../wire/mac.ts';
import { PHONE_MODELS, modelByName } from '../wire/models.ts';
import { isIpv4 } from '../wire/ipv4.ts';
import { parseWav, writeWav } from '../wire/wav.ts';
import type { CallOptions } from '../phone/call/phone-calls.ts';
import { SystemClock } from '../common/clock.ts';
import { printable } from '../common/printable.ts';
import type { Board } from '../hw/board.ts';
import type { TtyLcdWall } from '../hw/tty-display.ts';
import { type UntilGoal, UNTIL_GOALS, isUntilGoal, reaches, runUntil } from '../phone/goals.ts';
import { Handset } from '../phone/handset.ts';
import { eventLine, screenLine } from '../phone/json-lines.ts';
import { LineKeypad } from '../phone/keypads.ts';
import { KernelInterface, NodeNetwork, UnmanagedInterface } from '../phone/node-ports.ts';
import { FileNvram } from '../phone/nvram.ts';
import { asMppModel, hasMppFirmware } from '../phone/mpp/identity.ts';
import { type BankBoot, chooseBank, execFirmware, takeBankBoot, thisLaunch } from '../phone/bank-exec.ts';
import type { RebootReason } from '../phone/events.ts';
import { wipeKeepingMic } from '../phone/mic.ts';
import { CA_KEY_FILE, defaultFactoryDir } from '../factory/factory-files.ts';
import type { MicIssuer } from '../factory/manufacturing-ca.ts';
import type { Display, Keypad } from '../phone/ports.ts';
import { NullDisplay, TextDisplay } from '../phone/render.ts';
import { LCD_160x128, LCD_320x240, type ScreenGeometry } from '../phone/screen.ts';
import type { PhoneSettings } from '../phone/settings.ts';
import { UsageError, parse, positiveInt, required } from './args.ts';


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

export function untilGoal(v: string | undefined): UntilGoal | undefined {
  if (v !== undefined && !isUntilGoal(v)) throw new UsageError(`--until must be ${UNTIL_GOALS.join(', ')}`);
  return v;
}

/** --board NAME: the board's file, a bad one a usage error. Loaded only when asked for (it brings zod). */
export async function loadBoard(name: string): Promise<Board> {
  const { BoardError, loadBoard: readBoard } = await import('../hw/board.ts');
  try {
    return await readBoard(name);
  } catch (e) {
    if (e instanceof BoardError) throw new UsageError(`--board ${e.message}`);
    throw e;
  }
}

/** The call flags: what a call sends and keeps, and what it does by itself (docs/calls.md). */
export async function callOptionsFromFlags(v: { dtmf?: string | undefined; 'hangup-after'?: string | undefined; 'auto-answer'?: boolean | undefined; 'audio-file'?: string | undefined; record?: string | undefined }): Promise<CallOptions> {
  const o: CallOptions = {};
  if (v['auto-answer']) o.autoAnswer = true;
  if (v.dtmf !== undefined) {
    if (!/^[0-9*#A-Da-d]{1,64}$/.test(v.dtmf)) throw new UsageError('--dtmf takes DTMF digits (0-9, *, #, A-D), e.g. 1234#');
    o.dtmfOnConnect = v.dtmf;
  }
  if (v['hangup-after'] !== undefined) {
    const secs = Number(v['hangup-after']);
    if (!/^\d+(\.\d+)?$/.test(v['hangup-after']) || !(secs > 0 && secs <= 86_400)) throw new UsageError('--hangup-after takes seconds (above 0, at most a day), e.g. 5 or 2.5');
    o.hangupAfterMs = Math.round(secs * 1000);
  }
  if (v['audio-file'] !== undefined) {
    const file = v['audio-file'];
    const bytes = await readFile(file).catch((e: Error) => {
      throw new UsageError(`--audio-file ${file}: ${e.message}`);
    });
    const wav = parseWav(bytes);
    if (!wav.ok) throw new UsageError(`--audio-file ${file}: ${wav.error.message}`);
    if (wav.value.sampleRate !== 8000) throw new UsageError(`--audio-file ${file}: ${wav.value.sampleRate} Hz; a call carries 8000 Hz (resample it first, e.g. sox in.wav -r 8000 -c 1 out.wav)`);
    o.audio = { kind: 'samples', samples: wav.value.samples, name: file };
  }
  if (v.record !== undefined) {
    const file = v.record;
    // What each call received, written when it ends (the next call's replaces it).
    o.onRecording = (samples) => writeFileSync(file, writeWav(samples));
  }
  return o;
}

export async function phoneCommand(argv: string[]): Promise<number> {
  if (argv[0] === 'screenshot') return (await import('./screenshot-command.ts')).screenshotCommand(argv.slice(1));
  const { values: v } = parse(argv, {
    iface: { type: 'string' }, mac: { type: 'string' }, model: { type: 'string' }, nvram: { type: 'string' }, display: { type: 'string' },
    until: { type: 'string' }, timeout: { type: 'string' }, 'json-events': { type: 'boolean' }, net: { type: 'string' },
    'tftp-server': { type: 'string' }, static: { type: 'string' }, lcd: { type: 'string' }, 'http-port': { type: 'string' },
    'tftp-port': { type: 'string' }, 'json-screens': { type: 'boolean' }, board: { type: 'string' }, keys: { type: 'string' },
    'factory-reset': { type: 'boolean' }, 'capf-auth-string': { type: 'string' }, 'activation-code': { type: 'string' }, factory: { type: 'string' }, 'wait-scale': { type: 'string' }, 'firmware-cert': { type: 'string' },
    persona: { type: 'string' }, edos: { type: 'string' }, 'web-port': { type: 'string' },
    call: { type: 'string' }, dtmf: { type: 'string' }, 'hangup-after': { type: 'string' }, 'auto-answer': { type: 'boolean' }, 'audio-file': { type: 'string' }, record: { type: 'string' },
  });
  if (v.keys !== undefined && v.keys !== 'stdin') throw new UsageError('--keys takes "stdin" (key names, one or more a line)');
  const board = v.board ? await loadBoard(v.board) : undefined;
  const iface = required(v.iface ?? board?.iface, '--iface');
  // A board is the phone: by default its MAC is the interface's own.
  const macText = v.mac ?? (await readFile(`/sys/class/net/${iface}/address`, 'utf8').catch(() => ''));
  if (!macText) throw new UsageError(`--mac is required (no MAC address readable for ${iface})`);
  const mac = MacAddress.parse(macText);
  if (!mac) throw new UsageError('--mac must be a MAC address, e.g. 00:11:22:33:44:55');
  // `--model 8841-3PCC` is the Multiplatform 8841; `--persona` says it for any model.
  const modelText = v.model ?? board?.model ?? '8841';
  const model = modelByName(modelText.replace(/-3PCC$/i, ''));
  if (!model) throw new UsageError(`--model must be one of ${[...PHONE_MODELS.keys()].join(', ')} (add -3PCC for Multiplatform firmware)`);
  const persona = v.persona ?? (/-3PCC$/i.test(modelText) ? 'mpp' : board?.persona ?? 'enterprise');
  if (persona !== 'enterprise' && persona !== 'mpp') throw new UsageError('--persona must be enterprise (Unified CM firmware) or mpp (Multiplatform firmware)');
  if (persona === 'mpp' && !hasMppFirmware(model)) throw new UsageError(`--persona mpp: there is no Multiplatform firmware for the ${model.name} (78xx and 88xx only)`);
  if (v.edos !== undefined && (persona !== 'mpp' || !/^https:\/\/[^\s/]+/.test(v.edos))) throw new UsageError('--edos takes an https:// URL, and only with --persona mpp');
  const webPort = v['web-port'] === undefined ? undefined : positiveInt(v['web-port'], '--web-port', 80);
  const callTo = v.call;
  if (callTo !== undefined && !/^[0-9*#+A-Za-z._-]{1,32}$/.test(callTo)) throw new UsageError('--call takes a directory number (digits, * and #), e.g. 1002');
  const callOptions = await callOptionsFromFlags(v);
  const until = untilGoal(v.until);
  const timeoutSecs = v.timeout === undefined ? undefined : positiveInt(v.timeout, '--timeout', 0);
  const netMode = v.net ?? 'kernel';
  if (netMode !== 'kernel' && netMode !== 'none') throw new UsageError('--net must be kernel (own the interface) or none (emulated)');
  const json = v['json-events'] ?? false;
  const displayKind = v.display ?? (json ? 'none' : process.stdout.isTTY ? 'tty' : 'text');
  if (!['tty', 'text', 'none'].includes(displayKind)) throw new UsageError('--display must be tty, text or none');
  const g = geometry(v.lcd ?? (board ? `${board.lcd.cols}x${board.lcd.rows}` : undefined));
  const nvramDir = v.nvram ?? join(process.env['XDG_STATE_HOME'] ?? join(homedir(), '.local', 'state'), 'sepi', mac.deviceName);
  const httpPort = positiveInt(v['http-port'], '--http-port', 6970);
  const tftpPort = positiveInt(v['tftp-port'], '--tftp-port', 69);
  const settingsOverride = settingsFromFlags(v);
  const capfAuthString = v['capf-auth-string'];
  if (capfAuthString !== undefined && !/^\d{4,10}$/.test(capfAuthString)) throw new UsageError('--capf-auth-string must be 4 to 10 digits');
  const waitScale = v['wait-scale'] === undefined ? undefined : Number(v['wait-scale']);
  if (waitScale !== undefined && !(waitScale > 0 && waitScale <= 1000)) throw new UsageError('--wait-scale must be a number above 0 and at most 1000 (0.001 walks a 24-hour ladder in about a minute and a half)');
  const firmwareCert = v['firmware-cert'] === undefined ? undefined : await readFile(v['firmware-cert'], 'utf8').catch((e: Error) => {
    throw new UsageError(`--firmware-cert ${v['firmware-cert']}: ${e.message}`);
  });
  const activationCode = v['activation-code']?.replace(/[\s-]/g, '');
  if (activationCode !== undefined && !/^\d{16}$/.test(activationCode)) throw new UsageError('--activation-code must be 16 digits (dashes allowed)');
  // The lab factory makes this phone's MIC the first time it onboards by code; forge loads only if there is one.
  // With no --factory, the default one is made on first need: a phone and a companion on one
  // machine then onboard with no step at all (the companion finds it at the same default place).
  const factoryDir = v.factory ?? defaultFactoryDir();
  if (v.factory !== undefined && !existsSync(join(factoryDir, CA_KEY_FILE))) throw new UsageError(`--factory ${v.factory}: no manufacturing CA there (sepi factory init --dir ${v.factory})`);
  // Opened (node-forge loaded, the CA made if missing) only when the phone first needs a MIC.
  let factory: Promise<MicIssuer> | undefined;
  const micIssuer: MicIssuer = {
    issueMic: async (o) => {
      factory ??= import('../factory/manufacturing-ca.ts').then(async (m) => (await m.ManufacturingCa.open(factoryDir, o.now)).ca);
      return (await factory).issueMic(o);
    },
  };

  // ---- ports ----------------------------------------------------------------------------------
  const clock = new SystemClock();
  const network = new NodeNetwork();
  const nvram = new FileNvram(nvramDir);
  if (v['factory-reset']) await wipeKeepingMic(nvram);
  // The bank to run (bank-exec.ts): this firmware, or another bank's re-executed in its place.
  const factoryLoads = persona === 'mpp' ? asMppModel(model) : model;
  const note = (text: string) => process.stderr.write(`sepi phone ${mac.deviceName}: ${printable(text)}\n`);
  // Its arguments again, less what a power-on does once (a re-exec is the same power-on, or a reboot).
  const again = process.argv.slice(2).filter((a) => a !== '--factory-reset');
  const relaunch = async (factory: BankBoot['factory'] | undefined, reason?: RebootReason): Promise<BankBoot | number> => {
    const choice = await chooseBank(nvram, { active: factoryLoads.activeLoad, inactive: factoryLoads.inactiveLoad }, thisLaunch(), factory ?? thisLaunch(), note);
    const boot = { ...choice.boot, ...(reason ? { reason } : {}) };
    if (choice.run === 'here') return boot;
    // Which Node runs it too: the bank's own runtime after an upgrade that carried one.
    const runtime = choice.launch.node && choice.launch.node !== process.execPath ? ` on ${choice.launch.node}` : '';
    note(`bank ${boot.bank}: running load ${boot.load} (${choice.launch.script}${runtime})`);
    return execFirmware(choice.launch, again, boot);
  };
  const launched = takeBankBoot(process.env) ?? (await relaunch(undefined));
  if (typeof launched === 'number') return launched;
  const bankBoot: BankBoot = launched;
  let handingOver: RebootReason | undefined;
  const displays: Display[] = [];
  const keypads: Keypad[] = [];
  let wall: TtyLcdWall | undefined;
  let stop: (code: number, why: string) => void = () => {};
  if (displayKind === 'tty' && process.stdout.isTTY) {
    const [{ TtyLcdWall }, { TerminalKeypad }] = await Promise.all([import('../hw/tty-display.ts'), import('../hw/terminal-keypad.ts')]);
    const terminal = new TerminalKeypad();
    wall = new TtyLcdWall({ title: `sepi ${mac.deviceName}`, onKey: (k) => (k === 'quit' ? stop(130, 'stopped from the keyboard') : terminal.feed(k)) });
    displays.push(wall.lcd(`${model.name} ${mac.deviceName}`, g.cols, g.rows));
    keypads.push(terminal);
  } else if (displayKind === 'text') displays.push(new TextDisplay(json ? process.stderr : process.stdout, ` ${mac.deviceName} `));
  else displays.push(new NullDisplay());
  if (board) {
    // The board's own keys (GPIO through evdev, a serial keypad); a missing device is a note, not a crash.
    const { keypadForBoard } = await import('../hw/keypad-for-board.ts');
    const own = await keypadForBoard(board.keypad, (text) => (wall ? wall.note(text) : process.stderr.write(`sepi phone: ${text}\n`)));
    if (own) keypads.push(own);
  }
  if (v.keys === 'stdin') keypads.push(new LineKeypad(process.stdin, (word, known) => process.stderr.write(`sepi phone: unknown key "${word}" (keys: ${known.join(' ')})\n`)));

  // ---- the handset and who listens ------------------------------------------------------------
  const handset = new Handset({
    mac, model, network, clock, nvram, httpPort, tftpPort, settingsOverride, geometry: g, displays, keypads, ...(capfAuthString ? { capfAuthString } : {}), ...(activationCode ? { activationCode } : {}), micIssuer, ...(waitScale !== undefined ? { waitScale } : {}), ...(firmwareCert ? { firmwareCert } : {}),
    persona, ...(v.edos ? { edosUrl: v.edos } : {}), calls: callOptions,
    bankProcess: {
      bank: bankBoot.bank, decided: { ...(bankBoot.fellBack ? { fellBack: bankBoot.fellBack } : {}), ...(bankBoot.reason ? { reason: bankBoot.reason } : {}) },
      handOver: (reason) => {
        handingOver = reason;
        stop(0, 'another bank runs the phone now');
      },
    },
    iface: netMode === 'kernel' ? new KernelInterface(iface) : new UnmanagedInterface(iface),
  });
  if (json) handset.subscribe((e) => process.stdout.write(eventLine(e)));
  if (json && v['json-screens']) handset.onScreen((f) => process.stdout.write(screenLine(f)));
  if (wall) {
    const w = wall;
    handset.subscribe((e) => e.type === 'event' && w.note(`${(e.t / 1000).toFixed(1).padStart(6)}s ${e.step.padEnd(8)} ${e.message}`));
  }

  // The phone's own web page: on a board always (port 80 unless said), elsewhere with --web-port.
  let web: { close(): Promise<void> } | undefined;
  if (webPort !== undefined || board) {
    const [{ startPhoneWeb }, { handsetWebPort }] = await Promise.all([import('../phone/web/server.ts'), import('../phone/handset-web.ts')]);
    const port = webPort ?? 80;
    web = await startPhoneWeb({ port, phone: handsetWebPort(handset), nvram, clock, log: (line) => process.stderr.write(`sepi phone ${mac.deviceName}: ${printable(line)}\n`) }).catch((e: NodeJS.ErrnoException) => {
      throw new UsageError(`--web-port ${port}: ${e.code === 'EADDRINUSE' ? 'in use' : e.code === 'EACCES' ? 'needs privileges (ports under 1024)' : e.message}`);
    });
  }

  const run = runUntil(handset, { goal: until, timeoutMs: timeoutSecs === undefined ? undefined : timeoutSecs * 1000, clock });
  stop = run.stop;
  if (callTo !== undefined) {
    // Dials once, the first time the phone registers on its own configuration (as --until
    // registered): an autoregistered phone's first registration is reset at once.
    const unsubscribe = handset.subscribe((e) => {
      if (!reaches('registered', e)) return;
      unsubscribe();
      clock.timer(0, () => {
        if (!handset.firmware.calls.dial(callTo)) run.stop(1, `--call ${callTo}: the phone could not dial (${handset.firmware.calls.state})`);
      });
    });
  }
  process.once('SIGINT', () => run.stop(130, 'interrupted'));
  process.once('SIGTERM', () => run.stop(143, 'terminated'));
  handset.powerOn();
  const outcome = await run.outcome;
  await handset.powerOff();
  await web?.close();
  wall?.close();
  await network.close();
  // A load installed (or a trial fallen back): the bank now active runs the phone, in this process's place.
  if (handingOver) {
    const next = await relaunch(bankBoot.factory, handingOver);
    if (typeof next === 'number') return next;
    note(`bank ${next.bank} (${next.load}) is this firmware: starting it again`);
    return execFirmware(thisLaunch(), again, next);
  }
  if (outcome.kind === 'reached') return 0;
  const why = outcome.kind === 'timeout' ? `--until ${until ?? '(none)'} not reached in ${timeoutSecs} s; last: ${outcome.last}` : outcome.why;
  process.stderr.write(`sepi phone ${mac.deviceName}: ${printable(why)}\n`);
  return outcome.kind === 'timeout' ? 1 : outcome.code;
}
