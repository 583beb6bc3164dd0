/**
 * The provisioning steps of the boot: from the first TFTP server that answers, the trust lists
 * (`CTLSEP<MAC>.tlv`, then `ITLSEP<MAC>.tlv` or `ITLFile.tlv`; absent is fine) and then the
 * configuration file (`SEP<MAC>.cnf.xml`, else the model's default names), looping with backoff
 * until a usable file is found. A refused file falls back to the last good one in NVRAM. The
 * trust rules themselves are TrustStore's; TVS is asked through TvsClient.
 */
import { type PhoneConfig, parsePhoneConfig } from '../wire/cnf-xml.ts';
import type { MacAddress } from '../wire/mac.ts';
import type { PhoneModel } from '../wire/models.ts';
import type { Clock } from '../common/clock.ts';
import type { DhcpLease } from './dhcp-client.ts';
import type { BootStep, StepState } from './events.ts';
import type { Nvram } from './nvram.ts';
import type { NetworkPort } from './ports.ts';
import type { FetchResult, ProvisioningFetcher } from './provisioning-fetcher.ts';
import type { TftpCandidate } from './tftp-server-choice.ts';
import type { TrustStore, TvsAnswer } from './trust-store.ts';
import type { TvsClient, TvsTarget } from './tvs-client.ts';
import { roleName } from '../wire/tlv.ts';

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
  trust: TrustStore;
  tvs: TvsClient;
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

  private async provisionOnce(net: NetContext, signal: AbortSignal): Promise<{ kind: 'ok'; value: Provisioned } | { kind: 'no-server' | 'absent' | 'refused' | 'tvs-down'; message: string }> {
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
      if (trust.kind === 'failed') {
        failures.push(`${server} not answering`);
        continue;
      }
      // Without TVS the new list can be neither accepted nor refused: wait and ask again.
      if (trust.kind === 'tvs-down') return { kind: 'tvs-down', message: trust.message };
      const cfg = await this.fetchConfig(server, signal);
      if (cfg.kind === 'failed') {
        failures.push(`${server}: ${cfg.message}`);
        continue;
      }
      return cfg.kind === 'ok' ? cfg : { kind: cfg.kind, message: cfg.message };
    }
    return { kind: 'no-server', message: `TFTP server ${failures.join('; ')}` };
  }

  /**
   * CTL, then ITL (the per-device name first): each found list goes to the trust store, which
   * installs or refuses it. A refused list leaves the installed one in place.
   */
  private async fetchTrustLists(server: string, signal: AbortSignal): Promise<{ kind: 'ok' | 'failed' } | { kind: 'tvs-down'; message: string }> {
    const o = this.o;
    const elapsed = stepTimer(this.o.clock);
    this.o.emit('trust', 'start', 0, 'Trust list');
    const lists: Array<{ kind: 'ctl' | 'itl'; names: string[] }> = [
      { kind: 'ctl', names: [`CTL${o.mac.deviceName}.tlv`] },
      { kind: 'itl', names: [`ITL${o.mac.deviceName}.tlv`, 'ITLFile.tlv'] },
    ];
    for (const { kind, names } of lists) {
      for (const name of names) {
        const r = await this.fetchLogged('trust', server, name, signal);
        if (r.kind === 'failed') {
          this.o.emit('trust', 'fail', elapsed(), `TFTP server ${server} not answering (${name}: ${r.detail})`, { file: name, server });
          return { kind: 'failed' };
        }
        if (r.kind !== 'found') continue;
        const d = kind === 'ctl' ? await o.trust.considerCtl(r.data) : await o.trust.considerItl(r.data, (cert) => this.askTvs(cert, server, signal));
        if (d.kind === 'tvs-unavailable') {
          const message = `${name} needs TVS: ${d.reason}`;
          this.o.emit('trust', 'retry', elapsed(), message, { file: name, tvs: 'unavailable' });
          return { kind: 'tvs-down', message };
        }
        if (d.kind === 'refused') this.o.emit('trust', 'fail', elapsed(), `${name} refused: ${d.reason}`, { file: name, trust: 'refused', reason: d.reason });
        else if (d.kind === 'installed') {
          const roles = d.list.records.map((x) => (x.role === undefined ? '?' : roleName(x.role))).join(', ');
          this.o.emit('trust', 'progress', elapsed(), `${name} installed (${d.how}): ${roles || 'empty'}`, { file: name, trust: 'installed', how: d.how, records: d.list.records.length });
        }
        break;
      }
    }
    const summary = o.trust.summary().join(', ');
    this.o.emit('trust', 'done', elapsed(), o.trust.needsSignedFiles ? `Trust list: ${summary}; files must be signed` : `Trust list: ${summary}`, { server, signedFiles: o.trust.needsSignedFiles });
    return { kind: 'ok' };
  }

  /**
   * Where TVS is: the TVS members of the last good configuration, the addresses the ITL's TVS
   * records carry, then the TFTP server itself, all on 2445 unless the configuration says.
   */
  private async askTvs(cert: Uint8Array, tftpServer: string, signal: AbortSignal): Promise<TvsAnswer> {
    const targets: TvsTarget[] = [];
    const add = (host: string | undefined, port = 2445) => {
      if (host && !targets.some((t) => t.host === host && t.port === port)) targets.push({ host, port });
    };
    const last = await this.lastGoodConfig();
    for (const m of last?.config.tvs ?? []) add(m.address, m.port);
    const records = this.o.trust.tvsRecords();
    for (const r of records) add(r.dnsName ?? (r.ip?.length === 4 ? [...r.ip].join('.') : undefined));
    add(tftpServer);
    const answer = await this.o.tvs.verify(cert, targets, records.map((r) => r.certificate!), signal);
    this.o.emit('trust', 'progress', 0, answer.kind === 'unreachable' ? `TVS: ${answer.reason}` : `TVS ${answer.server ?? ''} says ${answer.kind}${answer.kind === 'valid' ? ` (${answer.roles.map(roleName).join(', ')}, ${answer.ttlSecs} s)` : ''}`, { tvs: answer.kind });
    return answer;
  }

  private async fetchConfig(server: string, signal: AbortSignal): Promise<{ kind: 'ok'; value: Provisioned } | { kind: 'failed' | 'absent' | 'refused'; message: string }> {
    const o = this.o;
    const elapsed = stepTimer(this.o.clock);
    // With a TFTP certificate installed, every file is asked for signed (reference §3.2).
    const signed = o.trust.needsSignedFiles;
    const names = [`${o.mac.deviceName}.cnf.xml`, ...o.model.defaultConfigNames].map((n) => (signed ? `${n}.sgn` : n));
    this.o.emit('config', 'start', 0, `Requesting ${names[0]}`, { server });
    for (const name of names) {
      const r = await this.fetchLogged('config', server, name, signal);
      if (r.kind === 'failed') return { kind: 'failed', message: `${name}: ${r.detail}` };
      if (r.kind === 'absent') continue;
      let content: Uint8Array = r.data;
      if (signed) {
        const check = o.trust.checkSignedFile(r.data, name);
        if (!check.ok) {
          this.o.emit('config', 'fail', elapsed(), `${name} refused: ${check.reason}`, { file: name, error: 'signature', reason: check.reason });
          return { kind: 'refused', message: `${name} refused` };
        }
        content = check.body;
      }
      const parsed = parsePhoneConfig(content);
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
      await this.keepLastGood({ file: name, server, xml: Buffer.from(content).toString('utf8') });
      const members = config.callManagers.map((m) => m.host).join(', ');
      this.o.emit('config', 'done', elapsed(), `${name} via ${r.via.toUpperCase()}${signed ? ', signature good' : ''}: CM ${members}`, { file: name, via: r.via, configKind: config.kind, callManagers: config.callManagers.length, signed });
      return { kind: 'ok', value: { config, file: name, server } };
    }
    const tried = names.join(', ');
    const hint = signed ? '; the trust list asks for signed files: erase it (Settings) if the server changed' : o.model.defaultConfigNames.length ? '; is autoregistration off?' : '';
    return { kind: 'absent', message: `No configuration on ${server} (${tried} not found)${hint}` };
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
