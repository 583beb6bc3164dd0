/**
 * Whole boots on the in-process harness — phones on a VirtualClock against an in-process
 * companion on 127.0.0.1, no root, no namespaces — so the retry ladders (DHCP, configuration,
 * registration, no call manager), service-control resets and restarts, and a lost lease play out
 * over virtual hours in real milliseconds.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freeTcpPort } from '../support/proc.ts';
import { Harness, type HarnessPhone } from '../support/harness.ts';
import type { FlowTransition, RegisteredEvent, StepEvent } from '../../src/phone/events.ts';

const flows = suite('boot flows in virtual time');
let h: Harness;

flows.after.each(async () => {
  await h?.stop();
});

const isRegistered = (kind?: 'device' | 'default') => (e: StepEvent): e is RegisteredEvent => e.step === 'register' && e.state === 'done' && (kind === undefined || e.configKind === kind);
const transitions = (p: HarnessPhone) => p.events.filter((e): e is FlowTransition => e.type === 'flow').map((e) => e.to);

/** The retry events of one kind, with the virtual seconds since the one before. */
function ladder(p: HarnessPhone, match: (e: StepEvent) => boolean) {
  const retries = p.steps().filter(match);
  return retries.map((e, i) => ({ inSecs: 'inSecs' in e ? e.inSecs : -1, gapSecs: i === 0 ? 0 : (e.at - retries[i - 1]!.at) / 1000 }));
}

flows('a known phone walks the enterprise flow state by state to Registered, on its own file over HTTP', async () => {
  h = await Harness.start({ companion: { security: { mode: 'none' }, phones: [{ mac: '0011223344a1', model: '8841', dn: '1001' }] } });
  const p = h.phone('00:11:22:33:44:a1');
  const reg = await h.event(p, 'registered', isRegistered('device'));
  assert.is(reg.line, '1001');
  assert.equal(transitions(p), ['trust-lists', 'configuration', 'onboarding', 'firmware-load', 'registering', 'registered']);
  const cfg = p.steps().find((e) => e.step === 'config' && e.state === 'done');
  assert.ok(cfg && 'via' in cfg && cfg.via === 'http');
  assert.match(p.handset.frame().rows.join('\n'), /Registered[\s\S]*Line 1001/);
  const flow = p.events.find((e): e is FlowTransition => e.type === 'flow');
  assert.is(flow?.flow, 'enterprise');
});

flows('an unknown phone autoregisters on the default file, is reset by service-control, and comes back on its DN', async () => {
  h = await Harness.start({ companion: { autoRegistration: { enabled: true, dnRange: ['3000', '3099'] } } });
  const p = h.phone('00:11:22:33:44:a2');
  const own = await h.event(p, 'registered on its own file', isRegistered('device'));
  assert.is(own.line, '3000');
  const steps = p.steps();
  const iDefault = steps.findIndex(isRegistered('default'));
  const iReset = steps.findIndex((e) => e.step === 'reboot' && e.reason === 'reset-reset');
  assert.ok(iDefault >= 0 && iReset > iDefault, 'default registration, then the reset');
  assert.ok(steps.slice(iReset).some((e) => e.step === 'dhcp' && e.state === 'progress' && 'dhcp' in e && e.dhcp === 'request'), 'a reset starts again at DHCP');
  assert.is((steps.find(isRegistered('default')) as RegisteredEvent).file, 'XMLDefault.cnf.xml.sgn', 'with the ITL on, files come signed');
});

flows('DHCP ladder: no server answers, rounds back off 10, 20, 40, 80, 120, 120 s; a server that comes back ends it', async () => {
  h = await Harness.start({ companion: { security: { mode: 'none' }, phones: [{ mac: '0011223344a3', model: '8841', dn: '1003' }] } });
  h.dhcp.mode = 'silent';
  const p = h.phone('00:11:22:33:44:a3');
  const isRetry = (e: StepEvent) => e.step === 'dhcp' && e.state === 'retry';
  await h.until('six DHCP retries', () => p.steps().filter(isRetry).length >= 6 || undefined, 4 * 3_600_000);
  const l = ladder(p, isRetry);
  assert.equal(l.map((x) => x.inSecs), [10, 20, 40, 80, 120, 120]);
  // Between two retries: the announced wait, then a round of DISCOVERs (4 tries, 4 s doubling).
  for (let i = 1; i < l.length; i++) assert.ok(l[i]!.gapSecs >= l[i - 1]!.inSecs, `gap ${i}: ${l[i]!.gapSecs} s >= ${l[i - 1]!.inSecs} s`);
  assert.match(p.handset.frame().rows.join(' '), /retry in/);
  h.dhcp.mode = 'answer';
  await h.event(p, 'registered once DHCP answers', isRegistered('device'));
});

flows('configuration ladder: no file for the phone, rounds back off 5 s doubling to 120 s; adding the phone ends it', async () => {
  h = await Harness.start({ companion: { security: { mode: 'none' }, serveDefaultConfig: false, autoRegistration: { enabled: false } } });
  const p = h.phone('00:11:22:33:44:a4');
  const isRetry = (e: StepEvent) => e.step === 'config' && e.state === 'retry';
  await h.until('seven configuration retries', () => p.steps().filter(isRetry).length >= 7 || undefined);
  const l = ladder(p, isRetry);
  assert.equal(l.map((x) => x.inSecs), [5, 10, 20, 40, 80, 120, 120]);
  for (let i = 1; i < l.length; i++) assert.ok(l[i]!.gapSecs >= l[i - 1]!.inSecs);
  const retry = p.steps().find(isRetry)!;
  assert.ok('reason' in retry && retry.reason === 'absent');
  assert.ok(transitions(p).filter((s) => s === 'configuration-retry').length >= 7);
  const added = h.companion!.phones.add({ mac: '0011223344a4', model: '8841', dn: '1004' });
  assert.is(added.kind, 'ok');
  const reg = await h.event(p, 'registered once the phone exists', isRegistered('device'));
  assert.is(reg.line, '1004');
});

flows('registration ladder: refused by the call manager, the phone reads its configuration again after 5 s doubling to 60 s', async () => {
  h = await Harness.start({ companion: { security: { mode: 'none' }, autoRegistration: { enabled: false } } });
  const p = h.phone('00:11:22:33:44:a5');
  const isRefused = (e: StepEvent) => e.step === 'register' && e.state === 'retry' && 'registration' in e && e.registration === 'refused';
  await h.until('six refusals', () => p.steps().filter(isRefused).length >= 6 || undefined);
  const l = ladder(p, isRefused);
  assert.equal(l.map((x) => x.inSecs), [5, 10, 20, 40, 60, 60]);
  for (let i = 1; i < l.length; i++) assert.ok(l[i]!.gapSecs >= l[i - 1]!.inSecs);
  const refused = p.steps().find(isRefused)!;
  assert.ok('status' in refused && refused.status === 403);
  assert.match(p.handset.frame().rows.join(' '), /autoregistration/i);
  // Each refusal sends the flow back to the trust lists and the configuration.
  const t = transitions(p);
  const i = t.indexOf('registration-retry');
  assert.equal(t.slice(i, i + 3), ['registration-retry', 'trust-lists', 'configuration']);
  h.companion!.phones.add({ mac: '0011223344a5', model: '8841', dn: '1005' });
  assert.is((await h.event(p, 'registered once added', isRegistered('device'))).line, '1005');
});

flows('no call manager answers: rounds back off 5 s doubling to 120 s, and the screen says so', async () => {
  const nobody = await freeTcpPort();
  h = await Harness.start({ companion: { security: { mode: 'none' }, callManagers: [{ host: '127.0.0.1', sipPort: nobody, priority: 0 }], phones: [{ mac: '0011223344a6', model: '8841', dn: '1006' }] } });
  const p = h.phone('00:11:22:33:44:a6');
  const isUnanswered = (e: StepEvent) => e.step === 'register' && e.state === 'retry' && 'registration' in e && e.registration === 'unanswered';
  await h.until('seven rounds', () => p.steps().filter(isUnanswered).length >= 7 || undefined);
  assert.equal(ladder(p, isUnanswered).map((x) => x.inSecs), [5, 10, 20, 40, 80, 120, 120]);
  assert.ok(p.steps().some((e) => e.step === 'register' && 'failed' in e && e.failed === true));
  assert.match(p.handset.frame().rows.join(" "), /No call manager\s+answered/i);
});

flows('--wait-scale: the same ladder, each wait a hundredth as long, and events still say the nominal seconds', async () => {
  const nobody = await freeTcpPort();
  h = await Harness.start({ companion: { security: { mode: 'none' }, callManagers: [{ host: '127.0.0.1', sipPort: nobody, priority: 0 }], phones: [{ mac: '0011223344b6', model: '8841', dn: '1016' }] } });
  const p = h.phone('00:11:22:33:44:b6', { waitScale: 0.01 });
  const isUnanswered = (e: StepEvent) => e.step === 'register' && e.state === 'retry' && 'registration' in e && e.registration === 'unanswered';
  await h.until('six rounds', () => p.steps().filter(isUnanswered).length >= 6 || undefined);
  const rounds = p.steps().filter(isUnanswered);
  assert.equal(ladder(p, isUnanswered).map((x) => x.inSecs), [5, 10, 20, 40, 80, 120]);
  // Virtual time between rounds: the scaled wait plus a round's own attempts, far below the nominal wait.
  for (let i = 1; i < rounds.length; i++) {
    const nominalMs = ladder(p, isUnanswered)[i - 1]!.inSecs * 1000;
    const gap = rounds[i]!.at - rounds[i - 1]!.at;
    assert.ok(gap < nominalMs / 2, `round ${i}: ${gap} ms after the last, nominal wait ${nominalMs} ms`);
  }
});

flows('service-control restart keeps the address and reads the configuration again; reset starts from DHCP', async () => {
  h = await Harness.start({ companion: { security: { mode: 'none' }, phones: [{ mac: '0011223344a7', model: '8841', dn: '1007' }] } });
  const p = h.phone('00:11:22:33:44:a7');
  await h.event(p, 'registered', isRegistered('device'));
  let seen = p.steps().length;
  const restart = await h.companion!.phones.reset('SEP0011223344A7', { action: 'restart' });
  assert.is(restart.kind, 'ok');
  await h.event(p, 'registered after the restart', isRegistered('device'), seen);
  let since = p.steps().slice(seen);
  assert.ok(since.some((e) => e.step === 'reboot' && e.kind === 'restart' && e.reason === 'reset-restart'));
  assert.ok(since.some((e) => e.step === 'dhcp' && e.state === 'done' && e.dhcp === 'kept'));
  assert.not.ok(since.some((e) => e.step === 'dhcp' && e.state === 'progress'), 'no DHCP on a restart');
  seen = p.steps().length;
  const reset = await h.companion!.phones.reset('SEP0011223344A7', { action: 'reset' });
  assert.is(reset.kind, 'ok');
  await h.event(p, 'registered after the reset', isRegistered('device'), seen);
  since = p.steps().slice(seen);
  assert.ok(since.some((e) => e.step === 'reboot' && e.kind === 'reset' && e.reason === 'reset-reset'));
  const first = since.find((e) => e.step === 'dhcp' && e.state === 'progress');
  assert.ok(first && first.dhcp === 'request', 'INIT-REBOOT with the stored lease');
  // The first REGISTER after the reset says why the phone restarted.
  assert.ok(h.companionLog.some((l) => /REGISTER SEP0011223344A7/.test(l)));
});

flows('a lease not renewed is lost at expiry: the phone reboots from DHCP and registers again when DHCP answers', async () => {
  h = await Harness.start({ leaseSecs: 600, companion: { security: { mode: 'none' }, phones: [{ mac: '0011223344a8', model: '8841', dn: '1008' }] } });
  const p = h.phone('00:11:22:33:44:a8');
  const reg = await h.event(p, 'registered', isRegistered('device'));
  const renewed = await h.event(p, 'renewed at T1', (e) => e.step === 'dhcp' && e.state === 'progress' && e.dhcp === 'renewed');
  assert.ok(renewed.at - reg.at < 600_000);
  h.dhcp.mode = 'silent';
  const seen = p.steps().length;
  const lost = await h.event(p, 'the lease lost', (e) => e.step === 'dhcp' && e.state === 'fail' && e.dhcp === 'lost', seen);
  assert.match(lost.message, /expired without renewal/);
  assert.ok(lost.at - renewed.at >= 600_000 * 0.875, 'not before T2 of the renewed lease');
  await h.event(p, 'the reboot', (e) => e.step === 'reboot' && e.reason === 'dhcp-lease-lost', seen);
  assert.is(await p.nvram.read('lease'), undefined, 'the lost lease is gone from NVRAM');
  h.dhcp.mode = 'answer';
  await h.event(p, 'registered again', isRegistered('device'), seen);
});

flows.run();
