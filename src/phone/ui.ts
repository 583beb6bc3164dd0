/**
 * What the user does with the keys: the Settings menu over the boot status screen, and the
 * questions a boot flow asks (the UI is the phone's UserPrompt). One key type whatever the
 * source (the terminal, a keypad through evdev or serial, `--keys stdin`, a test).
 *
 *   home ──Settings──► menu ──1──► Trust list ──Erase (after **#)──► erased, restart
 *                           ├─2──► Status messages
 *                           ├─3──► Restart
 *                           ├─4──► Factory reset ──Reset (after **#)──► NVRAM wiped, reboot
 *                           ├─5──► Status: Product information, Network, Trust list,
 *                           │      Registration, Last boot (up/down between them)
 *                           ├─6──► Network setup: DHCP, Alternate TFTP, TFTP Server 1/2, static
 *                           │      address and router; Save after **# stores them and resets
 *                           └─7──► Line 1 proxy (Multiplatform only: the menu is "Applications";
 *                                  digits, * for a dot, Set after **#: customization Aborted
 *                                  if it was still in progress)
 *
 * As on the real phone, `**#` typed anywhere in the menu unlocks the admin actions (again locks
 * them); leaving the menu locks them.
 *
 *   any screen ──flow asks──► question ──answer (Submit / Yes / No)──► home
 *                                 └──── the cycle ends (reboot) ──────► home, question withdrawn
 *
 * Calls (call/phone-calls.ts) on a registered phone: a digit on the home screen opens the
 * dialing screen (Dial calls), NewCall (softkey 3) goes off hook (the number is dialed after the
 * inter-digit timeout, or Dial); a call's screen takes over from any view but a question, and
 * every key goes to the call while there is one (EndCall is softkey 2 on every call screen).
 * Softkey 1 stays Settings on the home screen: a 4x4 keypad has no Settings key. The speed-dial
 * keys the configuration gives (a universal device template's: the IVR's, a help desk) are rows
 * of the home screen: up and down highlight one (`>`), Select calls it — the keypad's stand-in
 * for a line button, so a user reaches the self-provisioning IVR with one key.
 *
 * An activation code is typed as 16 digits shown 4-4-4-4: digits fill it, Back takes the last
 * one off, Clear empties it, Submit sends it once all 16 are in. The UI keeps only which screen
 * is open and what is being typed; everything else shown comes from the firmware.
 */
import { serialForMac } from '../factory/factory-files.ts';
import type { PhoneStatus } from './events.ts';
import { NetworkSetupScreen } from './network-setup.ts';
import { DEFAULT_SETTINGS, type PhoneSettings } from './settings.ts';
import type { Key } from './keys.ts';
import type { PromptAnswer, PromptRequest, UserPrompt } from './ports.ts';
import { type ScreenFrame, type ScreenGeometry, fit, renderScreen, wrap } from './screen.ts';

export { KEYS, type Key, isKey } from './keys.ts';

const CODE_DIGITS = 16;
/** CAPF authentication strings are 4 to 10 digits (what CUCM generates and accepts). */
const AUTH_STRING_MIN = 4;
const AUTH_STRING_MAX = 10;

/** What the UI needs from the firmware. */
export interface PhoneControls {
  readonly status: PhoneStatus;
  /** `mpp`: the menu is Applications and Product information shows Customization. */
  readonly persona?: string;
  trustSummary(): string[];
  eraseTrustList(): Promise<void>;
  factoryReset(): Promise<void>;
  restart(): void;
  /** Settings > Network setup: what NVRAM holds, and storing new settings (the phone resets). */
  settings?(): Promise<PhoneSettings>;
  applySettings?(s: PhoneSettings): Promise<string | undefined>;
  /** Multiplatform: parameters set by hand (here the line's proxy typed on the keypad). */
  configure?(values: Record<string, string>, source: 'keypad'): Promise<{ ok: true } | { ok: false; error: string }>;
  /** Calls on the registered line: they take the keys and the screen while there is one. */
  readonly calls?: CallControls;
}

/** What the UI needs from the phone's calls (call/phone-calls.ts). */
export interface CallControls {
  /** A registered line to call on (the home screen offers NewCall). */
  readonly available: boolean;
  /** A key for the call; `home` when the home screen is open. True when the call took it. */
  press(key: Key, home: boolean): boolean;
  /** Calls `number` (a speed dial); false when it cannot, with the reason on the call's screen. */
  dial(number: string): boolean;
  /** The call's screen, undefined when there is no call. */
  frame(g: ScreenGeometry, status: PhoneStatus): ScreenFrame | undefined;
}

type View = { kind: 'home' } | { kind: 'menu'; index: number } | { kind: 'trust' } | { kind: 'log'; offset: number } | { kind: 'factory' } | { kind: 'status'; page: number } | { kind: 'proxy'; text: string } | { kind: 'network' };

/** The question on show, and how to answer it. */
type Question =
  | { kind: 'activation-code'; problem: string | undefined; digits: string; answer: (digits: string) => void }
  /** CAPF's authentication string: 4–10 digits, Submit or Cancel (an empty answer). */
  | { kind: 'authentication-string'; problem: string | undefined; digits: string; answer: (digits: string) => void }
  | { kind: 'confirm'; title: string; text: string; answer: (yes: boolean) => void };

const MENU = ['Trust list', 'Status messages', 'Restart', 'Factory reset', 'Status', 'Network setup'] as const;
/** A Multiplatform phone's Applications menu adds the line's proxy, typed as digits with * for the dots. */
const MPP_MENU = [...MENU, 'Line 1 proxy'] as const;
/** Short titles: a 160x128 LCD has 20 columns. */
const STATUS_PAGES = ['Product info', 'Network', 'Trust list', 'Registration', 'Last boot'] as const;

export class PhoneUi implements UserPrompt {
  private readonly phone: PhoneControls;
  private question: Question | undefined;
  private readonly changed: () => void;
  private view: View = { kind: 'home' };
  /** The speed dial highlighted on the home screen (index into status.speedDials), if any. */
  private speedDial: number | undefined;
  private typed = '';
  private unlocked = false;
  private note: string | undefined;
  /** From the last frame drawn: how far the status messages can scroll. */
  private logLines = 0;
  private visible = 0;

  private readonly network: NetworkSetupScreen;

  constructor(phone: PhoneControls, changed: () => void) {
    this.phone = phone;
    this.changed = changed;
    const none = async () => 'this phone cannot store settings';
    this.network = new NetworkSetupScreen(
      { settings: () => phone.settings?.() ?? Promise.resolve({ ...DEFAULT_SETTINGS }), applySettings: (x) => phone.applySettings?.(x) ?? none() },
      changed,
    );
  }

  /** Shows a question over whatever is open and waits for the answer, or for the cycle to end. */
  ask<R extends PromptRequest>(request: R, signal: AbortSignal): Promise<PromptAnswer<R>> {
    return new Promise<PromptAnswer<R>>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const withdraw = () => {
        if (this.question === q) this.close();
        reject(signal.reason);
      };
      const settle = (answer: unknown) => {
        signal.removeEventListener('abort', withdraw);
        this.close();
        resolve(answer as PromptAnswer<R>);
      };
      const q: Question = request.kind === 'confirm'
        ? { kind: 'confirm', title: request.title, text: request.text, answer: (yes) => settle({ yes }) }
        : { kind: request.kind, problem: request.problem, digits: '', answer: (digits) => settle({ digits }) };
      signal.addEventListener('abort', withdraw, { once: true });
      this.question = q;
      this.changed();
    });
  }

  private close(): void {
    this.question = undefined;
    this.open({ kind: 'home' });
    this.changed();
  }

  /** A key while a question is on show goes to the question. */
  private answerKey(q: Question, key: Key): void {
    if (q.kind === 'confirm') {
      if (key === 'soft1' || key === 'select') return q.answer(true);
      if (key === 'soft2' || key === 'back') return q.answer(false);
      return;
    }
    if (q.kind === 'authentication-string') return this.answerAuthString(q, key);
    if (/^[0-9]$/.test(key)) {
      if (q.digits.length < CODE_DIGITS) q.digits += key;
    } else if (key === 'back') q.digits = q.digits.slice(0, -1);
    else if (key === 'soft2') q.digits = '';
    else if (key === 'soft1' || key === 'select') {
      if (q.digits.length === CODE_DIGITS) return q.answer(q.digits);
      this.note = `${CODE_DIGITS - q.digits.length} digits to go`;
    }
    this.changed();
  }

  private answerAuthString(q: Extract<Question, { kind: 'authentication-string' }>, key: Key): void {
    if (/^[0-9]$/.test(key)) {
      if (q.digits.length < AUTH_STRING_MAX) q.digits += key;
    } else if (key === 'back') q.digits = q.digits.slice(0, -1);
    else if (key === 'soft2') return q.answer('');
    else if (key === 'soft1' || key === 'select') {
      if (q.digits.length >= AUTH_STRING_MIN) return q.answer(q.digits);
      this.note = `At least ${AUTH_STRING_MIN} digits`;
    }
    this.changed();
  }

  press(key: Key): void {
    this.note = undefined;
    if (this.question) return this.answerKey(this.question, key);
    if (this.phone.calls?.press(key, this.view.kind === 'home' && this.phone.status.registered)) {
      // A call took the key (and its screen covers the view): the menu is left as a call would,
      // and a speed dial highlighted before it is not called by a Select after it.
      this.speedDial = undefined;
      if (this.view.kind !== 'home') this.open({ kind: 'home' });
      return this.changed();
    }
    if (this.view.kind !== 'home') {
      this.typed = (this.typed + (key === '*' || key === '#' ? key : '.')).slice(-3);
      if (this.typed === '**#') {
        this.unlocked = !this.unlocked;
        this.note = this.unlocked ? 'Unlocked' : 'Locked';
        return this.changed();
      }
    }
    const v = this.view;
    switch (v.kind) {
      case 'home': {
        const dials = this.phone.status.registered && this.phone.calls?.available ? (this.phone.status.speedDials ?? []) : [];
        const n = dials.length;
        const at = this.speedDial !== undefined && this.speedDial < n ? this.speedDial : undefined;
        if (key === 'settings' || key === 'soft1') this.open({ kind: 'menu', index: 0 });
        else if (key === 'soft2' && this.phone.status.registered) this.phone.restart();
        else if (n && key === 'down') this.speedDial = at === undefined ? 0 : (at + 1) % n;
        else if (n && key === 'up') this.speedDial = at === undefined ? n - 1 : (at + n - 1) % n;
        else if (at !== undefined && key === 'select') {
          this.speedDial = undefined;
          // Refused before any call screen (not a number the phone can dial): say so here.
          if (!this.phone.calls!.dial(dials[at]!.number)) this.note = `Cannot call ${dials[at]!.number}`;
        } else if (key === 'back') this.speedDial = undefined;
        break;
      }
      case 'menu': {
        const n = this.menu().length;
        if (key === 'up') this.open({ kind: 'menu', index: (v.index + n - 1) % n });
        else if (key === 'down') this.open({ kind: 'menu', index: (v.index + 1) % n });
        else if (key === 'select' || key === 'soft1') this.choose(v.index);
        else if (/^[1-9]$/.test(key) && Number(key) <= n) this.choose(Number(key) - 1);
        else if (key === 'back' || key === 'soft2' || key === 'settings') this.open({ kind: 'home' });
        break;
      }
      case 'proxy':
        this.proxyKey(v, key);
        break;
      case 'network':
        if (this.network.press(key, this.unlocked) === 'leave') this.open({ kind: 'menu', index: 5 });
        break;
      case 'trust':
        this.adminAction(key, () => this.phone.eraseTrustList(), 0);
        break;
      case 'log':
        if (key === 'up') this.open({ kind: 'log', offset: Math.min(v.offset + 1, this.logLines - this.visible) });
        else if (key === 'down') this.open({ kind: 'log', offset: Math.max(0, v.offset - 1) });
        else if (key === 'back' || key === 'soft2' || key === 'select') this.open({ kind: 'menu', index: 1 });
        break;
      case 'factory':
        this.adminAction(key, () => this.phone.factoryReset(), 3);
        break;
      case 'status':
        if (key === 'up') this.open({ kind: 'status', page: (v.page + STATUS_PAGES.length - 1) % STATUS_PAGES.length });
        else if (key === 'down' || key === 'soft1') this.open({ kind: 'status', page: (v.page + 1) % STATUS_PAGES.length });
        else if (key === 'back' || key === 'soft2') this.open({ kind: 'menu', index: 4 });
        break;
    }
    this.changed();
  }

  /** An admin screen's keys: its action (softkey 1) only when unlocked; back to its menu line. */
  private adminAction(key: Key, action: () => Promise<void>, menuIndex: number): void {
    if (key === 'soft1' || key === 'select') {
      if (!this.unlocked) {
        this.note = 'Locked: **# unlocks';
        return;
      }
      this.open({ kind: 'home' });
      void action();
    } else if (key === 'back' || key === 'soft2') this.open({ kind: 'menu', index: menuIndex });
  }

  /** The line's proxy typed as an address: digits, `*` for a dot, Back to erase, Submit (unlocked) to set. */
  private proxyKey(v: Extract<View, { kind: 'proxy' }>, key: Key): void {
    if (/^[0-9]$/.test(key) && v.text.length < 15) this.open({ kind: 'proxy', text: v.text + key });
    else if (key === '*' && v.text.length < 15 && !v.text.endsWith('.')) this.open({ kind: 'proxy', text: `${v.text}.` });
    else if (key === 'back') this.open({ kind: 'proxy', text: v.text.slice(0, -1) });
    else if (key === 'soft2') this.open({ kind: 'menu', index: 6 });
    else if (key === 'soft1' || key === 'select') {
      if (!this.unlocked) {
        this.note = 'Locked: **# unlocks';
        return;
      }
      if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(v.text) || v.text.split('.').some((o) => Number(o) > 255)) {
        this.note = 'Not an address';
        return;
      }
      const configure = this.phone.configure;
      this.open({ kind: 'home' });
      void configure?.call(this.phone, { Proxy_1_: v.text }, 'keypad').then((r) => {
        this.note = r.ok ? `Proxy set: ${v.text}` : r.error;
        this.changed();
      });
    }
  }

  private menu(): readonly string[] {
    return this.phone.persona === 'mpp' && this.phone.configure ? MPP_MENU : MENU;
  }

  private open(v: View): void {
    // Leaving the menu locks the admin actions again.
    if (v.kind === 'home') this.unlocked = false;
    else this.speedDial = undefined;
    this.view = v;
  }

  private choose(i: number): void {
    if (i === 0) this.open({ kind: 'trust' });
    else if (i === 1) this.open({ kind: 'log', offset: 0 });
    else if (i === 2) {
      this.open({ kind: 'home' });
      this.phone.restart();
    } else if (i === 3) this.open({ kind: 'factory' });
    else if (i === 4) this.open({ kind: 'status', page: 0 });
    else if (i === 5) {
      this.network.note = undefined;
      this.network.open();
      this.open({ kind: 'network' });
    } else this.open({ kind: 'proxy', text: '' });
  }

  /** The lines of one Status page, from the firmware's status. */
  private statusLines(page: number): string[] {
    const s = this.phone.status;
    switch (STATUS_PAGES[page]) {
      case 'Product info':
        if (this.phone.persona === 'mpp') {
          // Applications > Status > Product information, as the Multiplatform guides list it.
          const mac = s.deviceName.slice(3);
          // Customization first: it is what support asks for, and a 20x8 LCD cuts the last lines.
          return [`CP-${s.model}-3PCC`, `Customization: ${s.customization ?? '-'}`, `Serial ${serialForMac(mac)}`, `MAC ${mac}`, `SW ${s.load || '-'}`];
        }
        // Model and device on one line, and no space after the labels (wrapping breaks at spaces):
        // a 20x8 LCD then shows both loads whole.
        return [`${s.model} ${s.deviceName}`, `Load:${s.load || '-'}`, `Inactive:${s.inactiveLoad || '-'}`];
      case 'Network':
        return [`IP ${s.address ?? 'none'}`, `TFTP ${s.tftpServer ?? 'none'}`, `File ${s.configFile ?? 'none'}`];
      case 'Trust list':
        return this.phone.trustSummary();
      case 'Registration':
        return [s.registered ? `Registered ${s.line ?? '-'}` : 'Not registered', `CM ${s.callManager ?? '-'}`, ...(s.problem ? [s.problem] : [])];
      default:
        // The latest steps that fit, each with its time since power-on; a failure marked "!".
        return s.boot.length ? s.boot.slice(-5).map((b) => `${(b.t / 1000).toFixed(1)}s ${b.state === 'fail' ? '!' : ''}${b.step}`) : ['No steps yet'];
    }
  }

  /** The current screen. */
  frame(g: ScreenGeometry): ScreenFrame {
    const q = this.question;
    if (q?.kind === 'activation-code') {
      const field = q.digits.padEnd(CODE_DIGITS, '_').replace(/(.{4})(?!$)/g, '$1-');
      return page('Activation code', ['Enter activation code', ...(q.problem ? [q.problem] : []), field], ['Submit', 'Clear'], g, this.note);
    }
    if (q?.kind === 'confirm') return page(q.title, [q.text], ['Yes', 'No'], g, this.note);
    if (q?.kind === 'authentication-string') {
      return page('LSC update', ['Enter authentication string', ...(q.problem ? [q.problem] : []), q.digits.padEnd(AUTH_STRING_MIN, '_')], ['Submit', 'Cancel'], g, this.note);
    }
    const call = this.phone.calls?.frame(g, this.phone.status);
    if (call) return call;
    const v = this.view;
    switch (v.kind) {
      case 'home':
        // The highlight only while there are speed dials to press (not after registration is lost).
        return renderScreen(this.phone.status, g, { newCall: this.phone.calls?.available ?? false, speedDial: this.phone.status.registered && this.phone.calls?.available ? this.speedDial : undefined, note: this.note });
      case 'menu':
        return page(this.phone.persona === 'mpp' ? 'Applications' : 'Settings', this.menu().map((m, i) => `${i === v.index ? '>' : ' '}${i + 1} ${m}`), ['Select', 'Exit'], g, this.note);
      case 'trust':
        return page('Trust list', [...this.phone.trustSummary(), this.unlocked ? 'Unlocked' : 'Locked (**#)'], [this.unlocked ? 'Erase' : '', 'Back'], g, this.note);
      case 'log': {
        // Scrolled by screen lines from the newest: up goes back in time, no further than the oldest.
        const lines = this.phone.status.log.flatMap((l) => wrap(l, g.cols));
        this.logLines = lines.length;
        this.visible = g.rows - 3;
        const end = Math.max(g.rows - 3, lines.length - v.offset);
        return page('Status messages', lines.slice(0, end).slice(-(g.rows - 3)), ['', 'Back'], g, this.note);
      }
      case 'status':
        return page(`${STATUS_PAGES[v.page]} ${v.page + 1}/${STATUS_PAGES.length}`, this.statusLines(v.page), ['Next', 'Back'], g, this.note);
      case 'factory':
        return page('Factory reset', ['Erase all settings, the lease and trust lists, then reboot?', this.unlocked ? '' : 'Locked (**#)'], [this.unlocked ? 'Reset' : '', 'Cancel'], g, this.note);
      case 'network':
        return this.note ? { ...this.network.frame(g), rows: [fit(this.note, g.cols), ...this.network.frame(g).rows.slice(1)] } : this.network.frame(g);
      case 'proxy':
        return page('Line 1 proxy', ['Address (* for .)', `${v.text}_`, this.unlocked ? '' : 'Locked (**#)'], [this.unlocked ? 'Set' : '', 'Cancel'], g, this.note);
    }
  }
}

function page(title: string, lines: string[], softkeys: string[], g: ScreenGeometry, note: string | undefined): ScreenFrame {
  const row = (s: string) => fit(s, g.cols);
  const body = lines.flatMap((l) => (l ? wrap(l, g.cols) : []));
  if (note) body.unshift(note);
  const rows = [row(title), '-'.repeat(g.cols), ...body.slice(0, g.rows - 3).map(row)];
  while (rows.length < g.rows - 1) rows.push(' '.repeat(g.cols));
  const cell = Math.floor(g.cols / softkeys.length);
  rows.push(row(softkeys.map((k) => k.slice(0, cell - 1).padEnd(cell)).join('')));
  return { rows, softkeys };
}
