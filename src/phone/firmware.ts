/**
 * The phone's firmware: power, the boot cycle, the network, and the event bus. Whatever the
 * persona, a cycle is
 *
 *   off ─► power ─► network (DHCP or static) ─► the persona's boot flow (flows/) ─► …
 *                    ▲                                  │
 *                    │   service-control restart, a     │  (a restart keeps the address and
 *                    │   user's restart, trust erase ◄──┤   runs the flow again)
 *                    └── service-control reset, lease lost, factory reset
 *
 * One cycle runs under one AbortSignal; a reboot aborts it and starts the next, so no timer or
 * socket of an old cycle outlives it. Everything the firmware and its flow do is published as a
 * typed event on one bus (events.ts); the status the screens are drawn from is one reducer over
 * those events. No module-level state: a process may run as many Firmware instances as memory
 * allows.
 */
import type { MacAddress } from '../wire/mac.ts';
import type { PhoneModel } from '../wire/models.ts';
import { tvsDeviceName } from '../wire/tvs.ts';
import { isAbort } from '../common/abort.ts';
import { Bus } from '../common/bus.ts';
import type { Clock } from '../common/clock.ts';
import type { PhoneEvent, PhoneStatus, RebootReason, StepReport } from './events.ts';
import type { BootFlow, Persona } from './flows/flow.ts';
import { flowFor } from './flows/index.ts';
import { NetworkStep } from './network-step.ts';
import type { Nvram } from './nvram.ts';
import type { InterfacePort, NetworkPort, UserPrompt } from './ports.ts';
import { UnattendedPrompt } from './prompts.ts';
import { ProvisioningFetcher } from './provisioning-fetcher.ts';
import type { NetContext } from './provisioning.ts';
import { type PhoneSettings, loadSettings, saveSettings, validateSettings } from './settings.ts';
import { MAX_LOAD_FILE_BYTES } from './load-step.ts';
import { applyEvent, initialStatus } from './status.ts';
import type { TftpRequestOptions } from './tftp-client.ts';
import { TrustStore } from './trust-store.ts';
import { TvsClient } from './tvs-client.ts';
import { wipeKeepingMic } from './mic.ts';
import { type Bank, Banks } from './banks.ts';
import type { MicIssuer } from '../factory/manufacturing-ca.ts';
import { asMppModel } from './mpp/identity.ts';
import { Customization } from './mpp/customization.ts';
import { MppParameters, isProvisioningParam } from './mpp/parameters.ts';
import { type CallOptions, PhoneCalls } from './call/phone-calls.ts';

export interface FirmwareOptions {
  mac: MacAddress;
  model: PhoneModel;
  /** Which boot flow runs after the network; enterprise unless said. */
  persona?: Persona;
  network: NetworkPort;
  iface: InterfacePort;
  clock: Clock;
  nvram: Nvram;
  /** How a flow asks the person at the phone; without one, questions wait until the next reboot. */
  prompt?: UserPrompt;
  httpPort?: number;
  tftpPort?: number;
  tftpRequest?: TftpRequestOptions;
  /** Settings for this run only, over what NVRAM holds (command-line flags). */
  settingsOverride?: Partial<PhoneSettings>;
  /** Every retry wait lasts this many times its nominal length (a lab option). */
  waitScale?: number;
  /** The lab's factory, which makes this phone's MIC the first time it needs one (activation codes). */
  micIssuer?: MicIssuer;
  /** The firmware signer (PEM) loads must be signed by; a real phone has it in its image. */
  firmwareCert?: string;
  /** Multiplatform: the EDOS server to ask (`--edos URL`); the documented host unless said. */
  edosUrl?: string;
  /** How calls behave (auto-answer, the audio sent, recording, DTMF and hang-up scripted): call/phone-calls.ts. */
  calls?: CallOptions;
  /**
   * This process is one bank's firmware (`sepi phone`, bank-exec.ts): the launcher chose the
   * bank at power-on and counted the boot (`decided`, so the first cycle does not count it
   * again). A later boot that finds another bank active — a load installed, a trial fallen
   * back — calls `handOver` instead of going on: the process then runs that bank's firmware.
   * Without it (fleets, tests) the banks are only recorded and reported.
   */
  bankProcess?: { bank: Bank; decided: BankDecision; handOver: (reason: RebootReason) => void };
}

/** What the launcher decided at power-on (bank-exec.ts): a fallback it made, and why the phone booted (a reboot handed over to this bank). */
export interface BankDecision {
  fellBack?: { from: string; to: string };
  reason?: RebootReason;
}

export type RebootKind = 'reset' | 'restart';

const MAX_FILE_BYTES = 2 * 1024 * 1024;

class Aborted extends Error {
  override name = 'AbortError';
}

export class Firmware {
  private readonly o: FirmwareOptions;
  readonly persona: Persona;
  readonly trust: TrustStore;
  /** The phone's calls on its registered line (call/phone-calls.ts). */
  readonly calls: PhoneCalls;
  private readonly flow: BootFlow;
  private readonly fetcher: ProvisioningFetcher;
  private readonly loadFetcher: ProvisioningFetcher;
  private readonly tvs: TvsClient;
  private readonly network: NetworkStep;
  private readonly bus = new Bus<PhoneEvent>();
  private cycle: AbortController | undefined;
  private running: Promise<void> = Promise.resolve();
  private bootAt = 0;
  private net: NetContext | undefined;
  private statusValue: PhoneStatus;
  private poweredOn = false;
  private scale: number;
  /** The launcher's choice at power-on, for the first cycle only. */
  private decided: BankDecision | undefined;

  constructor(options: FirmwareOptions) {
    this.persona = options.persona ?? 'enterprise';
    // The same hardware flashed with Multiplatform firmware runs MPP loads.
    const o = this.persona === 'mpp' ? { ...options, model: asMppModel(options.model) } : options;
    this.o = o;
    this.scale = o.waitScale ?? 1;
    this.decided = o.bankProcess?.decided;
    this.flow = flowFor(this.persona);
    this.statusValue = initialStatus(o.model.name, o.mac.deviceName);
    this.fetcher = new ProvisioningFetcher({
      network: o.network,
      clock: o.clock,
      httpFirst: o.model.httpFirst,
      httpPort: o.httpPort ?? 6970,
      tftpPort: o.tftpPort ?? 69,
      tftpRequest: o.tftpRequest ?? { blksize: 1428, tsize: true, timeoutSecs: 2, windowsize: 4 },
      maxBytes: MAX_FILE_BYTES,
      localAddress: o.iface.sourceAddress(),
    });
    this.loadFetcher = new ProvisioningFetcher({
      network: o.network, clock: o.clock, httpFirst: o.model.httpFirst, httpPort: o.httpPort ?? 6970, tftpPort: o.tftpPort ?? 69,
      tftpRequest: o.tftpRequest ?? { blksize: 1428, tsize: true, timeoutSecs: 2, windowsize: 4 }, maxBytes: MAX_LOAD_FILE_BYTES, localAddress: o.iface.sourceAddress(),
    });
    this.trust = new TrustStore(o.nvram);
    this.calls = new PhoneCalls({ ...o.calls, clock: o.clock, network: o.network, report: (e) => this.report(e) });
    this.tvs = new TvsClient({ network: o.network, clock: o.clock, deviceName: tvsDeviceName(o.model.name, o.mac.deviceName) });
    // A Multiplatform phone asks DHCP for provisioning URLs too (options 159 and 160).
    const mpp = this.persona === 'mpp' ? { vendorClass: `Cisco Systems, Inc. IP Phone CP-${o.model.name}-3PCC`, extraRequested: [159, 160] } : {};
    this.network = new NetworkStep({ mac: o.mac, model: o.model, network: o.network, iface: o.iface, clock: o.clock, nvram: o.nvram, waitScale: o.waitScale ?? 1, report: (e) => this.report(e), ...mpp });
  }

  get status(): PhoneStatus {
    return this.statusValue;
  }

  /** Every retry wait lasts this many times its nominal length (a lab option). */
  get waitScale(): number {
    return this.scale;
  }

  set waitScale(factor: number) {
    if (!(factor > 0 && factor <= 1000)) throw new RangeError('the wait scale is a number above 0 and at most 1000');
    this.scale = factor;
  }

  /**
   * Every event from now on, to fn; the returned function unsubscribes. The status is already
   * updated when fn hears an event.
   */
  subscribe(fn: (e: PhoneEvent) => void): () => void {
    return this.bus.subscribe(fn);
  }

  powerOn(): void {
    this.poweredOn = true;
    // A bank's firmware started by a reboot of the one before (bank-exec.ts) boots for that reason.
    this.startCycle(this.decided?.reason ?? 'power-on', 'dhcp');
  }

  /** Stops every activity of the current cycle and waits until it has. */
  async powerOff(): Promise<void> {
    // From here on nothing may start a new cycle (a service-control reset arriving late, say).
    this.poweredOn = false;
    this.cycle?.abort(new Aborted('power off'));
    await this.running;
    this.cycle = undefined;
    this.calls.close();
  }

  /** A reset reboots from DHCP; a restart keeps the address and runs the boot flow again. */
  reboot(kind: RebootKind, reason: RebootReason): void {
    if (!this.poweredOn) return;
    this.report({ step: 'reboot', state: 'start', ms: 0, message: kind === 'reset' ? `Resetting (${reason})` : `Restarting (${reason})`, kind, reason });
    this.startCycle(reason, kind === 'reset' ? 'dhcp' : 'flow');
  }

  /** A user's restart (Settings > Restart, or the Restart softkey). */
  restart(): void {
    this.reboot('restart', 'user-restart');
  }

  trustSummary(): string[] {
    const signer = this.trust.itlSigner();
    return [...this.trust.summary(), ...(signer ? [`signed by ${signer}`] : [])];
  }

  /** Settings > Trust list > Erase: the lists go, and the phone reads its configuration again. */
  async eraseTrustList(): Promise<void> {
    if (!this.poweredOn) return;
    await this.trust.erase();
    this.report({ step: 'reboot', state: 'start', ms: 0, message: 'Trust list erased', kind: 'restart', reason: 'trust-list-erased' });
    this.startCycle('trust-list-erased', 'flow');
  }

  /** Factory reset: NVRAM wiped (lease, settings, trust lists, last good file, LSC; not the MIC), then a reboot. */
  async factoryReset(): Promise<void> {
    if (!this.poweredOn) return;
    this.cycle?.abort(new Aborted('factory reset'));
    await this.running;
    const lease = this.net?.lease;
    if (lease && this.o.iface.ownsAddress) await this.o.iface.deconfigure({ address: lease.address, prefix: lease.prefix, router: undefined });
    await wipeKeepingMic(this.o.nvram);
    this.net = undefined;
    this.report({ step: 'reboot', state: 'start', ms: 0, message: 'Factory reset', kind: 'reset', reason: 'factory-reset' });
    this.startCycle('factory-reset', 'dhcp');
  }

  /** Settings > Network setup: the settings NVRAM holds (command-line overrides are for one run only). */
  settings(): Promise<PhoneSettings> {
    return loadSettings(this.o.nvram);
  }

  /** New network settings from the menu: checked, written, then a reset so the next boot uses them. */
  async applySettings(s: PhoneSettings): Promise<string | undefined> {
    const bad = validateSettings(s);
    if (bad) return bad;
    await saveSettings(this.o.nvram, s);
    this.reboot('reset', 'settings-changed');
    return undefined;
  }

  // ---- Multiplatform provisioning by hand ----------------------------------------------------

  /** A resync now (web page, keypad); false on an enterprise phone or with no cycle running. */
  resync(): boolean {
    return this.poweredOn && (this.flow.requestResync?.() ?? false);
  }

  /** The Multiplatform parameters as the phone holds them, secrets masked; empty on an enterprise phone. */
  async parameters(): Promise<Record<string, string>> {
    return this.persona === 'mpp' ? (await MppParameters.load(this.o.nvram)).all() : {};
  }

  /**
   * Parameters set by hand (web page, keypad, a command). The cycle stops first so nothing it
   * does overwrites them; Profile_Rule or a line's proxy set while customization is Open,
   * Pending or Custom-Pending makes it Aborted (the guides' rule); then the flow runs again.
   */
  async configure(values: Record<string, string>, source: 'keypad' | 'web' | 'command'): Promise<{ ok: true } | { ok: false; error: string }> {
    if (this.persona !== 'mpp') return { ok: false, error: 'an enterprise phone takes its configuration from the call manager' };
    const params = await MppParameters.load(this.o.nvram);
    const names = Object.keys(values);
    const wasRunning = this.poweredOn && this.cycle !== undefined;
    if (wasRunning) {
      this.cycle?.abort(new Aborted('configured by hand'));
      await this.running;
    }
    const r = await params.set(values);
    if (r.ok) {
      this.report({ step: 'profile', state: 'progress', ms: 0, message: `Set by hand (${source}): ${names.join(', ')}`, resync: 'configured-by-hand', params: names, source });
      if (names.some(isProvisioningParam)) {
        const c = await Customization.load(this.o.nvram, (from, to, why) => this.report({ step: 'customization', state: 'done', ms: 0, message: `Customization: ${to} (${why})`, customization: to, from, why }));
        await c.configuredByHand(`${names.filter(isProvisioningParam).join(', ')} set by hand (${source})`);
      }
    }
    if (wasRunning && this.poweredOn) {
      this.report({ step: 'reboot', state: 'start', ms: 0, message: 'Restarting (configured by hand)', kind: 'restart', reason: 'configured-by-hand' });
      this.startCycle('configured-by-hand', 'flow');
    }
    return r;
  }

  private startCycle(reason: RebootReason, from: 'dhcp' | 'flow'): void {
    this.cycle?.abort(new Aborted('reboot'));
    const ac = new AbortController();
    this.cycle = ac;
    const previous = this.running;
    this.running = (async () => {
      await previous;
      if (ac.signal.aborted) return;
      try {
        await this.boot(reason, from, ac.signal);
      } catch (e) {
        if (isAbort(e) || ac.signal.aborted) return;
        // A bug, not a protocol outcome: say so on the screen rather than dying silently.
        this.report({ step: 'power', state: 'fail', ms: 0, message: `Firmware error: ${(e as Error).message}`, problem: 'firmware-error', error: String((e as Error).stack ?? e) });
      }
    })();
  }

  // ---- events -----------------------------------------------------------------------------------

  private report(e: StepReport): void {
    this.publish({ ...e, type: 'event', t: this.sinceBoot() } as PhoneEvent);
  }

  private publish(e: PhoneEvent): void {
    this.statusValue = applyEvent(this.statusValue, e);
    this.bus.publish(e);
  }

  private sinceBoot(): number {
    return Math.max(0, Math.round(this.o.clock.now() - this.bootAt));
  }

  // ---- the cycle --------------------------------------------------------------------------------

  private async boot(reason: RebootReason, from: 'dhcp' | 'flow', signal: AbortSignal): Promise<void> {
    const o = this.o;
    this.bootAt = o.clock.now();
    // The banks say which load runs: a trial that did not register falls back at this boot.
    const banks = await Banks.load(o.nvram, { active: o.model.activeLoad, inactive: o.model.inactiveLoad });
    const bp = o.bankProcess;
    const decided = this.decided;
    this.decided = undefined;
    const trial = decided ?? (bp && banks.activeBank !== bp.bank ? {} : await banks.atBoot());
    const fellBack = (t: { from: string; to: string }) => this.report({ step: 'load', state: 'progress', ms: 0, message: `Load ${t.from} never registered: back to ${t.to}`, trial: 'failed', load: t.from, activeLoad: t.to });
    if (bp && banks.activeBank !== bp.bank) {
      // Another bank's firmware runs the phone now (bank-exec.ts); it counts this boot itself.
      if (trial.fellBack) fellBack(trial.fellBack);
      bp.handOver(reason);
      return;
    }
    const model = { ...o.model, activeLoad: banks.activeLoad, inactiveLoad: banks.inactiveLoad };
    this.report({ step: 'power', state: 'start', ms: 0, message: `${model.name} ${model.activeLoad}`, reason, mac: o.mac.hex, model: model.name, persona: this.persona, load: model.activeLoad, inactiveLoad: model.inactiveLoad });
    if (trial.fellBack) fellBack(trial.fellBack);
    await o.nvram.write('boot', { lastReason: reason, at: new Date(o.clock.now()).toISOString() });
    const settings = { ...(await loadSettings(o.nvram)), ...o.settingsOverride };
    await this.trust.load();
    const bad = validateSettings(settings);
    if (bad) {
      this.report({ step: 'power', state: 'fail', ms: 0, message: `Settings: ${bad}`, problem: 'settings' });
      return;
    }
    if (from === 'dhcp' || !this.net) {
      this.net = await this.network.configure(settings, signal);
      if (this.net.lease) this.network.keepLease(this.net.lease, signal, () => this.reboot('reset', 'dhcp-lease-lost'));
    } else {
      this.report({ step: 'dhcp', state: 'done', ms: 0, message: `Keeping IP ${this.net.address}`, dhcp: 'kept', address: this.net.address });
      // The old cycle's renewals stopped with it; the lease (as last renewed) is kept by this one.
      if (this.net.lease) await this.network.keepStoredLease(this.net.lease, signal, () => this.reboot('reset', 'dhcp-lease-lost'));
    }
    const self = this;
    await this.flow.run(
      {
        mac: o.mac, model, network: o.network, clock: o.clock, nvram: o.nvram, trust: this.trust, tvs: this.tvs, fetcher: this.fetcher,
        banks, loadFetcher: this.loadFetcher, ...(o.firmwareCert ? { firmwareCert: o.firmwareCert } : {}),
        prompt: o.prompt ?? new UnattendedPrompt(), net: this.net, reason, localAddress: o.iface.sourceAddress(),
        // Read at each wait, so the web page's Advanced setting takes effect without a reboot.
        get waitScale() {
          return self.scale;
        },
        ...(o.micIssuer ? { micIssuer: o.micIssuer } : {}),
        ...(o.edosUrl ? { edosUrl: o.edosUrl } : {}),
        report: (e) => this.report(e),
        onSipLine: (line) => this.calls.setLine(line),
        onTransition: (from, to) => this.publish({ type: 'flow', flow: this.persona, from, to, t: this.sinceBoot() }),
        reboot: (kind, why) => this.reboot(kind, why),
      },
      signal,
    );
  }
}
