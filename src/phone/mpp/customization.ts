/**
 * The Multiplatform phone's customization state (Remote Customization through EDOS), exactly as
 * Cisco's guides name and define them (reference onboarding-protocol.md §3.1):
 *
 *   Open            first boot after a factory reset, not configured
 *   Pending         asked EDOS with its MAC and model (and waiting on errors)
 *   Custom-Pending  EDOS answered with the provider's profile (a redirect)
 *   Acquired        the redirect's profile downloaded
 *   Unavailable     EDOS answered 200 with an empty profile: no provider
 *   Aborted         DHCP gave provisioning that downloaded, or Profile_Rule or a line's proxy was
 *                   set by hand (keypad or web) while Open, Pending or Custom-Pending
 *
 *   Open ──dhcp profile──► Aborted          Open ──ask EDOS──► Pending
 *   Pending ──200 profile──► Custom-Pending ──redirect ok──► Acquired
 *   Pending ──200 empty──► Unavailable       Pending ──error──► Pending (the ladder)
 *   {Open, Pending, Custom-Pending} ──manual configuration, or DHCP provisioning──► Aborted
 *   any ──factory reset──► Open
 *
 * Aborted, Unavailable and Acquired are final until a factory reset; the state lives in NVRAM
 * and survives reboots. One type, one table of edges, one guarded transition (state-machine.ts).
 */
import { type Edges, StateMachine } from '../flows/state-machine.ts';
import type { Nvram } from '../nvram.ts';

export const CUSTOMIZATION_STATES = ['Open', 'Pending', 'Custom-Pending', 'Acquired', 'Unavailable', 'Aborted'] as const;
export type CustomizationState = (typeof CUSTOMIZATION_STATES)[number];

export const CUSTOMIZATION_EDGES: Edges<CustomizationState> = {
  'Open': ['Pending', 'Aborted'],
  'Pending': ['Pending', 'Custom-Pending', 'Unavailable', 'Aborted'],
  'Custom-Pending': ['Acquired', 'Custom-Pending', 'Aborted'],
  'Acquired': [],
  'Unavailable': [],
  'Aborted': [],
};

export const isFinal = (s: CustomizationState): boolean => CUSTOMIZATION_EDGES[s].length === 0;

/** `$ISCUST`: 1 once the phone is customized (a provider's profile acquired). */
export const isCustomized = (s: CustomizationState): boolean => s === 'Acquired';

/** EDOS retries, as `Resync_Error_Retry_Delay`'s default: doubling from 60 s to 86400 s, which repeats. */
export const EDOS_RETRY_SECS = [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720, 61440, 86400] as const;

/** The wait after the `n`-th error (0-based) of a ladder; a reboot starts the ladder again (our rule). */
export const edosRetrySecs = (n: number): number => EDOS_RETRY_SECS[Math.min(Math.max(0, n), EDOS_RETRY_SECS.length - 1)]!;

const DOC = 'customization';

const isState = (v: unknown): v is { state: CustomizationState } =>
  typeof v === 'object' && v !== null && (CUSTOMIZATION_STATES as readonly string[]).includes((v as { state: string }).state);

/** The state as kept in NVRAM, guarded in memory; every change written before it is announced. */
export class Customization {
  private readonly nvram: Nvram;
  private readonly machine: StateMachine<CustomizationState>;
  private readonly announce: (from: CustomizationState, to: CustomizationState, why: string) => void;

  private constructor(nvram: Nvram, initial: CustomizationState, announce: (from: CustomizationState, to: CustomizationState, why: string) => void) {
    this.nvram = nvram;
    this.announce = announce;
    this.machine = new StateMachine('customization', initial, CUSTOMIZATION_EDGES);
  }

  /** The state NVRAM holds; `Open` for a phone that holds none (new, or factory reset). */
  static async load(nvram: Nvram, announce: (from: CustomizationState, to: CustomizationState, why: string) => void = () => {}): Promise<Customization> {
    const doc = await nvram.read(DOC, isState);
    return new Customization(nvram, doc?.state ?? 'Open', announce);
  }

  get state(): CustomizationState {
    return this.machine.state;
  }

  can(to: CustomizationState): boolean {
    return this.machine.can(to);
  }

  /** Moves to `to` (an illegal edge throws: a bug in the flow), written to NVRAM first; `why` goes with the announcement. */
  async moveTo(to: CustomizationState, why = ''): Promise<void> {
    const from = this.machine.state;
    if (!this.machine.can(to)) this.machine.transition(to);
    if (from !== to) await this.nvram.write(DOC, { state: to });
    this.machine.transition(to);
    this.announce(from, to, why);
  }

  /**
   * Provisioning set by hand (Profile_Rule or a line's proxy, from the keypad or the web page):
   * Aborted while RC was still open or in progress; nothing changes once it is final.
   */
  async configuredByHand(why = 'provisioning set by hand'): Promise<boolean> {
    if (!this.can('Aborted')) return false;
    await this.moveTo('Aborted', why);
    return true;
  }
}
