/**
 * The certificate step of an enterprise boot: when the configuration file asks for a CAPF
 * session (`capfAuthMode` 1–4 and a `capfList`), the phone gets what that mode needs — the
 * authentication string from the person at the phone (or `--capf-auth-string`), its LSC for
 * mode 3 — and runs the session (capf-client.ts) with each CAPF server in turn.
 *
 * The answer tells the flow what to do next: `again` (an LSC was installed or deleted: read the
 * configuration again, it may now be encrypted for the new LSC), `go` (register with what the
 * phone has), or `wait` (the phone only has the short file and cannot open the full one: wait
 * and try again).
 */
import type { DeviceConfig } from '../wire/cnf-xml.ts';
import { runCapfSession } from './capf-client.ts';
import type { FlowContext } from './flows/flow.ts';
import { readLsc } from './lsc.ts';
import { stepTimer } from './provisioning.ts';

export type CertificateNext = 'again' | 'go' | 'wait';

const AUTH_STRING_WAIT_MS = 60_000;

const MODE_NAMES: Record<number, string> = { 1: 'authentication string', 2: 'null string', 3: 'existing LSC', 4: 'manufacturing certificate' };

export async function certificateStep(ctx: FlowContext, config: DeviceConfig, signal: AbortSignal): Promise<CertificateNext> {
  const sec = config.security;
  const otherwise: CertificateNext = config.fullConfig ? 'go' : 'wait';
  const mode = sec.capfAuthMode;
  const first = sec.capf[0];
  const label = first ? `${first.host}:${first.port}` : 'none';
  const elapsed = stepTimer(ctx.clock);
  const fail = (certificate: 'refused' | 'failed' | 'cancelled', server: string, reason: string): CertificateNext => {
    ctx.report({ step: 'certificate', state: 'fail', ms: elapsed(), message: `Certificate update: ${reason}`, certificate, server, reason });
    return otherwise;
  };
  if (!first) return fail('failed', label, 'the configuration asks for CAPF and names no CAPF server');
  ctx.report({ step: 'certificate', state: 'start', ms: 0, message: `Certificate update with CAPF ${label} (${MODE_NAMES[mode] ?? `mode ${mode}`})`, server: label, authMode: mode });
  // CAPF by MIC is not built (docs/security.md): sepi's emulated MIC authenticates activation codes only.
  if (mode === 4) return fail('failed', label, 'CAPF authentication by manufacturing certificate (MIC) is not supported by this phone');
  if (mode === 3 && !(await readLsc(ctx.nvram))) return fail('failed', label, 'CAPF wants the existing LSC and this phone has none');
  let authString: string | undefined;
  if (mode === 1) {
    // A phone with a usable file does not wait for ever on a string nobody types: a real phone
    // keeps working and its user starts the LSC update from Settings.
    const ask = new AbortController();
    const cancel = config.fullConfig ? ctx.clock.timer(AUTH_STRING_WAIT_MS, () => ask.abort(new Error('timeout'))) : () => {};
    const onCycleEnd = () => ask.abort(signal.reason);
    signal.addEventListener('abort', onCycleEnd, { once: true });
    try {
      const answer = await ctx.prompt.ask({ kind: 'authentication-string' }, ask.signal);
      if (!answer.digits) return fail('cancelled', label, 'authentication string not entered');
      authString = answer.digits;
    } catch (e) {
      if (signal.aborted) throw e;
      return fail('cancelled', label, `no authentication string entered within ${AUTH_STRING_WAIT_MS / 1000} s; registering with the file it has`);
    } finally {
      cancel();
      signal.removeEventListener('abort', onCycleEnd);
    }
  }
  const problems: string[] = [];
  for (const member of sec.capf) {
    const server = `${member.host}:${member.port}`;
    let host = member.host;
    try {
      host = (await ctx.network.resolve4(member.host, ctx.net.dns))[0] ?? member.host;
    } catch {
      problems.push(`${server}: name not resolved`);
      continue;
    }
    const r = await runCapfSession({
      network: ctx.network, clock: ctx.clock, nvram: ctx.nvram, deviceName: ctx.mac.deviceName, host, port: member.port,
      capfCertificates: ctx.trust.capfRecords().map((x) => x.certificate!),
      ...(authString ? { authString } : {}), ...(ctx.localAddress ? { localAddress: ctx.localAddress } : {}), signal,
    });
    switch (r.kind) {
      case 'installed':
        ctx.report({ step: 'certificate', state: 'done', ms: elapsed(), message: `LSC installed (RSA ${r.keySize}, from ${r.lsc.issuer})`, certificate: 'installed', server, serial: r.lsc.serial, issuer: r.lsc.issuer, certHash: r.lsc.certHash });
        return 'again';
      case 'deleted':
        ctx.report({ step: 'certificate', state: 'done', ms: elapsed(), message: 'LSC deleted', certificate: 'deleted', server });
        return 'again';
      case 'fetched':
      case 'no-action':
        ctx.report({ step: 'certificate', state: 'done', ms: elapsed(), message: r.kind === 'fetched' ? 'LSC sent to CAPF' : 'CAPF has nothing to do', certificate: r.kind, server });
        return otherwise;
      case 'refused':
        return fail('refused', server, r.reason);
      case 'failed':
        problems.push(`${server}: ${r.reason}`);
    }
  }
  return fail('failed', label, problems.join('; '));
}
