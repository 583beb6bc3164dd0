/**
 * Settings > Network setup, as a support person expects to find it on the phone: DHCP on or off,
 * Alternate TFTP on or off, TFTP Server 1 and 2, and the static address and router used when
 * DHCP is off. Addresses are typed as digits with `*` for the dots, as on Cisco phones. Changes
 * are a draft until Save (after the `**#` unlock); Save checks them (settings.ts) and the phone
 * writes them to NVRAM and resets from DHCP, so the new settings are what the next boot uses.
 *
 *   list ──up/down──► item ──Edit (toggle, or type an address: Select keeps it, Cancel drops it)
 *     ├──Save (unlocked)──► checked ──► NVRAM, reset        └──Back──► the Settings menu
 */
import type { Key } from './keys.ts';
import { type ScreenFrame, type ScreenGeometry, fit, wrap } from './screen.ts';
import type { PhoneSettings } from './settings.ts';

export interface NetworkSetupControls {
  /** The settings NVRAM holds (not this run's command-line overrides). */
  settings(): Promise<PhoneSettings>;
  /** Checks, stores and resets; the reason it refused, or undefined. */
  applySettings(s: PhoneSettings): Promise<string | undefined>;
}

type Item = { label: string; kind: 'toggle'; key: 'dhcpEnabled' | 'alternateTftp' } | { label: string; kind: 'address'; key: 'tftpServer1' | 'tftpServer2' | 'staticAddress' | 'staticRouter' };

const ITEMS: readonly Item[] = [
  // Short labels: an item and its address fit one line of a 20-column LCD.
  { label: 'DHCP', kind: 'toggle', key: 'dhcpEnabled' },
  { label: 'Alt TFTP', kind: 'toggle', key: 'alternateTftp' },
  { label: 'TFTP1', kind: 'address', key: 'tftpServer1' },
  { label: 'TFTP2', kind: 'address', key: 'tftpServer2' },
  { label: 'IP', kind: 'address', key: 'staticAddress' },
  { label: 'Router', kind: 'address', key: 'staticRouter' },
];

const MAX_ADDRESS = 15;

export class NetworkSetupScreen {
  private draft: PhoneSettings | undefined;
  private cursor = 0;
  private editing: string | undefined;
  note: string | undefined;
  private readonly controls: NetworkSetupControls;
  private readonly changed: () => void;

  constructor(controls: NetworkSetupControls, changed: () => void) {
    this.controls = controls;
    this.changed = changed;
  }

  /** Opens on what NVRAM holds now. */
  open(): void {
    this.draft = undefined;
    this.cursor = 0;
    this.editing = undefined;
    void this.controls.settings().then((s) => {
      this.draft = { ...s };
      this.changed();
    });
  }

  /** A key; 'leave' when the screen closes (Back, or a Save that resets the phone). */
  press(key: Key, unlocked: boolean): 'stay' | 'leave' {
    const d = this.draft;
    if (!d) return key === 'back' || key === 'soft2' ? 'leave' : 'stay';
    if (this.editing !== undefined) {
      this.editKey(d, key);
      return 'stay';
    }
    const item = ITEMS[this.cursor]!;
    if (key === 'up') this.cursor = (this.cursor + ITEMS.length - 1) % ITEMS.length;
    else if (key === 'down') this.cursor = (this.cursor + 1) % ITEMS.length;
    else if (/^[1-6]$/.test(key)) this.cursor = Number(key) - 1;
    else if (key === 'select' || key === 'soft1') {
      if (item.kind === 'toggle') d[item.key] = !d[item.key];
      else this.editing = d[item.key];
    } else if (key === 'back' || key === 'soft2') return 'leave';
    else if (key === 'soft3') {
      if (!unlocked) {
        this.note = 'Locked: **# unlocks';
        return 'stay';
      }
      void this.controls.applySettings({ ...d }).then((refused) => {
        this.note = refused;
        this.changed();
      });
      return 'stay';
    }
    return 'stay';
  }

  private editKey(d: PhoneSettings, key: Key): void {
    const item = ITEMS[this.cursor]!;
    const text = this.editing!;
    if (/^[0-9]$/.test(key) && text.length < MAX_ADDRESS) this.editing = text + key;
    else if (key === '*' && text.length < MAX_ADDRESS && text !== '' && !text.endsWith('.')) this.editing = `${text}.`;
    else if (key === 'back') this.editing = text.slice(0, -1);
    else if (key === 'soft2') this.editing = undefined;
    else if ((key === 'select' || key === 'soft1') && item.kind === 'address') {
      if (text !== '' && !isAddress(text)) {
        this.note = 'Not an address';
        return;
      }
      d[item.key] = text;
      this.editing = undefined;
    }
  }

  frame(g: ScreenGeometry): ScreenFrame {
    const d = this.draft;
    const body: string[] = [];
    if (this.note) body.push(this.note);
    if (!d) body.push('Reading settings…');
    else if (this.editing !== undefined) body.push(ITEMS[this.cursor]!.label, '(* for .)', `${this.editing}_`);
    else {
      // The cursor's line stays on screen: the list scrolls with it on a 20x8 LCD.
      const lines = ITEMS.map((it, i) => `${i === this.cursor ? '>' : ' '}${i + 1} ${it.label} ${it.kind === 'toggle' ? (d[it.key] ? 'Yes' : 'No') : d[it.key] || '-'}`);
      const room = Math.max(1, g.rows - 3 - (this.note ? wrap(this.note, g.cols).length : 0));
      const first = Math.min(Math.max(0, this.cursor - room + 1), Math.max(0, lines.length - room));
      body.push(...lines.slice(first, first + room));
    }
    const softkeys = this.editing !== undefined ? ['OK', 'Cancel'] : ['Edit', 'Back', 'Save'];
    // List lines are cut, not wrapped, so the cursor's line is where the scroll put it.
    const lines = this.editing === undefined && d ? [...(this.note ? wrap(this.note, g.cols) : []), ...body.slice(this.note ? 1 : 0)] : body.flatMap((l) => wrap(l, g.cols));
    const rows = [fit('Network setup', g.cols), '-'.repeat(g.cols), ...lines.slice(0, g.rows - 3).map((l) => fit(l, g.cols))];
    while (rows.length < g.rows - 1) rows.push(' '.repeat(g.cols));
    const cell = Math.floor(g.cols / softkeys.length);
    rows.push(fit(softkeys.map((k) => k.slice(0, cell - 1).padEnd(cell)).join(''), g.cols));
    return { rows, softkeys };
  }
}

const isAddress = (s: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(s) && s.split('.').every((o) => Number(o) <= 255);
