/**
 * The Multiplatform (3PCC) boot flow, after the network:
 *
 *   start ──► dhcp-provisioning ──(a profile downloaded)──────────────────────────┐
 *               │                                                                  ▼
 *               └──► remote-customization ──► redirect ──► resync ──► registering ◄──► registered
 *                      │  ▲ (EDOS error:        │  ▲          │  ▲         │
 *                      └──┘  the ladder)        └──┘          ▼  │         └──► registration-retry ──► resync
 *                                      (redirect failed:    resync-retry
 *                                       Resync_Error_Retry_Delay)
 *
 * Customization (mpp/customization.ts) is the part a user sees: Open → Pending while EDOS is
 * asked, Custom-Pending once it named a provider, Acquired when the provider's profile
 * downloaded, Unavailable when EDOS knows no provider, Aborted when DHCP or a person provided
 * provisioning first. Remote customization runs only while the state is Open, Pending or
 * Custom-Pending; after that a boot is DHCP's provisioning (if any), the phone's own
 * `Profile_Rule` (Resync_On_Reset), registration of the lines the parameters name, and a resync
 * every `Resync_Periodic` — or at once when asked (web page, keypad). A resync that changes a
 * line restarts the flow so the line registers as it now reads. Before the lines register,
 * `Upgrade_Rule` naming another load installs it and reboots on it (mpp/upgrade.ts); a resync
 * that changes the rule restarts the phone for that.
 */
import { Backoff } from '../../common/backoff.ts';
import { DEFAULT_SIP_STACK, type DeviceConfig } from '../../wire/cnf-xml.ts';
import { ensureMic } from '../mic.ts';
import { fromCycle, register } from '../registration-step.ts';
import { MAX_LOAD_FILE_BYTES, registeredOnTrial } from '../load-step.ts';
import { upgradeStep, upgradeWanted } from '../mpp/upgrade.ts';
import { REGISTER_RETRY } from '../retries.ts';
import { Customization, type CustomizationState, edosRetrySecs } from '../mpp/customization.ts';
import { dhcpProvisioning } from '../mpp/dhcp-provisioning.ts';
import { DEFAULT_EDOS_URL, askEdos } from '../mpp/edos-client.ts';
import { mppIdentity } from '../mpp/identity.ts';
import { MppParameters, type SipLineParams } from '../mpp/parameters.ts';
import { Resync, type ResyncOutcome, type ResyncTrigger, type RuleToRun } from '../mpp/resync.ts';
import { DEFAULT_PROFILE_RULE } from '../../wire/profile-rule.ts';
import type { StepReport } from '../events.ts';
import type { BootFlow, FlowContext } from './flow.ts';
import { type Edges, StateMachine } from './state-machine.ts';

export type MppState = 'start' | 'dhcp-provisioning' | 'remote-customization' | 'redirect' | 'resync' | 'resync-retry' | 'registering' | 'registered' | 'registration-retry';

export const MPP_EDGES: Edges<MppState> = {
  'start': ['dhcp-provisioning'],
  'dhcp-provisioning': ['remote-customization', 'redirect', 'resync', 'registering'],
  'remote-customization': ['remote-customization', 'redirect', 'resync'],
  'redirect': ['redirect', 'registering', 'resync'],
  'resync': ['registering', 'resync-retry'],
  'resync-retry': ['resync', 'registering'],
  'registering': ['registered', 'registration-retry'],
  'registered': ['registering'],
  'registration-retry': ['resync'],
};

const MAX_PROFILE_BYTES = 2 * 1024 * 1024;
const lineChanged = (names: string[]) => names.some((n) => /^(Proxy|SIP_Port|SIP_Transport|User_ID|Auth_ID|Password|Line_Enable|Display_Name)_\d+_$/.test(n));

export class MppFlow implements BootFlow {
  readonly persona = 'mpp' as const;
  /** Wakes the current cycle's wait for the next resync (an explicit resync). */
  private wake: (() => void) | undefined;
  private explicitAsked = false;

  /** A resync now (web page, keypad): true when a cycle was there to take it. */
  requestResync(): boolean {
    this.explicitAsked = true;
    const w = this.wake;
    w?.();
    return w !== undefined;
  }

  async run(ctx: FlowContext, signal: AbortSignal): Promise<never> {
    const machine = new StateMachine<MppState>('mpp flow', 'start', MPP_EDGES, ctx.onTransition);
    const params = await MppParameters.load(ctx.nvram);
    // The firmware runs a Multiplatform phone with its MPP model already (asMppModel): its loads and version.
    const id = mppIdentity(ctx.model, ctx.mac);
    const customization = await Customization.load(ctx.nvram, (from, to, why) => this.announce(ctx, to, from, why));
    this.announce(ctx, customization.state, undefined, 'at boot');
    const mic = await ensureMic(ctx.nvram, ctx.micIssuer, { model: `${ctx.model.name}-3PCC`, mac: ctx.mac.hex, now: ctx.clock.now() });
    const roots = mic ? [mic.caPem] : [];
    const fetchDeps = {
      network: ctx.network, clock: ctx.clock, dns: ctx.net.dns, localAddress: ctx.localAddress, userAgent: id.userAgent,
      tftpRequest: { blksize: 1428, tsize: true, timeoutSecs: 2 }, maxBytes: MAX_PROFILE_BYTES,
      tls: { ca: roots, ...(mic ? { cert: mic.certPem, key: mic.keyPem } : {}) },
    };
    const makeResync = (option66: string | undefined) =>
      new Resync({ id, params, fetch: fetchDeps, clock: ctx.clock, report: ctx.report, option66, context: () => ({ ip: ctx.net.address, customized: customization.state === 'Acquired', clientCertificate: mic !== undefined }) });
    const lease = ctx.net.lease;
    const option66 = lease?.tftpServerName ?? lease?.tftpServers[0];
    const resync = makeResync(option66);
    let fetchedThisBoot = false;

    // 1. DHCP: a profile named by the options of DHCP_Option_To_Use, downloaded, ends customization.
    machine.transition('dhcp-provisioning');
    const fromDhcp = params.yes('Provision_Enable') ? dhcpProvisioning(lease, params.dhcpOptionsToUse(), params.rules()) : undefined;
    // A URL from option 159/160 stands for Profile_Rule in later resyncs, until a profile sets one.
    let dhcpRules: RuleToRun[] | undefined;
    if (fromDhcp) {
      const r = await makeResync(fromDhcp.option66).run('dhcp', signal, fromDhcp.rules);
      if (r.kind === 'ok') {
        fetchedThisBoot = true;
        if (fromDhcp.option === 159 || fromDhcp.option === 160) dhcpRules = fromDhcp.rules;
        if (customization.can('Aborted')) await customization.moveTo('Aborted', `DHCP option ${fromDhcp.option} gave a profile that downloaded`);
      }
    }

    // 2. Remote customization: ask EDOS while Open or Pending, follow its redirect while Custom-Pending.
    if (!fetchedThisBoot && (customization.state === 'Open' || customization.state === 'Pending')) {
      machine.transition('remote-customization');
      for (let attempt = 0; ; attempt++) {
        if (customization.state !== 'Pending') await customization.moveTo('Pending', 'asking EDOS');
        const base = ctx.edosUrl ?? DEFAULT_EDOS_URL;
        ctx.report({ step: 'customization', state: 'start', ms: 0, message: `Asking ${new URL(base).host} for a provider`, customization: 'Pending', edos: base, attempt: attempt + 1 });
        const answer = mic
          ? await askEdos({ network: ctx.network, dns: ctx.net.dns, localAddress: ctx.localAddress, roots, clientCert: mic.certPem, clientKey: mic.keyPem }, base, id, signal)
          : { kind: 'error' as const, reason: 'no client certificate (no lab factory to make one)' };
        if (answer.kind === 'empty') {
          await customization.moveTo('Unavailable', 'EDOS has no provider for this phone (200, empty profile)');
          break;
        }
        if (answer.kind === 'profile') {
          await params.apply(answer.profile);
          await customization.moveTo('Custom-Pending', `EDOS named a provider: ${params.get('Profile_Rule')}`);
          break;
        }
        const inSecs = edosRetrySecs(attempt);
        ctx.report({ step: 'customization', state: 'retry', ms: 0, message: `EDOS: ${answer.reason}; retry in ${inSecs} s`, customization: 'Pending', reason: answer.reason, inSecs, attempt: attempt + 1 });
        await ctx.clock.sleep(inSecs * 1000 * ctx.waitScale, signal);
        machine.transition('remote-customization');
      }
    }
    if (customization.state === 'Custom-Pending') {
      machine.transition('redirect');
      for (let attempt = 0; ; attempt++) {
        const r = await resync.run('edos-redirect', signal);
        if (r.kind === 'ok') {
          fetchedThisBoot = true;
          await customization.moveTo('Acquired', `the provider's profile downloaded from ${r.url}`);
          break;
        }
        const inSecs = params.errorRetrySecs(attempt);
        const reason = r.reason;
        ctx.report({ step: 'customization', state: 'retry', ms: 0, message: `Provider's profile: ${reason}; retry in ${inSecs} s`, customization: 'Custom-Pending', reason, inSecs, attempt: attempt + 1 });
        await ctx.clock.sleep(inSecs * 1000 * ctx.waitScale, signal);
        machine.transition('redirect');
      }
    }

    // 3. Provisioned (or not): the phone's own rule at power-up, then the lines, then resyncs.
    const rulesNow = () => (dhcpRules && params.get('Profile_Rule') === DEFAULT_PROFILE_RULE ? dhcpRules : params.rules());
    let errors = 0;
    if (!fetchedThisBoot && params.yes('Provision_Enable') && params.yes('Resync_On_Reset')) {
      machine.transition('resync');
      const r = await resync.run('power-up', signal, rulesNow());
      if (r.kind === 'error') errors = 1;
    }
    if (machine.state !== 'resync') machine.transition('resync');
    // Upgrade_Rule naming another load: installed now, the phone reboots on it (on trial).
    if ((await upgradeStep(ctx, params, resync, { ...fetchDeps, maxBytes: MAX_LOAD_FILE_BYTES }, signal)) === 'installed') {
      ctx.reboot('reset', 'load-installed');
      signal.throwIfAborted();
    }
    void this.maintain(ctx, resync, params, rulesNow, errors, signal).catch(() => {});
    const registerRetry = new Backoff(REGISTER_RETRY, ctx.clock, { scale: ctx.waitScale });
    // Lines 2–10: each registers with its own proxy beside the first, in a retry loop of its own;
    // they report `line` events, so the phone's phase and problem stay the first line's. They
    // start once the first line has its answer (registered or refused), as a phone registers its
    // lines in order: a call manager that keeps one line a device (the companion) then sees the
    // device's own line first and refuses the others, instead of binding line 2 and restarting.
    let extrasStarted = false;
    const startExtras = () => {
      if (extrasStarted) return;
      extrasStarted = true;
      for (const extra of params.lines().slice(1)) void this.keepLine(ctx, extra, signal).catch(() => {});
    };
    for (;;) {
      const line = params.lines()[0];
      if (!line) {
        ctx.report({ step: 'profile', state: 'fail', ms: 0, message: customization.state === 'Unavailable' || customization.state === 'Aborted' ? 'No line configured: set Profile_Rule or Proxy_1_ (web page)' : 'No line configured', url: '', reason: 'no line' });
        machine.transition('resync-retry');
        await new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      }
      machine.transition('registering');
      const rejected = await register(
        {
          ...fromCycle(ctx),
          // Line 1's proxy not answering (it retries within) is an answer too: the others go on.
          report: (e) => {
            if (e.step === 'register' && e.state === 'retry') startExtras();
            ctx.report(e);
          },
          onRegistered: (yes) => {
            if (yes) registerRetry.reset();
            // A load Upgrade_Rule installed is on trial until it registers (banks.ts).
            if (yes) registeredOnTrial(ctx);
            if (yes) startExtras();
            machine.transition(yes ? 'registered' : 'registering');
          },
          onLine: ctx.onSipLine,
        },
        { config: lineConfig(line!), file: 'flat profile', server: line!.proxy, configKind: 'profile' }, ctx.net, ctx.reason, signal,
      );
      machine.transition('registration-retry');
      startExtras();
      const inSecs = registerRetry.delaySecs;
      ctx.report({ step: 'register', state: 'retry', ms: 0, message: `Refused: ${rejected.reason}; retry in ${inSecs} s`, registration: 'refused', status: rejected.status, reason: rejected.reason, cm: rejected.member.address, inSecs });
      await registerRetry.wait(signal);
      machine.transition('resync');
    }
  }

  /** A further line registered and kept so until the cycle ends; refused or unanswered, it backs off and tries again. */
  private async keepLine(ctx: FlowContext, line: SipLineParams, signal: AbortSignal): Promise<never> {
    const retry = new Backoff(REGISTER_RETRY, ctx.clock, { scale: ctx.waitScale });
    // Nothing of a cycle that ended is reported: the next one's status starts clean.
    const report = (e: StepReport) => {
      const l = signal.aborted ? undefined : lineReport(line, e);
      if (l) ctx.report(l);
    };
    for (;;) {
      const rejected = await register(
        {
          ...fromCycle(ctx), report,
          onRegistered: (yes) => yes && retry.reset(),
        },
        { config: lineConfig(line), file: 'flat profile', server: line.proxy, configKind: 'profile' }, ctx.net, ctx.reason, signal,
      );
      signal.throwIfAborted();
      const inSecs = retry.delaySecs;
      ctx.report({ step: 'line', state: 'retry', ms: 0, message: `Line ${line.index} ${line.userId} refused: ${rejected.reason}; retry in ${inSecs} s`, lineIndex: line.index, user: line.userId, reason: rejected.reason, inSecs });
      await retry.wait(signal);
    }
  }

  /** Resyncs for the rest of the cycle: every Resync_Periodic, after errors per Resync_Error_Retry_Delay, or when asked. */
  private async maintain(ctx: FlowContext, resync: Resync, params: MppParameters, rules: () => RuleToRun[], errorsSoFar: number, signal: AbortSignal): Promise<void> {
    let errors = errorsSoFar;
    for (;;) {
      const retrying = errors > 0;
      const inSecs = retrying ? params.errorRetrySecs(errors - 1) : params.periodicSecs();
      if (retrying) ctx.report({ step: 'profile', state: 'retry', ms: 0, message: `Resync failed; retry in ${inSecs} s`, reason: 'resync failed', inSecs });
      else if (inSecs > 0) ctx.report({ step: 'profile', state: 'progress', ms: 0, message: `Next resync in ${inSecs} s`, resync: 'scheduled', inSecs });
      // Periodic resyncs are the provider's schedule, not a retry: only retries are scaled.
      const waitMs = inSecs > 0 ? inSecs * 1000 * (retrying ? ctx.waitScale : 1) : undefined;
      const trigger = await this.until(ctx, waitMs, signal);
      const r: ResyncOutcome = await resync.run(trigger === 'explicit' ? 'explicit' : retrying ? 'retry' : 'periodic', signal, rules());
      if (r.kind === 'error') errors++;
      else errors = 0;
      if (r.kind === 'ok' && (lineChanged(r.changed) || upgradeWanted(r.changed, params, resync, ctx.model.activeLoad))) {
        ctx.reboot('restart', 'resync');
        return;
      }
    }
  }

  /** Waits ms (forever when undefined) or until a resync is asked for. */
  private async until(ctx: FlowContext, ms: number | undefined, signal: AbortSignal): Promise<ResyncTrigger> {
    if (this.explicitAsked) {
      this.explicitAsked = false;
      return 'explicit';
    }
    const woken = new AbortController();
    const both = AbortSignal.any([signal, woken.signal]);
    this.wake = () => woken.abort();
    try {
      if (ms === undefined) await new Promise<void>((_, reject) => both.addEventListener('abort', () => reject(both.reason), { once: true }));
      else await ctx.clock.sleep(ms, both);
      return 'periodic';
    } catch (e) {
      signal.throwIfAborted();
      this.explicitAsked = false;
      return 'explicit';
    } finally {
      this.wake = undefined;
    }
  }

  private announce(ctx: FlowContext, to: CustomizationState, from: CustomizationState | undefined, why?: string): void {
    ctx.report({ step: 'customization', state: 'done', ms: 0, message: `Customization: ${to}${why ? ` (${why})` : ''}`, customization: to, ...(from ? { from } : {}), why: why ?? '' });
  }
}

/** A further line's registration event as a `line` event (its words prefixed with the line). */
function lineReport(line: SipLineParams, e: StepReport): StepReport | undefined {
  if (e.step !== 'register') return e;
  const base = { step: 'line' as const, ms: e.ms, lineIndex: line.index, user: line.userId };
  const words = `Line ${line.index} ${line.userId}: ${e.message}`;
  switch (e.state) {
    case 'start':
      return { ...base, state: 'start', message: `Line ${line.index}: registering ${line.userId}`, proxy: line.proxy };
    case 'done':
      return { ...base, state: 'done', message: `Line ${line.index}: registered ${line.userId} with ${e.cm}`, cm: e.cm, expires: e.expires };
    case 'fail':
      return { ...base, state: 'fail', message: words, reason: e.reason };
    case 'retry':
      return { ...base, state: 'retry', message: words, reason: 'reason' in e ? e.reason : 'no proxy answered', inSecs: e.inSecs };
    case 'progress':
      return { ...base, state: 'progress', message: words, registration: e.registration, ...('reason' in e && e.reason ? { reason: e.reason } : {}) };
  }
}

/** Line 1 of the parameters as the registration step reads a configuration. */
function lineConfig(line: SipLineParams): DeviceConfig {
  return {
    kind: 'device', fullConfig: true, deviceProtocol: 'SIP', devicePoolName: '', tvs: [], registerWithProxy: true, sipStack: DEFAULT_SIP_STACK,
    callManagers: [{ priority: 0, host: line.proxy, sipPort: line.port, securedSipPort: 5061, ethernetPhonePort: 2000 }],
    lines: [{ button: 1, dn: line.userId, displayName: line.displayName, label: line.displayName, proxy: line.proxy, port: line.port, authName: line.authId, authPassword: line.password, contact: line.userId }],
    loadInformation: '', inactiveLoadInformation: '', versionStamp: '', deviceSecurityMode: 1, transportLayerProtocol: 2, userLocale: '', networkLocale: '',
    security: { capfAuthMode: 0, capf: [], certHash: '', encrConfig: false },
  };
}
