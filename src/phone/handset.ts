/**
 * A handset: one phone put together — firmware, the UI (menus, and the answers to the flow's
 * questions), its displays, its keypads and whoever listens to its events. `sepi phone`,
 * `sepi fleet` and the tests build handsets; nothing else assembles these parts.
 *
 *   keypads ──keys──► PhoneUi ◄──asks── flow (inside Firmware) ──events──► bus ──► subscribers
 *                        │                                                  │   (JSON, log, stats)
 *                        └──────────── frames ◄── status ◄──────────────────┘
 *                                        │
 *                                  displays, screen listeners
 */
import { Bus } from '../common/bus.ts';
import type { PhoneEvent, PhoneStatus } from './events.ts';
import { Firmware, type FirmwareOptions } from './firmware.ts';
import type { Display, Keypad, UserPrompt } from './ports.ts';
import { PresetPrompt } from './prompts.ts';
import type { ScreenFrame, ScreenGeometry } from './screen.ts';
import { LCD_160x128 } from './screen.ts';
import { PhoneUi } from './ui.ts';

export interface HandsetOptions extends Omit<FirmwareOptions, 'prompt'> {
  geometry?: ScreenGeometry;
  displays?: Display[];
  keypads?: Keypad[];
  /** Answers CAPF's authentication-string question for phones nobody types on (`--capf-auth-string`). */
  capfAuthString?: string;
  /** Types this activation code when the phone first asks for one (`--activation-code`). */
  activationCode?: string;
}

export class Handset {
  readonly firmware: Firmware;
  readonly ui: PhoneUi;
  readonly geometry: ScreenGeometry;
  private readonly displays: Display[];
  private readonly keypads: Keypad[];
  private readonly unsubscribe: Array<() => void> = [];
  private readonly screens = new Bus<ScreenFrame>();
  /** The firmware's events, passed on before the screen they change is drawn. */
  private readonly events = new Bus<PhoneEvent>();
  private lastText = '';

  constructor(o: HandsetOptions) {
    this.geometry = o.geometry ?? LCD_160x128;
    this.displays = o.displays ?? [];
    this.keypads = o.keypads ?? [];
    // The UI answers the flow's questions, and needs the firmware's controls: built in that order.
    let ui: PhoneUi | undefined;
    const uiPrompt: UserPrompt = { ask: (request, signal) => ui!.ask(request, signal) };
    const presets = { ...(o.capfAuthString ? { authString: o.capfAuthString } : {}), ...(o.activationCode ? { activationCode: o.activationCode } : {}) };
    this.firmware = new Firmware({ ...o, prompt: Object.keys(presets).length ? new PresetPrompt(uiPrompt, presets) : uiPrompt });
    ui = new PhoneUi(this.firmware, () => this.draw());
    this.ui = ui;
    // Listeners hear an event before the frame it changes: a JSON stream reads event, then screen.
    this.unsubscribe.push(
      this.firmware.subscribe((e) => {
        this.events.publish(e);
        this.draw();
      }),
    );
    // A call's screen changes without an event too (its timer, the ended screen going).
    this.unsubscribe.push(this.firmware.calls.onChange(() => this.draw()));
    for (const k of this.keypads) this.unsubscribe.push(k.onKey((e) => this.ui.press(e.key)));
  }

  get status(): PhoneStatus {
    return this.firmware.status;
  }

  get deviceName(): string {
    return this.firmware.status.deviceName;
  }

  /** Every event the firmware publishes; the returned function unsubscribes. */
  subscribe(fn: (e: PhoneEvent) => void): () => void {
    return this.events.subscribe(fn);
  }

  /** Every new frame (a repeat of the last one is not sent again). */
  onScreen(fn: (f: ScreenFrame) => void): () => void {
    return this.screens.subscribe(fn);
  }

  /** The screen as it is now. */
  frame(): ScreenFrame {
    return this.ui.frame(this.geometry);
  }

  powerOn(): void {
    this.firmware.powerOn();
    this.draw();
  }

  /** Powers off, stops listening to keypads and closes the displays. */
  async powerOff(): Promise<void> {
    await this.firmware.powerOff();
    for (const u of this.unsubscribe.splice(0)) u();
    for (const k of this.keypads) k.close();
    for (const d of this.displays) d.close();
  }

  private draw(): void {
    // A fleet's phones have nobody looking: drawing would only cost CPU.
    if (this.displays.length === 0 && this.screens.size === 0) return;
    const f = this.frame();
    const text = f.rows.join('\n') + '\n' + f.softkeys.join('|');
    if (text === this.lastText) return;
    this.lastText = text;
    for (const d of this.displays) d.show(f);
    this.screens.publish(f);
  }
}
