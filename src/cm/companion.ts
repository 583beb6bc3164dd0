/**
 * The companion call manager: one process, one data folder, one SQLite database, serving DHCP,
 * TFTP and HTTP 6970 (files generated from the database), a SIP registrar, and the admin API.
 *
 * Data folder layout: companion.sqlite (+ -wal/-shm), companion.pid (one server per folder),
 * admin.sock and admin.token (the admin API), pki/ (keys and certificates, see pki.ts),
 * tftp-root/ (empty: files come from memory).
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MacAddress } from '../wire/mac.ts';
import { modelByName } from '../wire/models.ts';
import { AdminApi, ApiError, loadOrCreateToken } from './admin-api.ts';
import type { CompanionConfig } from './config.ts';
import { CompanionDb, type PhoneRecord } from './db.ts';
import { DhcpService } from './dhcp-service.ts';
import { HttpFileService, TftpService } from './file-services.ts';
import { CompanionPki, type PkiRole } from './pki.ts';
import { ProvisioningFiles, ROLLBACK_SETTING } from './provisioning-files.ts';
import { Registrar } from './registrar.ts';
import { TrustFiles } from './trust-files.ts';
import { TvsServer } from './tvs-server.ts';
import { Role, roleName } from '../wire/tlv.ts';

export interface CompanionOptions {
  dataDir: string;
  config: CompanionConfig;
  /** The serving interface, when known (DHCP replies need a broadcast route through it). */
  iface?: string | undefined;
  /** One line per protocol event, already in words. */
  log: (line: string) => void;
}

export interface PhoneView extends Omit<PhoneRecord, 'password'> {
  deviceName: string;
  hasPassword: boolean;
  registered: boolean;
  registeredFrom: string | undefined;
  activeLoad: string | undefined;
  lease: string | undefined;
}

const VERSION = '0.1.0';

export class Companion {
  private readonly o: CompanionOptions;
  private db: CompanionDb | undefined;
  private files: ProvisioningFiles | undefined;
  private dhcp: DhcpService | undefined;
  private tftp: TftpService | undefined;
  private http: HttpFileService | undefined;
  private registrar: Registrar | undefined;
  private api: AdminApi | undefined;
  private pki: CompanionPki | undefined;
  private tvs: TvsServer | undefined;
  private startedAt = 0;
  private lockPath = '';

  constructor(o: CompanionOptions) {
    this.o = o;
  }

  get config(): CompanionConfig {
    return this.o.config;
  }

  private get store(): CompanionDb {
    if (!this.db) throw new Error('companion not started');
    return this.db;
  }

  async start(): Promise<void> {
    const { dataDir, config, log } = this.o;
    await mkdir(join(dataDir, 'tftp-root'), { recursive: true, mode: 0o700 });
    await this.lock();
    try {
      this.db = new CompanionDb(dataDir);
      for (const p of config.phones) if (!this.store.phone(p.mac)) this.addPhone({ ...p });
      if (config.security.mode !== 'none') {
        this.pki = await CompanionPki.open(dataDir, config.address);
        this.tvs = new TvsServer(this.pki, config.security.tvsTtlSecs, (e) => log(`tvs ${e.from} ${e.device || '-'}: ${e.result} ${e.detail}`));
        await this.tvs.start(config.address, config.security.tvsPort);
      }
      this.files = new ProvisioningFiles(this.store, config, this.pki && new TrustFiles(this.pki, config));
      const fileLog = (e: { via: string; name: string; from: string; result: string; bytes?: number }) =>
        log(`${e.via} ${e.from} ${e.name}: ${e.result}${e.bytes !== undefined ? ` (${e.bytes} bytes)` : ''}`);
      if (config.http.enabled) {
        this.http = new HttpFileService(this.files, fileLog);
        await this.http.start(config.address, config.http.port);
      }
      if (config.tftp.enabled) {
        this.tftp = new TftpService(this.files, fileLog);
        await this.tftp.start(config.address, config.tftp.port, join(dataDir, 'tftp-root'));
      }
      if (config.sip.enabled) {
        this.registrar = new Registrar(this.store, config, (e) => log(`sip ${e.method} ${e.device || '-'} from ${e.from}: ${e.status} ${e.detail}`));
        await this.registrar.start(config.sip.listen, config.sip.port);
      }
      if (config.dhcp.enabled) {
        this.dhcp = new DhcpService(this.store, config, (e) => log(`dhcp ${e.type} ${e.mac}${e.address ? ` ${e.address}` : ''}${e.detail ? ` (${e.detail})` : ''}`));
        await this.dhcp.ensureBroadcastRoute(this.o.iface);
        await this.dhcp.start();
      }
      this.api = new AdminApi(this, dataDir, await loadOrCreateToken(dataDir));
      await this.api.start();
      this.startedAt = Date.now();
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  async stop(): Promise<void> {
    await this.api?.stop().catch(() => {});
    await this.dhcp?.stop().catch(() => {});
    await this.registrar?.stop().catch(() => {});
    await this.tftp?.stop().catch(() => {});
    await this.http?.stop().catch(() => {});
    await this.tvs?.stop().catch(() => {});
    this.db?.close();
    this.db = undefined;
    this.api = this.dhcp = this.registrar = this.tftp = this.http = this.tvs = undefined;
    this.pki = undefined;
    if (this.lockPath) await rm(this.lockPath, { force: true });
    this.lockPath = '';
  }

  /** One server per data folder: a pid file created exclusively, taken over only from a dead owner. */
  private async lock(): Promise<void> {
    const path = join(this.o.dataDir, 'companion.pid');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await open(path, 'wx', 0o600);
        await fh.writeFile(`${process.pid}\n`);
        await fh.close();
        this.lockPath = path;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
        if (pid > 0 && pid !== process.pid && alive(pid)) throw new Error(`another companion (pid ${pid}) is serving ${this.o.dataDir}`);
        await rm(path, { force: true });
      }
    }
    throw new Error(`cannot lock ${path}`);
  }

  // ---- admin operations (the API calls these) ----------------------------------------------

  status() {
    const c = this.o.config;
    const phones = this.store.phones();
    const now = Date.now();
    const registered = this.store.registrations().filter((r) => r.expiresAt > now);
    return {
      version: VERSION,
      pid: process.pid,
      uptimeSecs: Math.round((now - this.startedAt) / 1000),
      address: c.address,
      services: {
        dhcp: c.dhcp.enabled ? { pool: `${c.dhcp.poolFirst}-${c.dhcp.poolLast}`, option150: c.dhcp.option150, option66: c.dhcp.option66, counters: this.dhcp?.counters } : false,
        tftp: c.tftp.enabled ? { port: c.tftp.port } : false,
        http: c.http.enabled ? { port: c.http.port } : false,
        sip: c.sip.enabled ? { listen: `${c.sip.listen}:${c.sip.port}`, expires: c.sip.expires } : false,
        tvs: this.tvs ? { port: c.security.tvsPort } : false,
      },
      security: { mode: c.security.mode, rollback: this.store.setting(ROLLBACK_SETTING) === 'on' },
      callManagers: c.callManagers,
      autoRegistration: c.autoRegistration,
      phones: phones.length,
      registered: registered.length,
      leases: this.store.leases().filter((l) => l.state === 'bound' && l.expiresAt > now).length,
    };
  }

  private view(p: PhoneRecord): PhoneView {
    const deviceName = `SEP${p.mac}`;
    const reg = this.store.registration(deviceName);
    const lease = this.store.lease(p.mac);
    const { password, ...rest } = p;
    return {
      ...rest,
      deviceName,
      hasPassword: password !== '',
      registered: !!reg && reg.expiresAt > Date.now(),
      registeredFrom: reg?.source,
      activeLoad: reg?.activeLoad || undefined,
      lease: lease?.state === 'bound' ? lease.address : undefined,
    };
  }

  listPhones(): PhoneView[] {
    return this.store.phones().map((p) => this.view(p));
  }

  private find(id: string): PhoneRecord {
    const mac = MacAddress.parse(id);
    const p = mac && this.store.phone(mac.hex);
    if (!p) throw new ApiError(404, `no phone ${id}`);
    return p;
  }

  showPhone(id: string): PhoneView {
    return this.view(this.find(id));
  }

  addPhone(b: Record<string, unknown>): PhoneView {
    const mac = MacAddress.parse(String(b['mac'] ?? ''));
    if (!mac) throw new ApiError(400, 'mac must be a MAC address (001122334455, 00:11:22:33:44:55 or SEP001122334455)');
    const model = String(b['model'] ?? '');
    if (!modelByName(model)) throw new ApiError(400, `model must be one of the known models, not "${model}"`);
    if (this.store.phone(mac.hex)) throw new ApiError(409, `${mac.deviceName} already exists`);
    const a = this.o.config.autoRegistration;
    const dn = b['dn'] === undefined || b['dn'] === '' ? this.store.nextFreeDn(a.dnFirst, a.dnLast) : String(b['dn']);
    if (!dn || !/^[0-9*#+]{1,24}$/.test(dn)) throw new ApiError(400, dn ? `dn "${dn}" is not a directory number` : 'no free directory number');
    const holder = this.store.phoneByDn(dn);
    if (holder) throw new ApiError(409, `directory number ${dn} belongs to SEP${holder.mac}`);
    const description = String(b['description'] ?? '');
    const password = String(b['password'] ?? '');
    if (description.length > 128 || password.length > 64) throw new ApiError(400, 'description or password too long');
    const record: PhoneRecord = { mac: mac.hex, model, dn, description, password, autoregistered: false, createdAt: new Date().toISOString(), versionStamp: `${Date.now()}-${randomBytes(8).toString('hex')}` };
    this.store.addPhone(record);
    this.o.log(`admin added ${mac.deviceName} (${model}) with DN ${dn}`);
    return this.view(record);
  }

  removePhone(id: string): void {
    const p = this.find(id);
    this.store.removePhone(p.mac);
    this.o.log(`admin removed SEP${p.mac}`);
  }

  // ---- trust (ITL, TVS) -----------------------------------------------------------------------

  private get trustPki(): CompanionPki {
    if (!this.pki) throw new ApiError(409, 'security mode is none: no trust lists or TVS');
    return this.pki;
  }

  trustStatus() {
    const pki = this.trustPki;
    const own = (['sast', 'tftp', 'tvs'] as const).map((r) => {
      const f = pki.get(r).facts;
      return { name: r, roles: [r === 'sast' ? 'SAST' : r === 'tftp' ? 'CCM+TFTP' : 'TVS'], subject: f.subject, serial: Buffer.from(f.serial).toString('hex'), sha256: f.sha256, notAfter: f.notAfter.toISOString(), source: 'own' };
    });
    const imported = pki.trusted().map((t) => ({ name: t.note, roles: t.roles.map(roleName), subject: t.facts.subject, serial: Buffer.from(t.facts.serial).toString('hex'), sha256: t.facts.sha256, notAfter: t.facts.notAfter.toISOString(), source: 'imported' }));
    return { mode: this.o.config.security.mode, digest: this.o.config.security.digest, rollback: this.store.setting(ROLLBACK_SETTING) === 'on', certificates: [...own, ...imported] };
  }

  exportCertificate(role: string): { pem: string } {
    if (role !== 'sast' && role !== 'tftp' && role !== 'tvs') throw new ApiError(400, 'role must be sast, tftp or tvs');
    return { pem: this.trustPki.get(role as PkiRole).certPem };
  }

  async importCertificate(b: Record<string, unknown>) {
    const pem = String(b['pem'] ?? '');
    const roles = (Array.isArray(b['roles']) ? b['roles'] : []).map((r) => String(r).toUpperCase());
    const codes = roles.map((r) => ({ SAST: Role.SAST, CCM: Role.CCM, 'CCM+TFTP': Role.CCM_TFTP, TFTP: Role.TFTP, CAPF: Role.CAPF, 'APP-SERVER': Role.APP_SERVER, TVS: Role.TVS })[r]);
    if (codes.length === 0 || codes.some((c) => c === undefined)) throw new ApiError(400, 'roles must list SAST, CCM, CCM+TFTP, TFTP, CAPF, APP-SERVER or TVS');
    let der: Buffer;
    try {
      der = new X509Certificate(pem).raw;
    } catch {
      throw new ApiError(400, 'pem must be a PEM certificate');
    }
    const t = await this.trustPki.importTrusted(der, codes as number[], String(b['note'] ?? 'imported'));
    this.o.log(`admin imported ${t.facts.subject} for TVS as ${roles.join(',')}`);
    return { subject: t.facts.subject, sha256: t.facts.sha256, roles };
  }

  async rotateTftpCertificate() {
    const next = await this.trustPki.rotateTftp();
    this.o.log(`admin rotated the TFTP (CallManager) certificate: now ${next.facts.sha256.slice(0, 16)}…`);
    return { subject: next.facts.subject, sha256: next.facts.sha256 };
  }

  setRollback(on: boolean) {
    if (!this.pki) throw new ApiError(409, 'security mode is none: there is no ITL to roll back');
    this.store.setSetting(ROLLBACK_SETTING, on ? 'on' : 'off');
    this.o.log(`admin turned ITL rollback ${on ? 'on: phones get an empty ITL and may leave' : 'off'}`);
    return { rollback: on };
  }

  async resetPhone(id: string, action: 'reset' | 'restart'): Promise<{ ok: boolean; detail: string }> {
    const p = this.find(id);
    if (!this.registrar) throw new ApiError(409, 'the SIP registrar is not running');
    const r = await this.registrar.sendServiceControl(`SEP${p.mac}`, action);
    if (!r.ok) throw new ApiError(409, `SEP${p.mac}: ${r.detail}`);
    return r;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
