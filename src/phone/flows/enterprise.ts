/**
 * The enterprise (Unified CM) boot flow, after the network:
 *
 *   start ──► trust-lists ──► configuration ──► onboarding ──► firmware-load ──► registering ◄──► registered
 *    │          │   ▲              │  │  ▲  │          ▲                          │
 *    │          │   └─next server──┘  │  │  └► certificate ─┘ (CAPF asked for;    │ every member refused
 *    │          ▼                     ▼  │       │  │        nothing changed)      ▼
 *    └──► configuration-retry ◄───────┘  │       │  └─► trust-lists (an LSC       registration-retry
 *           │   ▲    (no server answered, │       │      installed or deleted:      │
 *           │   │     nothing found,     │       │      read the files again)      │
 *           │   │     TVS down)          └── (a refused file: the last good one)   │
 *           └───┘◄── (only the short file, no LSC to open the full one) ◄┘         │
 *           └──────────────► trust-lists ◄──────────────────────────────────────────┘
 *   onboarding ──► trust-lists (activated by code: the phone's own file is there now)
 *   onboarding ──► configuration-retry (no MIC, no trust list, the activation service down)
 *
 * Trust lists and the configuration come from the first TFTP server that answers (Alternate >
 * option 150 > option 66 > siaddr); a server that does not answer sends the flow to the next.
 * The certificate state runs CAPF when the file asks (certificate-step.ts), at most twice a
 * cycle. Onboarding runs activation-code entry when the phone has only the default file and it
 * says this model onboards by code (onboarding-step.ts): activated, the files are read again.
 * The load step installs a load the configuration names into the inactive bank and reboots on
 * trial (load-step.ts, banks.ts); without a firmware signer it only reports the load. Waiting is one Backoff per
 * ladder: CONFIG_RETRY between provisioning rounds, REGISTER_RETRY after a refusal.
 */
import { Backoff } from '../../common/backoff.ts';
import type { PhoneConfig } from '../../wire/cnf-xml.ts';
import type { Provisioned } from '../provisioning.ts';
import { Provisioning, stepTimer } from '../provisioning.ts';
import { type CertificateNext, certificateStep } from '../certificate-step.ts';
import { activationService, onboardingStep } from '../onboarding-step.ts';
import { fromServer, loadStep, registeredOnTrial } from '../load-step.ts';
import { fromCycle, register } from '../registration-step.ts';
import { CONFIG_RETRY, REGISTER_RETRY } from '../retries.ts';
import type { BootFlow, FlowContext } from './flow.ts';
import { type Edges, StateMachine } from './state-machine.ts';

export type EnterpriseState =
  | 'start'
  | 'trust-lists'
  | 'configuration'
  | 'configuration-retry'
  | 'certificate'
  | 'onboarding'
  | 'firmware-load'
  | 'registering'
  | 'registered'
  | 'registration-retry';

export const ENTERPRISE_EDGES: Edges<EnterpriseState> = {
  'start': ['trust-lists', 'configuration-retry'],
  'trust-lists': ['configuration', 'trust-lists', 'configuration-retry'],
  'configuration': ['onboarding', 'certificate', 'trust-lists', 'configuration-retry'],
  'certificate': ['onboarding', 'trust-lists', 'configuration-retry'],
  'configuration-retry': ['trust-lists', 'configuration-retry'],
  'onboarding': ['firmware-load', 'trust-lists', 'configuration-retry'],
  'firmware-load': ['registering'],
  'registering': ['registered', 'registration-retry'],
  'registered': ['registering'],
  'registration-retry': ['trust-lists', 'configuration-retry'],
};

type Round = { kind: 'ok'; value: Provisioned } | { kind: 'no-server' | 'absent' | 'refused' | 'tvs-down'; message: string };

export class EnterpriseFlow implements BootFlow {
  readonly persona = 'enterprise' as const;

  async run(ctx: FlowContext, signal: AbortSignal): Promise<never> {
    const machine = new StateMachine<EnterpriseState>('enterprise flow', 'start', ENTERPRISE_EDGES, ctx.onTransition);
    const provisioning = new Provisioning({ mac: ctx.mac, model: ctx.model, clock: ctx.clock, nvram: ctx.nvram, fetcher: ctx.fetcher, trust: ctx.trust, tvs: ctx.tvs, report: ctx.report });
    const configRetry = new Backoff(CONFIG_RETRY, ctx.clock, { scale: ctx.waitScale });
    const registerRetry = new Backoff(REGISTER_RETRY, ctx.clock, { scale: ctx.waitScale });
    let capfSessions = 0;
    for (;;) {
      const provisioned = await this.provision(ctx, machine, provisioning, configRetry, signal);
      const { config } = provisioned;
      if (config.kind === 'device' && (config.security.capfAuthMode !== 0 || !config.fullConfig)) {
        let next: CertificateNext = config.fullConfig ? 'go' : 'wait';
        // Two LSC changes in one cycle and the file still asks: something loops; stop asking until the next boot.
        if (config.security.capfAuthMode !== 0 && capfSessions < 2) {
          machine.transition('certificate');
          next = await certificateStep(ctx, config, signal);
        }
        if (next === 'again') {
          capfSessions++;
          continue;
        }
        if (next === 'wait') {
          await this.waitRound(ctx, machine, configRetry, signal, `${provisioned.file}: the full configuration is encrypted and this phone cannot open it`, 'refused');
          continue;
        }
      }
      machine.transition('onboarding');
      // No file of its own, and the default file says this model onboards by code.
      const service = config.kind === 'default' ? activationService(ctx, config) : undefined;
      if (service) {
        const next = await onboardingStep(ctx, service, signal);
        if (next === 'again') continue;
        if (next === 'wait') {
          await this.waitRound(ctx, machine, configRetry, signal, 'Activation not possible now', 'absent');
          continue;
        }
      }
      configRetry.reset();
      machine.transition('firmware-load');
      const wanted = this.wantedLoad(ctx, provisioned.config);
      if (wanted && wanted !== ctx.model.activeLoad) {
        if (ctx.firmwareCert || ctx.banks.hasFailed(wanted)) {
          if ((await loadStep(ctx, wanted, fromServer(ctx, provisioned.server), signal)) === 'installed') {
            ctx.reboot('reset', 'load-installed');
            signal.throwIfAborted();
          }
        } else {
          ctx.report({ step: 'config', state: 'progress', ms: 0, message: `${provisioned.file} asks for load ${wanted}; keeping ${ctx.model.activeLoad} (no firmware signer to check it with)`, wantedLoad: wanted, activeLoad: ctx.model.activeLoad });
        }
      }
      machine.transition('registering');
      const rejected = await register(
        {
          ...fromCycle(ctx), report: ctx.report,
          onRegistered: (yes) => {
            if (yes) registerRetry.reset();
            if (yes) registeredOnTrial(ctx);
            machine.transition(yes ? 'registered' : 'registering');
          },
          onLine: ctx.onSipLine,
        },
        provisioned, ctx.net, ctx.reason, signal,
      );
      machine.transition('registration-retry');
      const inSecs = registerRetry.delaySecs;
      ctx.report({ step: 'register', state: 'retry', ms: 0, message: `Refused: ${rejected.reason}; retry in ${inSecs} s`, registration: 'refused', status: rejected.status, reason: rejected.reason, cm: rejected.member.address, inSecs });
      await registerRetry.wait(signal);
    }
  }

  /** The file is there but cannot be used yet (encrypted for an LSC to come, activation not possible): wait a round. */
  private async waitRound(ctx: FlowContext, machine: StateMachine<EnterpriseState>, backoff: Backoff, signal: AbortSignal, why: string, reason: 'refused' | 'absent'): Promise<void> {
    machine.transition('configuration-retry');
    const inSecs = backoff.delaySecs;
    ctx.report({ step: 'config', state: 'retry', ms: 0, message: `${why}; retry in ${inSecs} s`, reason, round: 1, inSecs });
    await backoff.wait(signal);
  }

  /** Rounds over the TFTP servers until a usable configuration is found, backing off between rounds. */
  private async provision(ctx: FlowContext, machine: StateMachine<EnterpriseState>, provisioning: Provisioning, backoff: Backoff, signal: AbortSignal): Promise<Provisioned> {
    for (let round = 1; ; round++) {
      const r = await this.round(ctx, machine, provisioning, signal);
      if (r.kind === 'ok') return r.value;
      // A refused file is lived with: the last good one carries the phone until a good one comes.
      const lastGood = r.kind === 'refused' ? await provisioning.lastGoodConfig() : undefined;
      if (lastGood) {
        ctx.report({ step: 'config', state: 'done', ms: 0, message: `Using last good ${lastGood.file}`, file: lastGood.file, server: lastGood.server, configKind: lastGood.config.kind, lastGood: true });
        return lastGood;
      }
      machine.transition('configuration-retry');
      const inSecs = backoff.delaySecs;
      ctx.report({ step: 'config', state: 'retry', ms: 0, message: `${r.message}; retry ${round + 1} in ${inSecs} s`, reason: r.kind, round, inSecs });
      await backoff.wait(signal);
    }
  }

  /** One round: trust lists then the configuration from the first server that answers. */
  private async round(ctx: FlowContext, machine: StateMachine<EnterpriseState>, provisioning: Provisioning, signal: AbortSignal): Promise<Round> {
    const { net } = ctx;
    if (net.candidates.length === 0) return { kind: 'no-server', message: 'No TFTP server: DHCP gave no option 150, 66 or siaddr' };
    const failures: string[] = [];
    for (const candidate of net.candidates) {
      const elapsed = stepTimer(ctx.clock);
      let server: string;
      try {
        const addrs = await ctx.network.resolve4(candidate.host, net.dns);
        if (!addrs[0]) throw new Error('no address');
        server = addrs[0];
      } catch (e) {
        failures.push(`${candidate.host}: name not resolved`);
        const reason = (e as Error).message;
        ctx.report({ step: 'tftp', state: 'fail', ms: elapsed(), message: `TFTP server name ${candidate.host} (${candidate.source}) not resolved: ${reason}`, host: candidate.host, source: candidate.source, reason });
        continue;
      }
      const label = server === candidate.host ? server : `${candidate.host} (${server})`;
      ctx.report({ step: 'tftp', state: 'done', ms: elapsed(), message: `TFTP server ${label} (${candidate.source})`, server, host: candidate.host, source: candidate.source });
      machine.transition('trust-lists');
      const trust = await provisioning.fetchTrustLists(server, signal);
      if (trust.kind === 'failed') {
        failures.push(trust.message);
        continue;
      }
      // Without TVS the new list can be neither accepted nor refused: wait and ask again.
      if (trust.kind === 'tvs-down') return { kind: 'tvs-down', message: trust.message };
      machine.transition('configuration');
      const cfg = await provisioning.fetchConfig(server, signal);
      if (cfg.kind === 'failed') {
        failures.push(`${server}: ${cfg.message}`);
        continue;
      }
      return cfg;
    }
    return { kind: 'no-server', message: `TFTP server ${failures.join('; ')}` };
  }

  /** The load the configuration names for this phone: `loadInformation`, or the model's line of the default file. */
  private wantedLoad(ctx: FlowContext, config: PhoneConfig): string {
    return config.kind === 'device' ? config.loadInformation : config.loads.find((l) => l.code === ctx.model.code)?.load ?? '';
  }
}
