/**
 * The provisioning steps of an enterprise boot, one server at a time: the trust lists
 * (`CTLSEP<MAC>.tlv`, then `ITLSEP<MAC>.tlv` or `ITLFile.tlv`; absent is fine) and the
 * configuration file (`SEP<MAC>.cnf.xml`, else the model's default names), with the last good
 * configuration kept in NVRAM for when a newer one is refused. A file that says the full one is
 * encrypted (`encrConfig`, TFTP Encrypted Config) is followed by `<name>.enc.sgn`, checked like
 * any signed file and opened with the phone's LSC (lsc.ts). The trust rules themselves are
 * TrustStore's; TVS is asked through TvsClient. Which server, in which order, and how long to
 * wait between rounds is the enterprise flow's business (flows/enterprise.ts).
 */
import { type DeviceConfig, type PhoneConfig, parsePhoneConfig } from '../wire/cnf-xml.ts';
import { openEncryptedConfig, parseEncryptedConfig } from '../wire/enc-config.ts';
import { readLsc } from './lsc.ts';
import type { MacAddress } from '../wire/mac.ts';
import type { PhoneModel } from '../wire/models.ts';
import { roleName } from '../wire/tlv.ts';
import type { Clock } from '../common/clock.ts';
import type { DhcpLease } from './dhcp-client.ts';
import type { StepReport } from './events.ts';
import type { Nvram } from './nvram.ts';
import type { FetchResult, ProvisioningFetcher } from './provisioning-fetcher.ts';
import type { TftpCandidate } from './tftp-server-choice.ts';
import type { TrustStore, TvsAnswer } from './trust-store.ts';
import type { TvsClient, TvsTarget } from './tvs-client.ts';

export type Report = (e: StepReport) => void;

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
  /** The full file came encrypted for this phone's LSC and was opened. */
  encrypted?: boolean;
  /** What the registration reports as the configuration's kind: a Multiplatform phone's is `profile`. */
  configKind?: 'profile';
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
  return () => Math.round(clock.now() - start);
}

export type TrustOutcome = { kind: 'ok' } | { kind: 'failed'; message: string } | { kind: 'tvs-down'; message: string };
export type ConfigOutcome = { kind: 'ok'; value: Provisioned } | { kind: 'failed'; message: string } | { kind: 'absent'; message: string } | { kind: 'refused'; message: string };

export interface ProvisioningOptions {
  mac: MacAddress;
  model: PhoneModel;
  clock: Clock;
  nvram: Nvram;
  fetcher: ProvisioningFetcher;
  trust: TrustStore;
  tvs: TvsClient;
  report: Report;
}

export class Provisioning {
  private readonly o: ProvisioningOptions;

  constructor(o: ProvisioningOptions) {
    this.o = o;
  }

  /**
   * CTL, then ITL (the per-device name first): each found list goes to the trust store, which
   * installs or refuses it. A refused list leaves the installed one in place.
   */
  async fetchTrustLists(server: string, signal: AbortSignal): Promise<TrustOutcome> {
    const { o } = this;
    const elapsed = stepTimer(o.clock);
    o.report({ step: 'trust', state: 'start', ms: 0, message: 'Trust list', server });
    const lists: Array<{ kind: 'ctl' | 'itl'; names: string[] }> = [
      { kind: 'ctl', names: [`CTL${o.mac.deviceName}.tlv`] },
      { kind: 'itl', names: [`ITL${o.mac.deviceName}.tlv`, 'ITLFile.tlv'] },
    ];
    for (const { kind, names } of lists) {
      for (const name of names) {
        const r = await this.fetchLogged('trust', server, name, signal);
        if (r.kind === 'failed') {
          const message = `TFTP server ${server} not answering (${name}: ${r.detail})`;
          o.report({ step: 'trust', state: 'fail', ms: elapsed(), message, file: name, trust: 'server-down', server, reason: r.detail });
          return { kind: 'failed', message: `${server} not answering` };
        }
        if (r.kind !== 'found') continue;
        const d = kind === 'ctl' ? await o.trust.considerCtl(r.data) : await o.trust.considerItl(r.data, (cert) => this.askTvs(cert, server, signal));
        if (d.kind === 'tvs-unavailable') {
          const message = `${name} needs TVS: ${d.reason}`;
          o.report({ step: 'trust', state: 'retry', ms: elapsed(), message, file: name, tvs: 'unavailable', reason: d.reason });
          return { kind: 'tvs-down', message };
        }
        if (d.kind === 'refused') o.report({ step: 'trust', state: 'fail', ms: elapsed(), message: `${name} refused: ${d.reason}`, file: name, trust: 'refused', reason: d.reason });
        else if (d.kind === 'installed') {
          const roles = d.list.records.map((x) => (x.role === undefined ? '?' : roleName(x.role))).join(', ');
          o.report({ step: 'trust', state: 'progress', ms: elapsed(), message: `${name} installed (${d.how}): ${roles || 'empty'}`, file: name, trust: 'installed', how: d.how, records: d.list.records.length });
        }
        break;
      }
    }
    const summary = o.trust.summary().join(', ');
    const signedFiles = o.trust.needsSignedFiles;
    o.report({ step: 'trust', state: 'done', ms: elapsed(), message: signedFiles ? `Trust list: ${summary}; files must be signed` : `Trust list: ${summary}`, server, signedFiles });
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
    const message = answer.kind === 'unreachable'
      ? `TVS: ${answer.reason}`
      : `TVS ${answer.server ?? ''} says ${answer.kind}${answer.kind === 'valid' ? ` (${answer.roles.map(roleName).join(', ')}, ${answer.ttlSecs} s)` : ''}`;
    this.o.report({ step: 'trust', state: 'progress', ms: 0, message, tvs: answer.kind, ...(answer.server ? { server: answer.server } : {}) });
    return answer;
  }

  async fetchConfig(server: string, signal: AbortSignal): Promise<ConfigOutcome> {
    const { o } = this;
    const elapsed = stepTimer(o.clock);
    // With a TFTP certificate installed, every file is asked for signed (reference §3.2).
    const signed = o.trust.needsSignedFiles;
    const names = [`${o.mac.deviceName}.cnf.xml`, ...o.model.defaultConfigNames].map((n) => (signed ? `${n}.sgn` : n));
    o.report({ step: 'config', state: 'start', ms: 0, message: `Requesting ${names[0]}`, server, file: names[0]! });
    for (const name of names) {
      const r = await this.fetchLogged('config', server, name, signal);
      if (r.kind === 'failed') return { kind: 'failed', message: `${name}: ${r.detail}` };
      if (r.kind === 'absent') continue;
      let content: Uint8Array = r.data;
      if (signed) {
        const check = o.trust.checkSignedFile(r.data, name);
        if (!check.ok) {
          o.report({ step: 'config', state: 'fail', ms: elapsed(), message: `${name} refused: ${check.reason}`, file: name, error: 'signature', reason: check.reason });
          return { kind: 'refused', message: `${name} refused` };
        }
        content = check.body;
      }
      const parsed = parsePhoneConfig(content);
      if (!parsed.ok) {
        const e = parsed.error;
        o.report({ step: 'config', state: 'fail', ms: elapsed(), message: `${name} refused: ${e.message}`, file: name, error: e.code, reason: e.message, ...(e.at === undefined ? {} : { at: e.at }) });
        return { kind: 'refused', message: `${name} refused` };
      }
      let config = parsed.value;
      let encrypted = false;
      let xml = Buffer.from(content).toString('utf8');
      if (config.kind === 'device' && config.security.encrConfig) {
        const opened = await this.openEncrypted(server, config, signal);
        if (opened.kind === 'failed') return opened;
        if (opened.kind === 'refused') return opened;
        if (opened.kind === 'cannot-open') {
          // CAPF comes first (the flow runs it when capfAuthMode asks); the short file is all there is.
          o.report({ step: 'config', state: 'progress', ms: elapsed(), message: `${name}: full configuration encrypted for a certificate this phone lacks (${opened.reason})`, file: name, encrypted: false, certHash: config.security.certHash, reason: opened.reason });
          return { kind: 'ok', value: { config, file: name, server } };
        }
        config = opened.config;
        xml = opened.xml;
        encrypted = true;
      }
      if (config.kind === 'device' && config.deviceProtocol !== 'SIP') {
        o.report({ step: 'config', state: 'fail', ms: elapsed(), message: `${name} is for ${config.deviceProtocol}; this phone runs SIP`, file: name, error: 'protocol', reason: `device protocol ${config.deviceProtocol}` });
        return { kind: 'refused', message: `${name} is not a SIP configuration` };
      }
      await this.keepLastGood({ file: name, server, xml });
      const members = config.callManagers.map((m) => m.host).join(', ');
      o.report({
        step: 'config', state: 'done', ms: elapsed(), message: `${name} via ${r.via.toUpperCase()}${signed ? ', signature good' : ''}${encrypted ? ', decrypted with the LSC' : ''}: CM ${members}`,
        file: name, server, via: r.via, configKind: config.kind, callManagers: config.callManagers.length, signed, ...(encrypted ? { encrypted } : {}),
      });
      return { kind: 'ok', value: { config, file: name, server, ...(encrypted ? { encrypted } : {}) } };
    }
    const tried = names.join(', ');
    const hint = signed ? '; the trust list asks for signed files: erase it (Settings) if the server changed' : o.model.defaultConfigNames.length ? '; is autoregistration off?' : '';
    return { kind: 'absent', message: `No configuration on ${server} (${tried} not found)${hint}` };
  }

  /**
   * `SEP<MAC>.cnf.xml.enc.sgn`: signed by a TFTP certificate of the trust list (always: an
   * encrypted file is a signed one), encrypted for the LSC whose hash the short file names.
   */
  private async openEncrypted(server: string, short: DeviceConfig, signal: AbortSignal): Promise<
    { kind: 'ok'; config: PhoneConfig; xml: string } | { kind: 'cannot-open'; reason: string } | { kind: 'failed'; message: string } | { kind: 'refused'; message: string }
  > {
    const { o } = this;
    const lsc = await readLsc(o.nvram);
    if (!lsc) return { kind: 'cannot-open', reason: 'no LSC' };
    if (short.security.certHash && lsc.certHash !== short.security.certHash) return { kind: 'cannot-open', reason: `its LSC is ${lsc.certHash.slice(0, 12)}…, the file is for ${short.security.certHash.slice(0, 12)}…` };
    const name = `${o.mac.deviceName}.cnf.xml.enc.sgn`;
    const elapsed = stepTimer(o.clock);
    const r = await this.fetchLogged('config', server, name, signal);
    if (r.kind === 'failed') return { kind: 'failed', message: `${name}: ${r.detail}` };
    const refuse = (error: string, reason: string) => {
      o.report({ step: 'config', state: 'fail', ms: elapsed(), message: `${name} refused: ${reason}`, file: name, error, reason });
      return { kind: 'refused' as const, message: `${name} refused` };
    };
    if (r.kind === 'absent') return refuse('absent', 'the configuration says it is encrypted, and the encrypted file is not there');
    const check = o.trust.checkSignedFile(r.data, name);
    if (!check.ok) return refuse('signature', check.reason);
    const enc = parseEncryptedConfig(r.data);
    if (!enc.ok) return refuse(enc.error.code, enc.error.message);
    const plain = openEncryptedConfig(enc.value, (w) => lsc.unwrap(w));
    if (!plain.ok) return refuse(plain.error.code, plain.error.message);
    const parsed = parsePhoneConfig(plain.value);
    if (!parsed.ok) return refuse(parsed.error.code, `decrypted, but ${parsed.error.message}`);
    if (parsed.value.kind !== 'device' || !parsed.value.fullConfig) return refuse('bad-element', 'decrypted, but it is not a full device configuration');
    return { kind: 'ok', config: parsed.value, xml: plain.value.toString('utf8') };
  }

  private async fetchLogged(step: 'trust' | 'config', server: string, name: string, signal: AbortSignal): Promise<FetchResult> {
    const elapsed = stepTimer(this.o.clock);
    const r = await this.o.fetcher.fetch(server, name, signal);
    const message = r.kind === 'found' ? `${name}: ${r.data.length} bytes via ${r.via.toUpperCase()}` : r.kind === 'absent' ? `${name}: not found` : `${name}: ${r.detail}`;
    const found = r.kind === 'found' ? { via: r.via, bytes: r.data.length } : {};
    this.o.report({ step, state: 'progress', ms: elapsed(), message, file: name, server, result: r.kind, detail: r.detail, ...found });
    return r;
  }

  /** One atomic document, written only when it changed: flash is slow to sync and wears. */
  private async keepLastGood(doc: LastGood): Promise<void> {
    const stored = await this.o.nvram.read<LastGood>('last-good-config', isLastGood);
    if (stored && stored.file === doc.file && stored.server === doc.server && stored.xml === doc.xml) return;
    await this.o.nvram.write('last-good-config', doc);
  }

  async lastGoodConfig(): Promise<Provisioned | undefined> {
    const doc = await this.o.nvram.read<LastGood>('last-good-config', isLastGood);
    if (!doc) return undefined;
    const parsed = parsePhoneConfig(doc.xml);
    return parsed.ok ? { config: parsed.value, file: doc.file, server: doc.server } : undefined;
  }
}
