/**
 * A PhoneWebPort played from a script rather than a firmware: tests set its status and screen,
 * and read back what the page asked of it (configure calls, resyncs, factory resets, the wait
 * scale). It follows the port's documented rules where the page's behaviour depends on them —
 * secrets come back masked, unknown names are refused with nothing set, a hand-set Profile_Rule
 * or proxy aborts customization while it is Open, Pending or Custom-Pending, and a factory reset
 * wipes NVRAM and returns customization to Open — so a page that works against it works against
 * the firmware's implementation, which keeps the same contract.
 */
import type { PhoneEvent, PhoneStatus } from '../events.ts';
import type { Persona } from '../flows/flow.ts';
import type { Nvram } from '../nvram.ts';
import type { ConfigureResult, PhoneIdentity, PhoneWebPort } from './port.ts';

const SECRET = /^(Password_\d+_|Admin_Passwd|User_Password|Profile_Password)$/;
/** `[--key secret]` inside a rule: the key is masked, the rest shown. */
const maskRule = (v: string) => v.replace(/(--key\s+)("[^"]*"|\S+?)(?=[\s\]])/g, '$1********');
const ABORTABLE = new Set(['Open', 'Pending', 'Custom-Pending']);

export class ScriptedPhone implements PhoneWebPort {
  readonly persona: Persona;
  private readonly listeners = new Set<(e: PhoneEvent) => void>();
  private readonly nvram: Nvram | undefined;
  private scale = 1;
  private t = 0;
  id: PhoneIdentity;
  current: PhoneStatus;
  lcd: { rows: string[]; softkeys: string[] };
  params: Record<string, string>;
  /** What the page asked for, in order. */
  readonly configured: Array<Record<string, string>> = [];
  resyncs = 0;
  factoryResets = 0;
  /** When set, the next configure() is refused with this error. */
  refuseNext: string | undefined;

  constructor(o: { persona?: Persona; nvram?: Nvram; identity?: Partial<PhoneIdentity>; status?: Partial<PhoneStatus>; params?: Record<string, string> } = {}) {
    this.persona = o.persona ?? 'mpp';
    this.nvram = o.nvram;
    const mpp = this.persona === 'mpp';
    this.id = { productName: mpp ? 'CP-8841-3PCC' : 'CP-8841', mac: '00:11:22:33:44:55', serial: 'FCH2201A0BC', softwareVersion: mpp ? 'sip88xx.12-0-1MPP0001-1' : 'sip88xx.14-2-1-0001-1', ...o.identity };
    this.current = {
      model: '8841', deviceName: 'SEP001122334455', phase: 'Registered', registered: true, address: '10.0.0.20', tftpServer: '10.0.0.1',
      configFile: mpp ? undefined : 'SEP001122334455.cnf.xml', line: '1001', callManager: '10.0.0.1', log: [], problem: undefined, warning: undefined,
      load: this.id.softwareVersion, inactiveLoad: '', boot: [], customization: mpp ? 'Open' : undefined, profileUrl: undefined, ...o.status,
    };
    this.lcd = { rows: ['  1001                  ', ' Customization: Open    '], softkeys: ['Recents', 'Fwd all'] };
    this.params = o.params ?? (mpp ? { Profile_Rule: '', Proxy_1_: '', Resync_Periodic: '3600', Password_1_: 'line-secret' } : {});
  }

  identity(): PhoneIdentity {
    return { ...this.id };
  }

  status(): PhoneStatus {
    return { ...this.current };
  }

  screen(): { rows: string[]; softkeys: string[] } {
    return { rows: [...this.lcd.rows], softkeys: [...this.lcd.softkeys] };
  }

  subscribe(fn: (e: PhoneEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** How many subscribers there are (the page's event streams), for tests. */
  get subscribers(): number {
    return this.listeners.size;
  }

  parameters(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.params)) out[k] = SECRET.test(k) ? (v ? '********' : '') : /^Profile_Rule/.test(k) ? maskRule(v) : v;
    return out;
  }

  async configure(params: Record<string, string>, source: 'web'): Promise<ConfigureResult> {
    void source;
    this.configured.push({ ...params });
    if (this.refuseNext !== undefined) {
      const error = this.refuseNext;
      this.refuseNext = undefined;
      return { ok: false, error };
    }
    const unknown = Object.keys(params).filter((k) => !(k in this.params));
    if (unknown.length) return { ok: false, error: `unknown parameter ${unknown.join(', ')}` };
    Object.assign(this.params, params);
    const c = this.current.customization;
    if (this.persona === 'mpp' && c && ABORTABLE.has(c) && Object.keys(params).some((k) => k === 'Profile_Rule' || /^Proxy_\d+_$/.test(k))) {
      this.setCustomization('Aborted', 'configured by hand');
    }
    return { ok: true };
  }

  resync(): void {
    this.resyncs++;
  }

  async factoryReset(): Promise<void> {
    this.factoryResets++;
    await this.nvram?.wipe();
    if (this.persona === 'mpp') this.setCustomization('Open', 'factory reset');
  }

  waitScale(): number {
    return this.scale;
  }

  setWaitScale(factor: number): void {
    this.scale = factor;
  }

  /** Changes the status (and the LCD's second row), publishing the event the firmware would. */
  setCustomization(to: string, why = 'scripted'): void {
    const from = this.current.customization;
    this.current = { ...this.current, customization: to };
    this.lcd = { ...this.lcd, rows: [this.lcd.rows[0] ?? '', ` Customization: ${to}`.padEnd(24)] };
    const states = ['Open', 'Pending', 'Custom-Pending', 'Acquired', 'Unavailable', 'Aborted'] as const;
    const state = states.find((s) => s === to);
    const was = states.find((s) => s === from);
    // A state outside Cisco's names (a test's hostile string) changes the status without an event
    // of that name; subscribers still hear that something changed.
    this.emit({ type: 'event', step: 'customization', state: 'done', customization: state ?? 'Open', ...(was ? { from: was } : {}), why, ms: 0, t: this.t++, message: `Customization: ${to}` });
  }

  /** Any other change of status, announced as the firmware's flow events are. */
  update(patch: Partial<PhoneStatus>): void {
    this.current = { ...this.current, ...patch };
    this.emit({ type: 'flow', flow: this.persona, from: 'scripted', to: 'scripted', t: this.t++ });
  }

  private emit(e: PhoneEvent): void {
    for (const l of [...this.listeners]) l(e);
  }
}
