/**
 * The network step of every boot, whatever the persona: DHCP (or the static settings) until the
 * phone has an address, the lease kept in NVRAM and renewed in the background for the cycle,
 * and DHCP's own events turned into step events. A lost lease is the firmware's to act on (it
 * reboots from DHCP).
 */
import type { MacAddress } from '../wire/mac.ts';
import type { PhoneModel } from '../wire/models.ts';
import { vendorClassFor } from '../wire/models.ts';
import { isAbort } from '../common/abort.ts';
import { Backoff } from '../common/backoff.ts';
import type { Clock } from '../common/clock.ts';
import { DhcpClient, type DhcpEvent, type DhcpLease, isDhcpLease } from './dhcp-client.ts';
import type { Nvram } from './nvram.ts';
import type { InterfacePort, NetworkPort } from './ports.ts';
import { type NetContext, type Report, stepTimer } from './provisioning.ts';
import { DHCP_RETRY } from './retries.ts';
import type { PhoneSettings } from './settings.ts';
import { chooseTftpServers } from './tftp-server-choice.ts';

export interface NetworkStepOptions {
  mac: MacAddress;
  model: PhoneModel;
  network: NetworkPort;
  iface: InterfacePort;
  clock: Clock;
  nvram: Nvram;
  waitScale: number;
  report: Report;
  /** DHCP option 60 as sent; the model's Cisco vendor class unless said (a Multiplatform phone's differs). */
  vendorClass?: string;
  /** Options asked for beyond the Cisco list (159 and 160 on a Multiplatform phone). */
  extraRequested?: readonly number[];
}

export class InterfaceUnusable extends Error {
  override name = 'AbortError';
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export class NetworkStep {
  private readonly o: NetworkStepOptions;
  private readonly dhcp: DhcpClient;
  private stepStart = 0;

  constructor(o: NetworkStepOptions) {
    this.o = o;
    this.dhcp = new DhcpClient({
      mac: o.mac,
      vendorClass: o.vendorClass ?? vendorClassFor(o.model),
      ...(o.extraRequested ? { extraRequested: o.extraRequested } : {}),
      hostName: o.mac.deviceName,
      network: o.network,
      clock: o.clock,
      renewByBroadcast: !o.iface.ownsAddress,
      onEvent: (e) => this.onDhcpEvent(e),
    });
  }

  /** DHCP (or static settings), looping with DHCP_RETRY until the phone has an address. */
  async configure(settings: PhoneSettings, signal: AbortSignal): Promise<NetContext> {
    const { o } = this;
    const elapsed = stepTimer(o.clock);
    this.stepStart = o.clock.now();
    if (!settings.dhcpEnabled) {
      await o.iface.configure({ address: settings.staticAddress, prefix: settings.staticPrefix, router: settings.staticRouter || undefined });
      o.report({ step: 'dhcp', state: 'done', ms: elapsed(), message: `Static IP ${settings.staticAddress}`, dhcp: 'off', address: settings.staticAddress });
      return { lease: undefined, address: settings.staticAddress, dns: [], candidates: chooseTftpServers(settings, undefined) };
    }
    o.report({ step: 'dhcp', state: 'start', ms: 0, message: `Configuring IP on ${o.iface.name}`, iface: o.iface.name });
    try {
      await o.iface.prepare();
    } catch (e) {
      const reason = (e as Error).message;
      o.report({ step: 'dhcp', state: 'fail', ms: elapsed(), message: `Interface ${o.iface.name}: ${reason}`, dhcp: 'interface', reason });
      throw new InterfaceUnusable('interface not usable');
    }
    const stored = await o.nvram.read<DhcpLease>('lease', isDhcpLease);
    const backoff = new Backoff(DHCP_RETRY, o.clock, { scale: o.waitScale });
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
        o.report({
          step: 'dhcp', state: 'done', ms: elapsed(), message: `IP ${lease.address}/${lease.prefix} from ${lease.serverId}`, dhcp: 'lease',
          address: lease.address, prefix: lease.prefix, ...(lease.routers[0] ? { router: lease.routers[0] } : {}), server: lease.serverId, leaseSecs: lease.leaseSecs,
          option150: lease.tftpServers, ...(lease.tftpServerName ? { option66: lease.tftpServerName } : {}), siaddr: lease.nextServer,
        });
        return { lease, address: lease.address, dns: lease.dns, candidates: chooseTftpServers(settings, lease) };
      }
      const inSecs = backoff.delaySecs;
      o.report({ step: 'dhcp', state: 'retry', ms: elapsed(), message: `${capitalize(r.failure.message)} on ${o.iface.name}; retry in ${inSecs} s`, reason: r.failure.reason, inSecs });
      await backoff.wait(signal);
    }
  }

  /** Renews in the background for this cycle; calls onLost when the lease is gone. */
  keepLease(lease: DhcpLease, signal: AbortSignal, onLost: () => void): void {
    const { o } = this;
    void this.dhcp
      .maintain(
        lease,
        signal,
        async (renewed) => {
          await o.nvram.write('lease', renewed);
          o.report({ step: 'dhcp', state: 'progress', ms: 0, message: `Lease renewed: ${renewed.address} for ${renewed.leaseSecs} s`, dhcp: 'renewed', address: renewed.address, leaseSecs: renewed.leaseSecs });
        },
        (why) => {
          if (signal.aborted) return;
          o.report({ step: 'dhcp', state: 'fail', ms: 0, message: capitalize(why), dhcp: 'lost', reason: why });
          void o.nvram.remove('lease.json').finally(onLost);
        },
      )
      .catch(() => {});
  }

  /** After a restart: goes on renewing the lease NVRAM holds (the newest renewal), else the one given. */
  async keepStoredLease(fallback: DhcpLease, signal: AbortSignal, onLost: () => void): Promise<void> {
    const stored = await this.o.nvram.read<DhcpLease>('lease', isDhcpLease);
    this.keepLease(stored?.address === fallback.address ? stored : fallback, signal, onLost);
  }

  private onDhcpEvent(e: DhcpEvent): void {
    const ms = Math.round(this.o.clock.now() - this.stepStart);
    const r = this.o.report;
    switch (e.kind) {
      case 'send':
        return r({ step: 'dhcp', state: 'progress', ms, message: `DHCP ${e.type}${e.attempt > 1 ? ` (try ${e.attempt})` : ''}`, dhcp: e.type === 'DISCOVER' ? 'discover' : 'request', attempt: e.attempt, to: e.to });
      case 'offer':
        return r({ step: 'dhcp', state: 'progress', ms, message: `Offer ${e.address} from ${e.from}`, dhcp: 'offer', offered: e.address, server: e.from });
      case 'nak':
        return r({ step: 'dhcp', state: 'progress', ms, message: `DHCP server ${e.from} said NAK: ${e.message}`, dhcp: 'nak', server: e.from, reason: e.message });
      case 'reuse':
        return r({ step: 'dhcp', state: 'progress', ms, message: `No DHCP answer; keeping ${e.address} (${e.remainingSecs} s left)`, dhcp: 'reuse', address: e.address, remainingSecs: e.remainingSecs });
      case 'ignored':
        return r({ step: 'dhcp', state: 'progress', ms, message: `Ignored: ${e.reason}`, dhcp: 'ignored', reason: e.reason });
      default:
        return;
    }
  }
}
