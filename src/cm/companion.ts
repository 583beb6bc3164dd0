/**
 * The companion call manager: one process, one data folder, one SQLite database, serving DHCP,
 * TFTP and HTTP 6970 (files generated from the database), a SIP registrar, and the admin API.
 *
 * Data folder layout: companion.sqlite (+ -wal/-shm), companion.pid (one server per folder),
 * admin.sock and admin.token (the admin API), tftp-root/ (empty: files come from memory).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MacAddress } from '../wire/mac.ts';
import { modelByName } from '../wire/models.ts';
import { AdminApi, ApiError, loadOrCreateToken } from './admin-api.ts';
import type { CompanionConfig } from './config.ts';
import { CompanionDb, type PhoneRecord } from './db.ts';
import { DhcpService } from './dhcp-service.ts';
import { HttpFileService, TftpService } from './file-services.ts';
import { ProvisioningFiles } from './provisioning-files.ts';
import { Registrar } from './registrar.ts';

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
      this.files = new ProvisioningFiles(this.store, config);
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
    this.db?.close();
    this.db = undefined;
    this.api = this.dhcp = this.registrar = this.tftp = this.http = undefined;
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
      },
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
