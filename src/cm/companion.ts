/**
 * The companion call manager: one process, one data folder (data-folder.ts), one SQLite
 * database, serving DHCP, TFTP and HTTP 6970 (files generated from the database, Multiplatform
 * profiles among them), a SIP registrar, TVS, the EDOS stand-in when configured, and the admin
 * API. This file only composes them; what an admin can do lives in admin/ as operations, which
 * a program running the companion in-process may also call directly (`companion.phones.add(…)`).
 */
import { type Clock, SystemClock } from '../common/clock.ts';
import { PhoneOperations } from './admin/phones.ts';
import type { AdminOperations } from './admin/routes.ts';
import { AdminServer } from './admin/server.ts';
import { StatusOperations } from './admin/status.ts';
import { TrustOperations } from './admin/trust.ts';
import type { CompanionConfig } from './config.ts';
import { openDataFolder } from './data-folder.ts';
import { CompanionDb } from './db.ts';
import { DhcpService } from './dhcp-service.ts';
import { type Endpoints, withBoundPorts } from './endpoints.ts';
import { type FileLogEntry, HttpFileService } from './file-services.ts';
import { StormLog } from './storm-log.ts';
import { activationLine, capfLine, dhcpLine, fileLine, sipLine, tvsLine } from './log-lines.ts';
import { CompanionPki } from './pki.ts';
import { ProvisioningFiles } from './provisioning-files.ts';
import { Registrar } from './registrar.ts';
import { TftpService } from './tftp-service.ts';
import { TrustFiles } from './trust-files.ts';
import { TvsServer } from './tvs-server.ts';
import { CapfServer } from './capf/capf-server.ts';
import { ActivationService } from './activation/activation-service.ts';
import { openOnboarding } from './activation/onboarding-parts.ts';
import type { OnboardingOperations } from './admin/onboarding.ts';
import { BulkOperations } from './admin/bulk.ts';
import { TemplateStore } from './bulk/templates.ts';
import { WebServer } from './web/web-server.ts';
import { TftpRoot } from './tftp-root.ts';
import { MppStore } from './edos/store.ts';
import { MppFileSource, MppProfiles } from './edos/profiles.ts';
import { MppOperations } from './edos/operations.ts';
import { EDOS_PATH, EdosServer, edosLine } from './edos/edos-server.ts';
import { openEdosIdentity } from './edos/identity.ts';
import { LoadOperations } from './admin/loads.ts';
import { IvrOperations } from './ivr/operations.ts';
import { IvrStore } from './ivr/store.ts';
import { TemplateOperations } from './templates/operations.ts';
import { UniversalTemplateStore } from './templates/store.ts';

export type { Endpoints } from './endpoints.ts';

export interface CompanionOptions {
  dataDir: string;
  config: CompanionConfig;
  /** The serving interface, when known (DHCP replies need a broadcast route through it). */
  iface?: string | undefined;
  /** One line per protocol event, already in words. */
  log: (line: string) => void;
  /** Leases, registrations, nonces, timestamps and timers; SystemClock unless given. */
  clock?: Clock;
}

export class Companion {
  private readonly o: CompanionOptions;
  private readonly clock: Clock;
  private running: { ops: AdminOperations; endpoints: Endpoints } | undefined;
  /** What start() brought up, undone in reverse by stop(). */
  private undo: Array<() => unknown> = [];

  constructor(o: CompanionOptions) {
    this.o = o;
    this.clock = o.clock ?? new SystemClock();
  }

  /** The bound ports (the kernel's choice where the configuration said 0). */
  get endpoints(): Endpoints {
    return { ...this.need().endpoints };
  }

  get phones(): PhoneOperations {
    return this.need().ops.phones;
  }

  get bulk(): BulkOperations {
    return this.need().ops.bulk;
  }

  get onboarding(): OnboardingOperations {
    return this.need().ops.onboarding;
  }

  get trust(): TrustOperations {
    return this.need().ops.trust;
  }

  get status(): StatusOperations {
    return this.need().ops.status;
  }

  get mpp(): MppOperations {
    return this.need().ops.mpp;
  }

  get loads(): LoadOperations {
    return this.need().ops.loads!;
  }

  get ivr(): IvrOperations {
    return this.need().ops.ivr!;
  }

  get templates(): TemplateOperations {
    return this.need().ops.templates!;
  }

  private need(): { ops: AdminOperations; endpoints: Endpoints } {
    if (!this.running) throw new Error('companion not started');
    return this.running;
  }

  async start(): Promise<void> {
    const { dataDir, config, log } = this.o;
    const clock = this.clock;
    this.undo.push(await openDataFolder(dataDir));
    try {
      const db = new CompanionDb(dataDir);
      this.undo.push(() => db.close());
      const endpoints: Endpoints = {};
      const registrar = config.sip.enabled ? new Registrar(db, config, (e) => log(sipLine(e)), clock, log) : undefined;
      const { store, activation, manufacturing, operations: onboarding } = await openOnboarding({ db, config, clock, log, dataDir });
      const phones = new PhoneOperations({ db, config, clock, log, serviceControl: registrar, onboarding: { store, activation } });
      phones.seed(config.phones);
      let pki: CompanionPki | undefined;
      if (config.security.mode !== 'none') {
        pki = await CompanionPki.open(dataDir, config.address, clock);
        const tvs = new TvsServer(pki, config.security.tvsTtlSecs, (e) => log(tvsLine(e)), clock);
        endpoints.tvs = await this.started(tvs, tvs.start(config.address, config.security.tvsPort));
        const capf = new CapfServer({ db, pki, log: (e) => log(capfLine(e)), limitLog: log, clock });
        endpoints.capf = await this.started(capf, capf.start(config.address, config.security.capfPort));
        const tftpServers = () => [config.address];
        const act = new ActivationService({ pki, trust: manufacturing, activation, clock, tftp: tftpServers, log: (e) => log(activationLine(e)) });
        endpoints.activation = await this.started(act, act.start(config.address, config.activation.port));
      }
      if (registrar) endpoints.sip = await this.started(registrar, registrar.start(config.sip.listen, config.sip.port));
      // The files name the call manager and TVS ports, so those are bound first.
      const onboardingFiles = endpoints.activation ? { store, serviceUrl: `https://${config.address}:${endpoints.activation}/emu-act/v1/` } : undefined;
      const files = new ProvisioningFiles(db, withBoundPorts(config, endpoints), pki && new TrustFiles(pki, config, clock), log, onboardingFiles, new TftpRoot(dataDir));
      // Multiplatform phones: their profiles on HTTP 6970 under /mpp/, and the EDOS stand-in.
      const mppStore = new MppStore(db);
      const mppProfiles = new MppProfiles({
        db, store: mppStore, config: withBoundPorts(config, endpoints), onboarding: store, log,
        loadUrl: (load) => (endpoints.http ? `http://${config.address}:${endpoints.http}/${load}.loads` : undefined),
      });
      // A line per file served, up to the storm budget: a boot storm asks for ten files a phone.
      const fileLog = new StormLog<FileLogEntry>({ write: (e) => log(fileLine(e)), summary: (text) => log(`files note (${text})`), clock });
      const logFile = (e: FileLogEntry) => fileLog.entry(`${e.via} ${e.result}`, e);
      if (config.http.enabled) {
        const http = new HttpFileService(new MppFileSource(files, mppProfiles), logFile, clock);
        endpoints.http = await this.started(http, http.start(config.address, config.http.port));
      }
      if (config.tftp.enabled) {
        const tftp = new TftpService(files, logFile, { clock });
        endpoints.tftp = await this.started(tftp, tftp.start(config.address, config.tftp.port));
      }
      let edos: EdosServer | undefined;
      if (config.edos.enabled) {
        const identity = await openEdosIdentity({ dataDir, factoryDir: config.edos.factory, addresses: [config.address], now: clock.now(), log });
        edos = new EdosServer({ store: mppStore, identity, trustedCas: () => [identity.ca, ...manufacturing.list()], clock, log: (e) => log(edosLine(e)) });
        endpoints.edos = await this.started(edos, edos.start(config.address, config.edos.port));
      }
      const mppUrls = {
        ...(endpoints.edos ? { edosUrl: `https://${config.address}:${endpoints.edos}${EDOS_PATH}` } : {}),
        ...(endpoints.http ? { provisioningUrl: `http://${config.address}:${endpoints.http}/mpp/$PSN/$MA.xml` } : {}),
      };
      let dhcp: DhcpService | undefined;
      if (config.dhcp.enabled) {
        dhcp = new DhcpService(db, config, (e) => log(dhcpLine(e)), clock);
        await this.started(dhcp, dhcp.start(this.o.iface));
      }
      const ops: AdminOperations = {
        phones,
        onboarding,
        bulk: new BulkOperations({ db, templates: new TemplateStore(db), store, phones, log }),
        trust: new TrustOperations({ db, config, pki, log }),
        status: new StatusOperations({ db, config: withBoundPorts(config, endpoints), clock, startedAt: clock.now(), dhcpCounters: dhcp?.counters, tvsRunning: endpoints.tvs !== undefined, endpoints, mppUrls }),
        mpp: new MppOperations({ store: mppStore, profiles: mppProfiles, edos: edos && mppUrls.edosUrl ? { url: mppUrls.edosUrl, counts: () => edos.counts() } : undefined, clock, log }),
        loads: new LoadOperations({ db, dataDir, configured: config.loadInformation, clock, log }),
        ivr: new IvrOperations({ db, store: new IvrStore(db), templates: new UniversalTemplateStore(db), range: config.autoRegistration.enabled ? { first: config.autoRegistration.dnFirst, last: config.autoRegistration.dnLast } : undefined, log }),
        templates: new TemplateOperations({ db, store: new UniversalTemplateStore(db), autoRegistration: config.autoRegistration, log }),
      };
      if (pki && config.web.enabled) {
        const web = new WebServer({ db, store, phones, onboarding, bulk: ops.bulk, mpp: ops.mpp, templates: ops.templates, ivr: ops.ivr, clock, log, pki });
        endpoints.web = await this.started(web, web.start(config.address, config.web.port));
        log(`web pages on https://${config.address}:${endpoints.web}/ccmadmin/ (administration) and /ucmuser/ (Self-Care)`);
      }
      const inClear = ops.status.passwordsInClear();
      if (inClear.length) log(`${inClear.length} phone(s) with a line password in a configuration file anyone can fetch: ${inClear.slice(0, 5).join(', ')}${inClear.length > 5 ? ', …' : ''} (give them an LSC and encrypted configuration: sepi cm phone certificate NAME --install --encrypted-config)`);
      const admin = new AdminServer(ops, dataDir);
      await this.started(admin, admin.start());
      this.running = { ops, endpoints };
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Waits for a service to start, and remembers to stop it. */
  private async started<T>(service: { stop(): Promise<void> }, starting: Promise<T>): Promise<T> {
    const value = await starting;
    this.undo.push(() => service.stop());
    return value;
  }

  async stop(): Promise<void> {
    this.running = undefined;
    for (const step of this.undo.splice(0).reverse()) {
      try {
        await step();
      } catch {
        // stopping the rest matters more
      }
    }
  }
}
