/**
 * Activation-code onboarding on the phone (EMU-ACT/1, docs/protocols/activation.md). The phone
 * has no file of its own; the default file says its model onboards by code and where the Device
 * Activation Service is. The phone shows "Enter activation code", catches a typo with the check
 * digit before anything leaves, and sends code, MAC and model over mutual TLS: its MIC as client
 * certificate, the server's certificate pinned by the trust list (the ITL's CallManager record),
 * so a code never goes to a server that is not the cluster's. Until activated it asks again,
 * saying why the last code was refused, and waits out a lockout showing the time left.
 *
 * The answer tells the flow: `again` (activated: read the files again, the phone's own is there
 * now), `register` (this model autoregisters), or `wait` (no MIC, no trust list, service down).
 */
import { X509Certificate } from 'node:crypto';
import { normalizeCode } from '../wire/activation-code.ts';
import type { XmlDefaultConfig } from '../wire/cnf-xml.ts';
import type { FlowContext } from './flows/flow.ts';
import { ensureMic } from './mic.ts';
import { stepTimer } from './provisioning.ts';

export type OnboardingNext = 'again' | 'register' | 'wait';

const REASONS: Record<string, string> = {
  invalid_code: 'Invalid activation code',
  expired: 'Activation code expired',
  model_mismatch: 'Code is for another phone model',
  mac_mismatch: 'Code is for another phone',
  mac_in_use: 'Another device has this phone\'s MAC',
  mic_untrusted: 'This phone\'s certificate is not trusted',
};
const MAX_ANSWER = 4096;

/** Whether the default file makes this model onboard by code, and where. */
export function activationService(ctx: FlowContext, config: XmlDefaultConfig): string | undefined {
  const entry = config.onboarding?.find((o) => o.model === `Cisco ${ctx.model.name}` || o.model === ctx.model.name);
  return entry?.method === 'activationCode' ? entry.service : undefined;
}

export async function onboardingStep(ctx: FlowContext, service: string, signal: AbortSignal): Promise<OnboardingNext> {
  const elapsed = stepTimer(ctx.clock);
  const fail = (onboarding: 'no-mic' | 'no-trust' | 'unreachable', reason: string): OnboardingNext => {
    ctx.report({ step: 'onboarding', state: 'fail', ms: elapsed(), message: reason, onboarding, reason });
    return 'wait';
  };
  ctx.report({ step: 'onboarding', state: 'start', ms: 0, message: 'Enter activation code', method: 'activation-code', service });
  const mic = await ensureMic(ctx.nvram, ctx.micIssuer, { model: ctx.model.name, mac: ctx.mac.hex, now: ctx.clock.now() });
  if (!mic) return fail('no-mic', 'No manufacturing certificate (MIC): this phone cannot onboard by code (sepi factory init, docs/activation.md)');
  const pinned = ctx.trust.callManagerCertificates().map((der) => new X509Certificate(Buffer.from(der)).toString());
  if (pinned.length === 0) return fail('no-trust', 'No trust list: the activation service cannot be checked, so no code is sent');
  let problem: string | undefined;
  for (;;) {
    const answer = await ctx.prompt.ask(problem ? { kind: 'activation-code', problem } : { kind: 'activation-code' }, signal);
    const code = normalizeCode(answer.digits);
    if (!code.ok) {
      problem = code.error.code === 'check-digit' ? 'Check the code: a digit is wrong' : 'Enter all 16 digits';
      ctx.report({ step: 'onboarding', state: 'fail', ms: elapsed(), message: problem, onboarding: 'typo', reason: code.error.message });
      continue;
    }
    ctx.report({ step: 'onboarding', state: 'progress', ms: elapsed(), message: 'Activating…', onboarding: 'code-sent', service });
    const body = JSON.stringify({ activationCode: code.value, mac: ctx.mac.hex, model: ctx.model.name, firmware: ctx.model.activeLoad });
    const r = await ctx.network.httpsPost(`${service.replace(/\/+$/, '')}/activate`, {
      body, pinned, clientCert: `${mic.certPem}${mic.caPem}`, clientKey: mic.keyPem, timeoutMs: 10_000, maxBytes: MAX_ANSWER, signal, ...(ctx.localAddress ? { localAddress: ctx.localAddress } : {}),
    });
    if (r.kind === 'error') return fail('unreachable', `Activation service: ${r.message}`);
    let reply: { status?: unknown; reason?: unknown; deviceName?: unknown; retryAfterSec?: unknown };
    try {
      reply = JSON.parse(r.body.toString('utf8')) as typeof reply;
    } catch {
      return fail('unreachable', `Activation service answered ${r.status} without JSON`);
    }
    if (r.status === 200 && reply.status === 'activated' && typeof reply.deviceName === 'string' && reply.deviceName === ctx.mac.deviceName) {
      ctx.report({ step: 'onboarding', state: 'done', ms: elapsed(), message: `Activated as ${reply.deviceName}`, onboarding: 'activated', deviceName: reply.deviceName });
      return 'again';
    }
    if (r.status === 429) {
      const secs = Math.min(86_400, Math.max(1, Number(reply.retryAfterSec) || 60));
      const reason = `Too many wrong codes: try again in ${Math.ceil(secs / 60)} min`;
      ctx.report({ step: 'onboarding', state: 'fail', ms: elapsed(), message: reason, onboarding: 'locked-out', reason, retryAfterSecs: secs });
      await ctx.clock.sleep(secs * 1000, signal);
      problem = undefined;
      continue;
    }
    const why = typeof reply.reason === 'string' ? reply.reason : `HTTP ${r.status}`;
    problem = REASONS[why] ?? `Refused (${why.slice(0, 40)})`;
    ctx.report({ step: 'onboarding', state: 'fail', ms: elapsed(), message: problem, onboarding: 'refused', reason: why });
  }
}
