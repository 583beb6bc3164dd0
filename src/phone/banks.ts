/**
 * The phone's two firmware banks, A and B, as on Cisco 88xx phones (active and inactive load)
 * and in Nerves-style A/B updates: a new load is written to the inactive bank and switched to
 * only when it is complete and verified; it is then on **trial** and marked good once it has
 * registered. A trial boot that never registered falls back to the other bank at the next boot,
 * and the load that failed is not tried again (until the configuration names another).
 *
 * State is one NVRAM document, written atomically: a power cut leaves the old state or the new
 * one. The bank's files live under `bank-a/` and `bank-b/` in NVRAM (the real board keeps them
 * in partitions; here the firmware that runs stays the process's own — a switch is recorded and
 * reported, and the load the phone reports is the active bank's).
 */
import { createHash } from 'node:crypto';
import type { Nvram } from './nvram.ts';

export type Bank = 'A' | 'B';

export interface BanksState {
  active: Bank;
  loads: Record<Bank, string>;
  /** The active bank is on trial: switched to, not yet registered. `booted` once a boot ran on it. */
  trial?: { previous: Bank; booted: boolean };
  /** Loads that failed their trial: not installed again. */
  failed: string[];
}

const DOC = 'banks';
const other = (b: Bank): Bank => (b === 'A' ? 'B' : 'A');

const isState = (v: unknown): v is BanksState => {
  const s = v as BanksState;
  return typeof v === 'object' && v !== null && (s.active === 'A' || s.active === 'B') && typeof s.loads?.A === 'string' && typeof s.loads?.B === 'string' && Array.isArray(s.failed);
};

export class Banks {
  private readonly nvram: Nvram;
  private s: BanksState;

  private constructor(nvram: Nvram, s: BanksState) {
    this.nvram = nvram;
    this.s = s;
  }

  /** The banks NVRAM records; a phone that never switched runs its factory load from A, B holding the older one. */
  static async load(nvram: Nvram, factory: { active: string; inactive: string }): Promise<Banks> {
    const s = await nvram.read(DOC, isState);
    return new Banks(nvram, s ?? { active: 'A', loads: { A: factory.active, B: factory.inactive }, failed: [] });
  }

  get activeLoad(): string {
    return this.s.loads[this.s.active];
  }

  get inactiveLoad(): string {
    return this.s.loads[other(this.s.active)];
  }

  get inactiveBank(): Bank {
    return other(this.s.active);
  }

  get onTrial(): boolean {
    return this.s.trial !== undefined;
  }

  hasFailed(load: string): boolean {
    return this.s.failed.includes(load);
  }

  private async save(next: BanksState): Promise<void> {
    await this.nvram.write(DOC, next);
    this.s = next;
  }

  /**
   * At power-on: a bank on trial gets one boot; a second boot on it without a registration in
   * between means it did not work, and the other bank is active again. Says what happened.
   */
  async atBoot(): Promise<{ fellBack?: { from: string; to: string } }> {
    const t = this.s.trial;
    if (!t) return {};
    if (!t.booted) {
      await this.save({ ...this.s, trial: { ...t, booted: true } });
      return {};
    }
    const from = this.activeLoad;
    await this.save({ active: t.previous, loads: this.s.loads, failed: [...this.s.failed, from].slice(-8) });
    return { fellBack: { from, to: this.activeLoad } };
  }

  /** The trial load registered: it is the good one now. */
  async registered(): Promise<boolean> {
    if (!this.s.trial) return false;
    const { trial: _done, ...rest } = this.s;
    await this.save(rest);
    return true;
  }

  /**
   * Where a component of bank `b` is kept in NVRAM: NVRAM names are lower case and plain, a
   * component's name need not be, so it is stored under a digest of its name.
   */
  componentName(b: Bank, file: string): string {
    return `bank-${b.toLowerCase()}/f-${createHash('sha256').update(file).digest('hex').slice(0, 24)}`;
  }

  /** The inactive bank holds `load`, complete and verified: switch to it, on trial. */
  async switchTo(load: string): Promise<void> {
    const target = other(this.s.active);
    await this.save({ active: target, loads: { ...this.s.loads, [target]: load }, trial: { previous: this.s.active, booted: false }, failed: this.s.failed });
  }
}
