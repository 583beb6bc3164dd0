/**
 * What the phone's web page (its "web-based utility") needs from the phone: the same status the
 * LCD is drawn from, the same event bus, the LCD's current text, and the few actions an admin
 * may take. The firmware side implements it (src/cli wires it); the web server only sees this,
 * so it can be tested against a scripted phone and run beside any persona.
 */
import type { PhoneEvent, PhoneStatus } from '../events.ts';
import type { Persona } from '../flows/flow.ts';

export interface PhoneIdentity {
  /** `CP-8841-3PCC` on a Multiplatform phone, `CP-8841` on an enterprise one. */
  productName: string;
  mac: string;
  serial: string;
  softwareVersion: string;
}

export type ConfigureResult = { ok: true } | { ok: false; error: string };

export interface PhoneWebPort {
  readonly persona: Persona;
  identity(): PhoneIdentity;
  /** The reducer's summary (status.ts): customization, address, registration, last boot. */
  status(): PhoneStatus;
  /** The LCD as drawn right now: rows of characters and softkey labels. */
  screen(): { rows: string[]; softkeys: string[] };
  /** Every event from now on; the returned function unsubscribes. */
  subscribe(fn: (e: PhoneEvent) => void): () => void;
  /**
   * Provisioning parameters as the phone holds them, by flat-profile name (`Profile_Rule`,
   * `Proxy_1_`, `Resync_Periodic` …). Secrets (`Password_1_`, keys in rules) come back masked.
   * Empty on an enterprise phone.
   */
  parameters(): Record<string, string>;
  /**
   * Sets parameters by hand (Advanced page). On a Multiplatform phone, `Profile_Rule` or a line's
   * proxy set while customization is Open, Pending or Custom-Pending makes it Aborted (the
   * phone's rule, not the page's). Unknown names or bad values come back as an error, nothing set.
   */
  configure(params: Record<string, string>, source: 'web'): Promise<ConfigureResult>;
  /** Resync now (`/admin/resync`): the phone reads its profile again. */
  resync(): void;
  factoryReset(): Promise<void>;
  /** The lab's wait scale (every retry wait lasts FACTOR times its nominal length). */
  waitScale(): number;
  setWaitScale(factor: number): void;
}
