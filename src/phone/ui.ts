/**
 * What the user does with the keys: the Settings menu over the boot status screen. One key type
 * whatever the source (the terminal, a keypad through evdev or serial, `--keys stdin`, a test).
 *
 *   home ──Settings──► menu ──1──► Trust list ──Erase (after **#)──► erased, restart
 *                           ├─2──► Status messages
 *                           ├─3──► Restart
 *                           └─4──► Factory reset ──Reset (after **#)──► NVRAM wiped, reboot
 *
 * As on the real phone, `**#` typed anywhere in the menu unlocks the admin actions (again locks
 * them); leaving the menu locks them. The UI keeps
 * only which screen is open; everything shown comes from the firmware's status and trust store.
 */
import type { PhoneStatus } from './events.ts';
import { type ScreenFrame, type ScreenGeometry, renderScreen, wrap } from './screen.ts';

export const KEYS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'settings', 'back', 'up', 'down', 'select', 'soft1', 'soft2', 'soft3', 'soft4'] as const;
export type Key = (typeof KEYS)[number];
export const isKey = (s: string): s is Key => (KEYS as readonly string[]).includes(s);

/** What the UI needs from the firmware. */
export interface PhoneControls {
  readonly status: PhoneStatus;
  trustSummary(): string[];
  eraseTrustList(): Promise<void>;
  factoryReset(): Promise<void>;
  restart(): void;
}

type View = { kind: 'home' } | { kind: 'menu'; index: number } | { kind: 'trust' } | { kind: 'log'; offset: number } | { kind: 'factory' };

const MENU = ['Trust list', 'Status messages', 'Restart', 'Factory reset'] as const;

export class PhoneUi {
  private readonly phone: PhoneControls;
  private readonly changed: () => void;
  private view: View = { kind: 'home' };
  private typed = '';
  private unlocked = false;
  private note: string | undefined;
  /** From the last frame drawn: how far the status messages can scroll. */
  private logLines = 0;
  private visible = 0;

  constructor(phone: PhoneControls, changed: () => void) {
    this.phone = phone;
    this.changed = changed;
  }

  press(key: Key): void {
    this.note = undefined;
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
      case 'home':
        if (key === 'settings' || key === 'soft1') this.open({ kind: 'menu', index: 0 });
        else if (key === 'soft2' && this.phone.status.registered) this.phone.restart();
        break;
      case 'menu':
        if (key === 'up') this.open({ kind: 'menu', index: (v.index + MENU.length - 1) % MENU.length });
        else if (key === 'down') this.open({ kind: 'menu', index: (v.index + 1) % MENU.length });
        else if (key === 'select' || key === 'soft1') this.choose(v.index);
        else if (/^[1-4]$/.test(key)) this.choose(Number(key) - 1);
        else if (key === 'back' || key === 'soft2' || key === 'settings') this.open({ kind: 'home' });
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

  private open(v: View): void {
    // Leaving the menu locks the admin actions again.
    if (v.kind === 'home') this.unlocked = false;
    this.view = v;
  }

  private choose(i: number): void {
    if (i === 0) this.open({ kind: 'trust' });
    else if (i === 1) this.open({ kind: 'log', offset: 0 });
    else if (i === 2) {
      this.open({ kind: 'home' });
      this.phone.restart();
    } else this.open({ kind: 'factory' });
  }

  /** The current screen. */
  frame(g: ScreenGeometry): ScreenFrame {
    const v = this.view;
    switch (v.kind) {
      case 'home':
        return renderScreen(this.phone.status, g);
      case 'menu':
        return page('Settings', MENU.map((m, i) => `${i === v.index ? '>' : ' '}${i + 1} ${m}`), ['Select', 'Exit'], g, this.note);
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
      case 'factory':
        return page('Factory reset', ['Erase all settings, the lease and trust lists, then reboot?', this.unlocked ? '' : 'Locked (**#)'], [this.unlocked ? 'Reset' : '', 'Cancel'], g, this.note);
    }
  }
}

function page(title: string, lines: string[], softkeys: string[], g: ScreenGeometry, note: string | undefined): ScreenFrame {
  const fit = (s: string) => (s.length > g.cols ? s.slice(0, g.cols) : s.padEnd(g.cols));
  const body = lines.flatMap((l) => (l ? wrap(l, g.cols) : []));
  if (note) body.unshift(note);
  const rows = [fit(title), '-'.repeat(g.cols), ...body.slice(0, g.rows - 3).map(fit)];
  while (rows.length < g.rows - 1) rows.push(' '.repeat(g.cols));
  const cell = Math.floor(g.cols / softkeys.length);
  rows.push(fit(softkeys.map((k) => k.slice(0, cell - 1).padEnd(cell)).join('')));
  return { rows, softkeys };
}
