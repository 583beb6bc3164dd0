/**
 * The phone's boot sequence as an explicit state machine over injected ports:
 *
 *   off ─► power ─► dhcp ─► tftp ─► trust ─► config ─► register ─► registered
 *                    ▲        ▲                 │ nothing found /     │ rejected: back off,
 *                    │        └──── back off ◄──┘ server down         │ read config again
 *                    │        ▲                                       │
 *                    │        └──────── service-control restart ◄─────┤
 *                    └──────────────── service-control reset, lease lost
 *
 * One boot cycle runs under one AbortSignal; a reboot aborts it and starts the next, so no
 * timer or socket of an old cycle outlives it. Every step reports through `emit`, which feeds
 * the status (screens), the JSON event stream and the log alike. No module-level state: a
 * process may run as many Firmware instances as memory allows.
 */
import type { MacAddress } from '../wire/mac.ts';
import type { PhoneModel } from '../wire/models.ts';
import { vendorClassFor } from '../wire/models.ts';
import type { Clock } from '../common/clock.ts';
import { DhcpClient, type DhcpEvent, type DhcpLease, isDhcpLease } from './dhcp-client.ts';
import type { BootStep, PhoneEvent, PhoneStatus, StepState } from './events.ts';
import type { Nvram } from './nvram.ts';
import type { InterfacePort, NetworkPort } from './ports.ts';
import { ProvisioningFetcher } from './provisioning-fetcher.ts';
import { type NetContext, type Provisioned, Provisioning, stepTimer } from './provisioning.ts';
import { type PhoneSettings, loadSettings, validateSettings } from './settings.ts';
import { type RegistrarMember, type RegistrationEvent, SipRegistration } from './sip-registration.ts';
import { applyEvent, initialStatus } from './status.ts';
import type { TftpRequestOptions } from './tftp-client.ts';
import { chooseTftpServers } from './tftp-server-choice.ts';
import { TrustStore } from './trust-store.ts';
import { TvsClient } from './tvs-client.ts';
import { tvsDeviceName } from '../wire/tvs.ts';

export interface FirmwareOptions {
  mac: MacAddress;
  model: PhoneModel;
  network: NetworkPort;
  iface: InterfacePort;
  clock: Clock;
  nvram: Nvram;
  onEvent?: (e: PhoneEvent) => void;
  onStatus?: (s: PhoneStatus) => void;
  httpPort?: number;
  tftpPort?: number;
  tftpRequest?: TftpRequestOptions;
  /** Settings for this run only, over what NVRAM holds (command-line flags). */
  settingsOverride?: Partial<PhoneSettings>;
}

export type RebootKind = 'reset' | 'restart';

const MAX_FILE_BYTES = 2 * 1024 * 1024;
const isAbort = (e: unknown) => e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');

class Aborted extends Error {
  override name = 'AbortError';
}

export class Firmware {
  private readonly o: FirmwareOptions;
  private readonly provisioning: Provisioning;
  readonly trust: TrustStore;
  private readonly dhcp: DhcpClient;
  private cycle: AbortController | undefined;
  private running: Promise<void> = Promise.resolve();
  private bootAt = 0;
  private net: NetContext | undefined;
  private statusValue: PhoneStatus;
  private dhcpStepStart = 0;
  private poweredOn = false;

  constructor(o: FirmwareOptions) {
    this.o = o;
    this.statusValue = initialStatus(o.model.name, o.mac.deviceName);
    const fetcher = new ProvisioningFetcher({
      network: o.network,
      clock: o.clock,
      httpFirst: o.model.httpFirst,
      httpPort: o.httpPort ?? 6970,
      tftpPort: o.tftpPort ?? 69,
      tftpRequest: o.tftpRequest ?? { blksize: 1428, tsize: true, timeoutSecs: 2, windowsize: 4 },
      maxBytes: MAX_FILE_BYTES,
      localAddress: o.iface.sourceAddress(),
    });
    this.trust = new TrustStore(o.nvram);
    const tvs = new TvsClient({ network: o.network, clock: o.clock, deviceName: tvsDeviceName(o.model.name, o.mac.deviceName) });
    this.provisioning = new Provisioning({ mac: o.mac, model: o.model, network: o.network, clock: o.clock, nvram: o.nvram, fetcher, trust: this.trust, tvs, emit: (...a) => this.emit(...a) });
    this.dhcp = new DhcpClient({
      mac: o.mac,
      vendorClass: vendorClassFor(o.model),
      hostName: o.mac.deviceName,
      network: o.network,
      clock: o.clock,
      renewByBroadcast: !o.iface.ownsAddress,
      onEvent: (e) => this.onDhcpEvent(e),
    });
  }

  get status(): PhoneStatus {
    return this.statusValue;
  }

  powerOn(): void {
    this.poweredOn = true;
    this.startCycle('power-on', 'dhcp');
  }

  /** Stops every activity of the current cycle and waits until it has. */
  async powerOff(): Promise<void> {
    // From here on nothing may start a new cycle (a service-control reset arriving late, say).
    this.poweredOn = false;
    this.cycle?.abort(new Aborted('power off'));
    await this.running;
    this.cycle = undefined;
  }

  /** A reset reboots from DHCP; a restart keeps the address and reads the configuration again. */
  reboot(kind: RebootKind, reason: string): void {
    if (!this.poweredOn) return;
    this.emit('reboot', 'start', 0, kind === 'reset' ? `Resetting (${reason})` : `Restarting (${reason})`, { kind, reason });
    this.startCycle(reason, kind === 'reset' ? 'dhcp' : 'config');
  }

  /** A user's restart (Settings > Restart, or the Restart softkey): read the configuration again. */
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
    this.emit('reboot', 'start', 0, 'Trust list erased', { kind: 'restart', reason: 'trust-list-erased' });
    this.startCycle('trust-list-erased', 'config');
  }

  /** Factory reset: NVRAM wiped (lease, settings, trust lists, last good file), then a reboot. */
  async factoryReset(): Promise<void> {
    if (!this.poweredOn) return;
    this.cycle?.abort(new Aborted('factory reset'));
    await this.running;
    const lease = this.net?.lease;
    if (lease && this.o.iface.ownsAddress) await this.o.iface.deconfigure({ address: lease.address, prefix: lease.prefix, router: undefined });
    await this.o.nvram.wipe();
    this.net = undefined;
    this.emit('reboot', 'start', 0, 'Factory reset', { kind: 'reset', reason: 'factory-reset' });
    this.startCycle('factory-reset', 'dhcp');
  }

  private startCycle(reason: string, from: 'dhcp' | 'config'): void {
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
        this.emit('power', 'fail', 0, `Firmware error: ${(e as Error).message}`, { error: (e as Error).stack });
      }
    })();
  }

  // ---- events -----------------------------------------------------------------------------------

  private emit(step: BootStep, state: StepState, ms: number, message: string, detail: Record<string, unknown> = {}): void {
    const e: PhoneEvent = { step, state, ms: Math.round(ms), t: Math.round(this.o.clock.now() - this.bootAt), message, ...detail };
    this.statusValue = applyEvent(this.statusValue, e);
    this.o.onEvent?.(e);
    this.o.onStatus?.(this.statusValue);
  }

  private onDhcpEvent(e: DhcpEvent): void {
    const ms = this.o.clock.now() - this.dhcpStepStart;
    switch (e.kind) {
      case 'send':
        return this.emit('dhcp', 'progress', ms, `DHCP ${e.type}${e.attempt > 1 ? ` (try ${e.attempt})` : ''}`, { dhcp: e.type.toLowerCase(), attempt: e.attempt });
      case 'offer':
        return this.emit('dhcp', 'progress', ms, `Offer ${e.address} from ${e.from}`, { dhcp: 'offer', offered: e.address, server: e.from });
      case 'nak':
        return this.emit('dhcp', 'progress', ms, `DHCP server ${e.from} said NAK: ${e.message}`, { dhcp: 'nak' });
      case 'reuse':
        return this.emit('dhcp', 'progress', ms, `No DHCP answer; keeping ${e.address} (${e.remainingSecs} s left)`, { dhcp: 'reuse' });
      case 'ignored':
        return this.emit('dhcp', 'progress', ms, `Ignored: ${e.reason}`, { dhcp: 'ignored' });
      default:
        return;
    }
  }

  // ---- the cycle --------------------------------------------------------------------------------

  private async boot(reason: string, from: 'dhcp' | 'config', signal: AbortSignal): Promise<void> {
    this.bootAt = this.o.clock.now();
    const o = this.o;
    this.emit('power', 'start', 0, `${o.model.name} ${o.model.activeLoad}`, { reason, mac: o.mac.hex, model: o.model.name, load: o.model.activeLoad });
    await o.nvram.write('boot', { lastReason: reason, at: new Date(o.clock.now()).toISOString() });
    const settings = { ...(await loadSettings(o.nvram)), ...o.settingsOverride };
    await this.trust.load();
    const bad = validateSettings(settings);
    if (bad) {
      this.emit('power', 'fail', 0, `Settings: ${bad}`);
      return;
    }
    if (from === 'dhcp' || !this.net) this.net = await this.configureNetwork(settings, signal);
    else this.emit('dhcp', 'done', 0, `Keeping IP ${this.net.address}`, { address: this.net.address, dhcp: 'kept' });
    const net = this.net;
    const sipReason = reason === 'power-on' ? 'power-on' : reason;
    let backoff = 5;
    for (;;) {
      const provisioned = await this.provisioning.run(net, signal);
      const rejected = await this.register(provisioned, net, sipReason, signal);
      this.emit('register', 'retry', 0, `Refused: ${rejected.reason}; retry in ${backoff} s`, { status: rejected.status, reason: rejected.reason, cm: rejected.member.address, inSecs: backoff });
      await o.clock.sleep(backoff * 1000, signal);
      backoff = Math.min(backoff * 2, 60);
    }
  }

  /** DHCP (or static settings), looping with backoff until the phone has an address. */
  private async configureNetwork(settings: PhoneSettings, signal: AbortSignal): Promise<NetContext> {
    const o = this.o;
    const elapsed = stepTimer(this.o.clock);
    this.dhcpStepStart = o.clock.now();
    if (!settings.dhcpEnabled) {
      await o.iface.configure({ address: settings.staticAddress, prefix: settings.staticPrefix, router: settings.staticRouter || undefined });
      this.emit('dhcp', 'done', elapsed(), `Static IP ${settings.staticAddress}`, { address: settings.staticAddress, dhcp: 'off' });
      return { lease: undefined, address: settings.staticAddress, dns: [], candidates: chooseTftpServers(settings, undefined) };
    }
    this.emit('dhcp', 'start', 0, `Configuring IP on ${o.iface.name}`);
    try {
      await o.iface.prepare();
    } catch (e) {
      this.emit('dhcp', 'fail', elapsed(), `Interface ${o.iface.name}: ${(e as Error).message}`);
      throw new Aborted('interface not usable');
    }
    const stored = await o.nvram.read<DhcpLease>('lease', isDhcpLease);
    let backoff = 10;
    for (;;) {
      let r: Awaited<ReturnType<DhcpClient['obtain']>>;
      try {
        r = await this.dhcp.obtain(stored, signal);
      } catch (e) {
        if (isAbort(e) || signal.aborted) throw e;
        r = { ok: false, failure: { reason: 'send-failed', message: (e as Error).message } };
      }
      if (r.ok) {
        const lease = r.lease;
        if (stored && stored.address !== lease.address && o.iface.ownsAddress) await o.iface.deconfigure({ address: stored.address, prefix: stored.prefix, router: undefined });
        await o.iface.configure({ address: lease.address, prefix: lease.prefix, router: lease.routers[0] });
        await o.nvram.write('lease', lease);
        this.emit('dhcp', 'done', elapsed(), `IP ${lease.address}/${lease.prefix} from ${lease.serverId}`, {
          address: lease.address, prefix: lease.prefix, router: lease.routers[0], server: lease.serverId, leaseSecs: lease.leaseSecs,
          option150: lease.tftpServers, option66: lease.tftpServerName, siaddr: lease.nextServer,
        });
        this.keepLease(lease, signal);
        return { lease, address: lease.address, dns: lease.dns, candidates: chooseTftpServers(settings, lease) };
      }
      this.emit('dhcp', 'retry', elapsed(), `${capitalize(r.failure.message)} on ${o.iface.name}; retry in ${backoff} s`, { reason: r.failure.reason, inSecs: backoff });
      await o.clock.sleep(backoff * 1000, signal);
      backoff = Math.min(backoff * 2, 120);
    }
  }

  /** Renews in the background for this cycle; a lost lease reboots the phone from DHCP. */
  private keepLease(lease: DhcpLease, signal: AbortSignal): void {
    const o = this.o;
    void this.dhcp
      .maintain(
        lease,
        signal,
        async (renewed) => {
          await o.nvram.write('lease', renewed);
          this.emit('dhcp', 'progress', 0, `Lease renewed: ${renewed.address} for ${renewed.leaseSecs} s`, { dhcp: 'renewed', leaseSecs: renewed.leaseSecs });
        },
        (why) => {
          if (signal.aborted) return;
          this.emit('dhcp', 'fail', 0, capitalize(why));
          void o.nvram.remove('lease.json').finally(() => this.reboot('reset', 'dhcp-lease-lost'));
        },
      )
      .catch(() => {});
  }

  /** Registers and stays registered; returns only when the call managers refuse the phone. */
  private async register(p: Provisioned, net: NetContext, lastReason: string, signal: AbortSignal) {
    const o = this.o;
    const elapsed = stepTimer(this.o.clock);
    const members: RegistrarMember[] = [];
    for (const m of p.config.callManagers) {
      try {
        const [address] = await o.network.resolve4(m.host, net.dns);
        if (address) members.push({ name: m.host, address, port: m.sipPort, priority: m.priority });
      } catch (e) {
        this.emit('register', 'progress', elapsed(), `CM ${m.host} not resolved: ${(e as Error).message}`);
      }
    }
    const line = p.config.kind === 'device' ? p.config.lines[0] : undefined;
    const sipStack = p.config.kind === 'device' ? p.config.sipStack : undefined;
    const reg = new SipRegistration({
      mac: o.mac,
      model: o.model,
      network: o.network,
      clock: o.clock,
      members,
      line,
      sipStack: sipStack ?? { timerRegisterExpires: 3600, timerRegisterDelta: 5, timerKeepAliveExpires: 120, timerT1: 500, timerT2: 4000 },
      lastReason,
      localAddress: o.iface.sourceAddress(),
      // A registration of an aborted cycle may still report on its way out; nobody needs to hear it.
      onEvent: (e) => (signal.aborted ? undefined : this.onRegistrationEvent(e, elapsed, p)),
      onServiceControl: (action) => {
        if (action === 'reset') this.reboot('reset', 'reset-reset');
        else if (action === 'restart') this.reboot('restart', 'reset-restart');
      },
    });
    this.emit('register', 'start', 0, `Registering ${reg.user}`, { user: reg.user, callId: reg.callId });
    if (members.length === 0) {
      return { kind: 'rejected' as const, status: 0, reason: 'no call manager address could be resolved', member: { name: p.config.callManagers[0]?.host ?? '?', address: '', port: 0, priority: 0 } };
    }
    return reg.run(signal);
  }

  private onRegistrationEvent(e: RegistrationEvent, elapsed: () => number, p: Provisioned): void {
    const cm = (m: RegistrarMember) => (m.name === m.address ? m.address : `${m.name} (${m.address})`);
    switch (e.kind) {
      case 'connecting':
        return this.emit('register', 'progress', elapsed(), `Connecting to CM ${cm(e.member)}:${e.member.port}`, { cm: e.member.address });
      case 'connect-failed':
        return this.emit('register', 'progress', elapsed(), `CM ${cm(e.member)} not reachable: ${e.reason}`, { cm: e.member.address, failed: true });
      case 'challenged':
        return this.emit('register', 'progress', elapsed(), `CM asks for a password (realm ${e.realm})`, { cm: e.member.address });
      case 'registered':
        return this.emit('register', 'done', elapsed(), `Registered ${e.user} with ${cm(e.member)}`, {
          cm: e.member.address, line: e.user, expires: e.expires, configKind: p.config.kind, file: p.file, priority: e.member.priority,
        });
      case 'refreshed':
        return this.emit('register', 'progress', 0, `Registration refreshed (${e.expires} s)`, { cm: e.member.address, expires: e.expires, refreshed: true });
      case 'rejected':
        return this.emit('register', 'progress', elapsed(), `CM ${cm(e.member)} refused: ${e.status} ${e.reason}`, { cm: e.member.address, status: e.status });
      case 'lost':
        return this.emit('register', 'fail', 0, `Lost CM ${cm(e.member)}: ${e.reason}`, { cm: e.member.address });
      case 'backup':
        return e.ok ? undefined : this.emit('register', 'progress', 0, `Backup CM ${cm(e.member)} keep-alive failed: ${e.detail}`, { backup: e.member.address });
      case 'service-control':
        return this.emit('register', 'progress', 0, e.accepted ? `CM requests ${e.action}` : `Ignored ${e.action} request for another registration`, { serviceControl: e.action, accepted: e.accepted });
      case 'retry':
        return this.emit('register', 'retry', 0, `${capitalize(e.reason)}; retry in ${e.inSecs} s`, { inSecs: e.inSecs });
    }
  }
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
