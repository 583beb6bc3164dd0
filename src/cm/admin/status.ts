/**
 * What the companion is doing, in one answer: which services run and on which ports (the bound
 * ones, when the kernel chose), its call manager group, and how many phones it knows, has
 * registered and has leased an address to.
 */
import type { Clock } from '../../common/clock.ts';
import type { CompanionConfig } from '../config.ts';
import type { CompanionDb } from '../db.ts';
import type { Endpoints } from '../endpoints.ts';
import { ROLLBACK_SETTING } from '../provisioning-files.ts';
import type { Outcome, StatusView } from './contract.ts';
import { ok } from './outcome.ts';

export const VERSION = '0.1.0';

export interface StatusOperationsDeps {
  db: CompanionDb;
  /** As served: ports the kernel chose already filled in. */
  config: CompanionConfig;
  clock: Clock;
  startedAt: number;
  dhcpCounters: Record<string, number> | undefined;
  tvsRunning: boolean;
  /** The companion's bound ports, filled in as its services start (CAPF, activation, web come after this). */
  endpoints?: Endpoints;
  /** The Multiplatform URLs, when their services run (edosUrl, provisioningUrl). */
  mppUrls?: { edosUrl?: string; provisioningUrl?: string };
}

export class StatusOperations {
  private readonly d: StatusOperationsDeps;

  constructor(deps: StatusOperationsDeps) {
    this.d = deps;
  }

  get(): Outcome<StatusView> {
    const { db, config: c, clock } = this.d;
    const now = clock.now();
    return ok({
      version: VERSION,
      pid: process.pid,
      uptimeSecs: Math.round((now - this.d.startedAt) / 1000),
      address: c.address,
      services: {
        dhcp: c.dhcp.enabled ? { pool: `${c.dhcp.poolFirst}-${c.dhcp.poolLast}`, option150: c.dhcp.option150, option66: c.dhcp.option66, counters: this.d.dhcpCounters } : false,
        tftp: c.tftp.enabled ? { port: c.tftp.port } : false,
        http: c.http.enabled ? { port: c.http.port } : false,
        sip: c.sip.enabled ? { listen: `${c.sip.listen}:${c.sip.port}`, expires: c.sip.expires } : false,
        tvs: this.d.tvsRunning ? { port: c.security.tvsPort } : false,
        capf: this.d.endpoints?.capf ? { port: this.d.endpoints.capf } : false,
        activation: this.d.endpoints?.activation ? { port: this.d.endpoints.activation } : false,
        web: this.d.endpoints?.web ? { port: this.d.endpoints.web } : false,
      },
      security: { mode: c.security.mode, rollback: db.setting(ROLLBACK_SETTING) === 'on' },
      callManagers: c.callManagers,
      autoRegistration: c.autoRegistration,
      phones: db.phones().length,
      registered: db.registrations().filter((r) => r.expiresAt > now).length,
      leases: db.leases().filter((l) => l.state === 'bound' && l.expiresAt > now).length,
      passwordsInClear: this.passwordsInClear(),
      ...this.d.mppUrls,
    });
  }

  /** Device names whose line password their plain SEP<MAC>.cnf.xml carries to whoever asks. */
  passwordsInClear(): string[] {
    const { db, config } = this.d;
    const encrypted = (name: string) => {
      const c = db.certificate(name);
      return !!c && c.encryptedConfig && c.lsc !== '' && config.security.mode !== 'none';
    };
    return db.phones().filter((p) => p.password !== '' && !encrypted(p.deviceName)).map((p) => p.deviceName);
  }
}
