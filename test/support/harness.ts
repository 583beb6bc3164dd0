/**
 * The in-process harness: phones (Handset, Firmware) on a VirtualClock against an in-process
 * companion on 127.0.0.1 — no namespaces, no root — so retry ladders, lease timers and reboots
 * run in milliseconds. Real sockets carry every exchange; only DHCP, which loopback cannot do
 * without root, comes from a small responder on our own codec (dhcp-responder.ts).
 *
 * Virtual time moves only when the wire is quiet: no request in flight and nothing sent or
 * received for QUIET_MS of real time. Then the clock jumps to the next timer that is due, so a
 * 120-second backoff costs one jump, while a real answer is never beaten by a virtual timeout.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { VirtualClock } from '../../src/common/clock.ts';
import { Companion } from '../../src/cm/companion.ts';
import { buildConfig } from '../../src/cm/config.ts';
import type { PhoneEvent, StepEvent } from '../../src/phone/events.ts';
import type { CallOptions } from '../../src/phone/call/phone-calls.ts';
import { Handset } from '../../src/phone/handset.ts';
import { ScriptedKeypad } from '../../src/phone/keypads.ts';
import { UnmanagedInterface } from '../../src/phone/node-ports.ts';
import { MemoryNvram } from '../../src/phone/nvram.ts';
import type { PhoneSettings } from '../../src/phone/settings.ts';
import { MacAddress } from '../../src/wire/mac.ts';
import { ManufacturingCa, type MicIssuer } from '../../src/factory/manufacturing-ca.ts';
import { CA_CERT_FILE } from '../../src/factory/factory-files.ts';
import { modelByName } from '../../src/wire/models.ts';
import { DhcpResponder } from './dhcp-responder.ts';
import { LoopbackNetwork } from './loopback-network.ts';

const QUIET_MS = 15;
const FLOOD_MS = 5000;

export interface HarnessPhone {
  handset: Handset;
  keypad: ScriptedKeypad;
  nvram: MemoryNvram;
  events: PhoneEvent[];
  /** Step events only, with the virtual time they were published at. */
  steps(): Array<StepEvent & { at: number }>;
}

export class Harness {
  readonly clock = new VirtualClock(Date.UTC(2026, 10, 25, 12));
  readonly dhcp = new DhcpResponder({ tftpServer: '127.0.0.1' });
  readonly network = new LoopbackNetwork(() => this.dhcp.port);
  readonly companionLog: string[] = [];
  companion: Companion | undefined;
  /** The lab factory the phones' MICs come from, and whose CA the companion trusts. */
  factory: ManufacturingCa | undefined;
  private dataDir = '';
  private readonly phones: HarnessPhone[] = [];
  private readonly publishedAt = new WeakMap<PhoneEvent, number>();

  /** Starts the DHCP responder and, unless `companion: false`, a companion with the given configuration. */
  static async start(o: { companion?: Record<string, unknown> | false; leaseSecs?: number } = {}): Promise<Harness> {
    const h = new Harness();
    if (o.leaseSecs) h.dhcp.leaseSecs = o.leaseSecs;
    await h.dhcp.start();
    if (o.companion !== false) await h.startCompanion(o.companion ?? {});
    return h;
  }

  async startCompanion(overrides: Record<string, unknown> = {}): Promise<Companion> {
    // tmpfs when there is one: the companion fsyncs its database, and virtual time waits for it.
    this.dataDir ||= await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'sepi-harness-'));
    this.factory ??= (await ManufacturingCa.open(join(this.dataDir, 'factory'), this.clock.now())).ca;
    const raw = {
      address: '127.0.0.1', prefix: 8,
      // Port 0 for every listener: harness tests run beside anything else on the machine's loopback.
      dhcp: { enabled: false }, tftp: { port: 0 }, http: { port: 0 }, sip: { port: 0 }, web: { port: 0 },
      ...overrides,
      security: { tvsPort: 0, capfPort: 0, ...((overrides['security'] as object | undefined) ?? {}) },
      activation: { port: 0, manufacturingCaFiles: [join(this.dataDir, 'factory', CA_CERT_FILE)], ...((overrides['activation'] as object | undefined) ?? {}) },
      // EDOS when asked for: its certificate from the same factory as the phones' (their roots).
      ...(overrides['edos'] ? { edos: { port: 0, factory: join(this.dataDir, 'factory'), ...(overrides['edos'] as object) } } : {}),
    };
    const config = buildConfig(raw, { address: '127.0.0.1', prefix: 8 });
    const companion = new Companion({ dataDir: this.dataDir, config, clock: this.clock, log: (l) => this.companionLog.push(l) });
    await companion.start();
    this.companion = companion;
    return companion;
  }

  /** The companion's data folder (its TFTP root is `tftp-root/` in it). */
  get dataFolder(): string {
    return this.dataDir;
  }

  async stopCompanion(): Promise<void> {
    await this.companion?.stop();
    this.companion = undefined;
  }

  /** A phone on the loopback LAN, powered on. */
  phone(mac: string, o: { model?: string; settings?: Partial<PhoneSettings>; waitScale?: number; capfAuthString?: string; activationCode?: string; noMic?: boolean; micIssuer?: MicIssuer; firmwareCert?: string; persona?: 'enterprise' | 'mpp'; edosUrl?: string; nvram?: MemoryNvram; calls?: CallOptions } = {}): HarnessPhone {
    const c = this.companion;
    const keypad = new ScriptedKeypad('test');
    const nvram = o.nvram ?? new MemoryNvram();
    const handset = new Handset({
      ...(o.persona ? { persona: o.persona } : {}), ...(o.edosUrl ? { edosUrl: o.edosUrl } : {}), ...(o.calls ? { calls: o.calls } : {}),
      mac: MacAddress.parse(mac)!, model: modelByName(o.model ?? '8841')!, network: this.network, iface: new UnmanagedInterface('lo'), clock: this.clock, nvram,
      httpPort: c?.endpoints.http ?? 6970, tftpPort: c?.endpoints.tftp ?? 69, keypads: [keypad],
      ...(o.settings ? { settingsOverride: o.settings } : {}), ...(o.waitScale ? { waitScale: o.waitScale } : {}), ...(o.capfAuthString ? { capfAuthString: o.capfAuthString } : {}),
      ...(o.activationCode ? { activationCode: o.activationCode } : {}), ...(o.firmwareCert ? { firmwareCert: o.firmwareCert } : {}), ...(o.micIssuer ? { micIssuer: o.micIssuer } : this.factory && !o.noMic ? { micIssuer: this.factory } : {}),
      // No tftp windowsize: the npm tftp server does not speak it, and the fallback costs a round.
      tftpRequest: { blksize: 1428, tsize: true, timeoutSecs: 2 },
    });
    const events: PhoneEvent[] = [];
    handset.subscribe((e) => {
      this.publishedAt.set(e, this.clock.now());
      events.push(e);
    });
    const p: HarnessPhone = {
      handset, keypad, nvram, events,
      steps: () => events.filter((e): e is StepEvent => e.type === 'event').map((e) => ({ ...e, at: this.publishedAt.get(e)! })),
    };
    this.phones.push(p);
    handset.powerOn();
    return p;
  }

  /**
   * Waits (in real time) until the wire has been quiet for QUIET_MS. A wire that never goes
   * quiet is a phone flooding the network without waiting on any timer: that fails the test.
   */
  async quiet(): Promise<void> {
    const giveUp = performance.now() + FLOOD_MS;
    for (;;) {
      await new Promise((r) => setTimeout(r, QUIET_MS));
      if (this.network.pending === 0 && performance.now() - this.network.lastActivity >= QUIET_MS) return;
      if (performance.now() > giveUp) throw new Error(`the wire was never quiet for ${QUIET_MS} ms in ${FLOOD_MS / 1000} s: something floods it without waiting`);
    }
  }

  /**
   * Runs the world until pred holds: real I/O first, then virtual time to the next timer, and
   * again. Fails (with the last events) when nothing is left to happen or `withinMs` of virtual
   * time has passed.
   */
  async until<T>(what: string, pred: () => T | undefined | false, withinMs = 3_600_000): Promise<T> {
    const end = this.clock.now() + withinMs;
    for (;;) {
      await this.quiet();
      const v = pred();
      if (v) return v;
      const next = this.clock.nextDueAt();
      if (next === undefined || next > end) {
        const last = this.phones.flatMap((p) => p.steps().slice(-8).map((e) => `  ${p.handset.deviceName} +${e.at - this.clock.now()}ms ${e.step} ${e.state}: ${e.message}`));
        throw new Error(`${what}: not within ${withinMs / 1000} s of virtual time (${next === undefined ? 'nothing left to happen' : 'next timer later'})\n${last.join('\n')}`);
      }
      await this.clock.advance(Math.max(0, next - this.clock.now()));
    }
  }

  /** Waits for a step event on one phone, after the `after`-th event. */
  event<E extends StepEvent>(p: HarnessPhone, what: string, match: (e: StepEvent) => e is E, after?: number, withinMs?: number): Promise<E & { at: number }>;
  event(p: HarnessPhone, what: string, match: (e: StepEvent) => boolean, after?: number, withinMs?: number): Promise<StepEvent & { at: number }>;
  event(p: HarnessPhone, what: string, match: (e: StepEvent) => boolean, after = 0, withinMs?: number): Promise<StepEvent & { at: number }> {
    return this.until(what, () => p.steps().slice(after).find((e) => match(e)), withinMs);
  }

  async stop(): Promise<void> {
    await Promise.all(this.phones.splice(0).map((p) => p.handset.powerOff()));
    await this.stopCompanion();
    this.dhcp.stop();
    await this.network.close();
    if (this.dataDir) await rm(this.dataDir, { recursive: true, force: true });
  }
}

export type CallStep = Extract<StepEvent, { step: 'call' }>;

/** A phone's call event of one kind (`dialing`, `connected`, `ended` …). */
export const isCall = (kind: string) => (e: StepEvent): e is CallStep => e.step === 'call' && e.call === kind;
