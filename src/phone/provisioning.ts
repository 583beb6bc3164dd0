/**
 * The provisioning steps of the boot: from the first TFTP server that answers, the trust lists
 * (`CTLSEP<MAC>.tlv`, then `ITLSEP<MAC>.tlv` or `ITLFile.tlv`; absent is fine) and then the
 * configuration file (`SEP<MAC>.cnf.xml`, else the model's default names), looping with backoff
 * until a usable file is found. A refused file falls back to the last good one in NVRAM.
 */
import { type PhoneConfig, parsePhoneConfig } from '../wire/cnf-xml.ts';
import type { MacAddress } from '../wire/mac.ts';
import type { PhoneModel } from '../wire/models.ts';
import type { Clock } from './clock.ts';
import type { DhcpLease } from './dhcp-client.ts';
import type { BootStep, StepState } from './events.ts';
import type { Nvram } from './nvram.ts';
import type { NetworkPort } from './ports.ts';
import type { FetchResult, ProvisioningFetcher } from './provisioning-fetcher.ts';
import type { TftpCandidate } from './tftp-server-choice.ts';

export type Emit = (step: BootStep, state: StepState, ms: number, message: string, detail?: Record<string, unknown>) => void;

/** Where the phone's network settings came from in this cycle. */
export interface NetContext {
  lease: DhcpLease | undefined;
  address: string;
  dns: string[];
  candidates: TftpCandidate[];
}

export interface Provisioned {
  config: PhoneConfig;
  file: string;
  server: string;
}

/** The last configuration file the phone accepted, kept in NVRAM for when a newer one is refused. */
interface LastGood {
  file: string;
  server: string;
  xml: string;
}

const isLastGood = (v: unknown): v is LastGood => {
  const d = v as LastGood;
  return typeof v === 'object' && v !== null && typeof d.file === 'string' && typeof d.server === 'string' && typeof d.xml === 'string';
};

export function stepTimer(clock: Clock): () => number {
  const start = clock.now();
  return () => clock.now() - start;
}

export interface ProvisioningOptions {
  mac: MacAddress;
  model: PhoneModel;
  network: NetworkPort;
  clock: Clock;
  nvram: Nvram;
  fetcher: ProvisioningFetcher;
  emit: Emit;
}

export class Provisioning {
  private readonly o: ProvisioningOptions;

  constructor(o: ProvisioningOptions) {
    this.o = o;
  }

  /**
   * Trust lists then the configuration file, from the first TFTP server that answers; loops
   * with backoff until a usable configuration is found.
   */
  async run(net: NetContext, signal: AbortSignal): Promise<Provisioned> {
    let backoff = 5;
    let round = 0;
    for (;;) {
      round++;
      const r = await this.provisionOnce(net, signal);
      if (r.kind === 'ok') return r.value;
      const lastGood = r.kind === 'refused' ? await this.lastGoodConfig() : undefined;
      if (lastGood) {
        this.o.emit('config', 'done', 0, `Using last good ${lastGood.file}`, { file: lastGood.file, configKind: lastGood.config.kind, lastGood: true });
        return lastGood;
      }
      this.o.emit('config', 'retry', 0, `${r.message}; retry ${round + 1} in ${backoff} s`, { reason: r.kind, inSecs: backoff });
      await this.o.clock.sleep(backoff * 1000, signal);
      backoff = Math.min(backoff * 2, 120);
    }
  }

  private async provisionOnce(net: NetContext, signal: AbortSignal): Promise<{ kind: 'ok'; value: Provisioned } | { kind: 'no-server' | 'absent' | 'refused'; message: string }> {
    const o = this.o;
    if (net.candidates.length === 0) return { kind: 'no-server', message: 'No TFTP server: DHCP gave no option 150, 66 or siaddr' };
    const failures: string[] = [];
    for (const candidate of net.candidates) {
      const elapsed = stepTimer(this.o.clock);
      let server: string;
      try {
        const addrs = await o.network.resolve4(candidate.host, net.dns);
        if (!addrs[0]) throw new Error('no address');
        server = addrs[0];
      } catch (e) {
        failures.push(`${candidate.host}: name not resolved`);
        this.o.emit('tftp', 'fail', elapsed(), `TFTP server name ${candidate.host} (${candidate.source}) not resolved: ${(e as Error).message}`);
        continue;
      }
      const label = server === candidate.host ? server : `${candidate.host} (${server})`;
      this.o.emit('tftp', 'done', elapsed(), `TFTP server ${label} (${candidate.source})`, { server, source: candidate.source });

      const trust = await this.fetchTrustLists(server, signal);
      if (trust === 'failed') {
        failures.push(`${server} not answering`);
        continue;
      }
      const cfg = await this.fetchConfig(server, signal);
      if (cfg.kind === 'failed') {
        failures.push(`${server}: ${cfg.message}`);
        continue;
      }
      return cfg.kind === 'ok' ? cfg : { kind: cfg.kind, message: cfg.message };
    }
    return { kind: 'no-server', message: `TFTP server ${failures.join('; ')}` };
  }

  /** CTL, then ITL (per-device name first). Absent is fine; the trust issue verifies them. */
  private async fetchTrustLists(server: string, signal: AbortSignal): Promise<'ok' | 'failed'> {
    const o = this.o;
    const elapsed = stepTimer(this.o.clock);
    this.o.emit('trust', 'start', 0, 'Trust list');
    const names = [[`CTL${o.mac.deviceName}.tlv`], [`ITL${o.mac.deviceName}.tlv`, 'ITLFile.tlv']];
    for (const alternatives of names) {
      for (const name of alternatives) {
        const r = await this.fetchLogged('trust', server, name, signal);
        if (r.kind === 'failed') {
          this.o.emit('trust', 'fail', elapsed(), `TFTP server ${server} not answering (${name}: ${r.detail})`, { file: name, server });
          return 'failed';
        }
        if (r.kind === 'found') {
          // Kept for the trust issue, which verifies and installs it; not trusted yet.
          await o.nvram.writeBytes(`trust/received-${name.startsWith('CTL') ? 'ctl' : 'itl'}.tlv`, r.data);
          break;
        }
      }
    }
    this.o.emit('trust', 'done', elapsed(), 'Trust list checked', { server });
    return 'ok';
  }

  private async fetchConfig(server: string, signal: AbortSignal): Promise<{ kind: 'ok'; value: Provisioned } | { kind: 'failed' | 'absent' | 'refused'; message: string }> {
    const o = this.o;
    const elapsed = stepTimer(this.o.clock);
    const names = [`${o.mac.deviceName}.cnf.xml`, ...o.model.defaultConfigNames];
    this.o.emit('config', 'start', 0, `Requesting ${names[0]}`, { server });
    for (const name of names) {
      const r = await this.fetchLogged('config', server, name, signal);
      if (r.kind === 'failed') return { kind: 'failed', message: `${name}: ${r.detail}` };
      if (r.kind === 'absent') continue;
      const parsed = parsePhoneConfig(r.data);
      if (!parsed.ok) {
        this.o.emit('config', 'fail', elapsed(), `${name} refused: ${parsed.error.message}`, { file: name, error: parsed.error.code, at: parsed.error.at });
        return { kind: 'refused', message: `${name} refused` };
      }
      const config = parsed.value;
      if (config.kind === 'device' && config.deviceProtocol !== 'SIP') {
        this.o.emit('config', 'fail', elapsed(), `${name} is for ${config.deviceProtocol}; this phone runs SIP`, { file: name });
        return { kind: 'refused', message: `${name} is not a SIP configuration` };
      }
      this.reportLoad(config, name);
      await this.keepLastGood({ file: name, server, xml: r.data.toString('utf8') });
      const members = config.callManagers.map((m) => m.host).join(', ');
      this.o.emit('config', 'done', elapsed(), `${name} via ${r.via.toUpperCase()}: CM ${members}`, { file: name, via: r.via, configKind: config.kind, callManagers: config.callManagers.length });
      return { kind: 'ok', value: { config, file: name, server } };
    }
    const tried = names.join(', ');
    return { kind: 'absent', message: `No configuration on ${server} (${tried} not found)${o.model.defaultConfigNames.length ? '; is autoregistration off?' : ''}` };
  }

  private async fetchLogged(step: 'trust' | 'config', server: string, name: string, signal: AbortSignal): Promise<FetchResult> {
    const elapsed = stepTimer(this.o.clock);
    const r = await this.o.fetcher.fetch(server, name, signal);
    const words = r.kind === 'found' ? `${name}: ${r.data.length} bytes via ${r.via.toUpperCase()}` : r.kind === 'absent' ? `${name}: not found` : `${name}: ${r.detail}`;
    this.o.emit(step, 'progress', elapsed(), words, { file: name, result: r.kind, via: r.kind === 'found' ? r.via : undefined, bytes: r.kind === 'found' ? r.data.length : undefined, detail: r.detail, server });
    return r;
  }

  private reportLoad(config: PhoneConfig, file: string): void {
    const o = this.o;
    const wanted = config.kind === 'device' ? config.loadInformation : config.loads.find((l) => l.code === o.model.code)?.load ?? '';
    if (wanted && wanted !== o.model.activeLoad) {
      this.o.emit('config', 'progress', 0, `${file} asks for load ${wanted}; keeping ${o.model.activeLoad} (firmware upgrade not available)`, { wantedLoad: wanted });
    }
  }

  /** One atomic document, written only when it changed: flash is slow to sync and wears. */
  private async keepLastGood(doc: LastGood): Promise<void> {
    const stored = await this.o.nvram.read<LastGood>('last-good-config', isLastGood);
    if (stored && stored.file === doc.file && stored.server === doc.server && stored.xml === doc.xml) return;
    await this.o.nvram.write('last-good-config', doc);
  }

  private async lastGoodConfig(): Promise<Provisioned | undefined> {
    const doc = await this.o.nvram.read<LastGood>('last-good-config', isLastGood);
    if (!doc) return undefined;
    const parsed = parsePhoneConfig(doc.xml);
    return parsed.ok ? { config: parsed.value, file: doc.file, server: doc.server } : undefined;
  }
}
