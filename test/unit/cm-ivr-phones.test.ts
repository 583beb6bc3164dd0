/**
 * The self-provisioning IVR on the in-process harness (issue 10, "It must show"): an
 * autoregistered phone dials the IVR's extension, keys the user ID and the PIN (or the
 * administrators' code, or nothing) as RFC 4733 digits, hears the prompts (a beep each, the
 * text in an INFO it reports as a call event), is hung up on, reset with service-control, and
 * comes back on the user's extension; past the user's limit, with a wrong PIN, or from a phone
 * that is not autoregistered, the IVR refuses and the phone keeps its line.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { StepEvent } from '../../src/phone/events.ts';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import { CompanionDb } from '../../src/cm/db.ts';
import { Harness, type HarnessPhone, isCall, type CallStep } from '../support/harness.ts';

const t = suite('the self-provisioning IVR answers a phone and provisions it');
let h: Harness;

t.after.each(async () => {
  await h?.stop();
});

type Registered = Extract<StepEvent, { step: 'register' }> & { line?: string; configKind?: string };
const onOwnFile = (e: StepEvent): e is Registered => e.step === 'register' && e.state === 'done' && (e as Registered).configKind === 'device';

/** An autoregistered phone on its own file (DN 3000), the IVR on 8999, user 5001 (PIN 1234, DN 2101). */
async function setUp(auth: 'none' | 'users' | 'users-and-admins', dtmf: string, o: { authCode?: string; provisioned?: number } = {}): Promise<HarnessPhone> {
  h = await Harness.start({ companion: { security: { mode: 'none' }, autoRegistration: { enabled: true, dnRange: ['3000', '3099'] } } });
  const c = h.companion!;
  expectOk(c.onboarding.addUser({ id: '5001', password: 'correct horse', pin: '1234', primaryDn: '2101' }));
  expectOk(c.ivr.setUser('5001', { selfProvisioning: true }));
  const inRange = c.ivr.set({ extension: '3050' });
  assert.ok(inRange.kind === 'invalid' && /autoregistration range 3000-3099/.test(inRange.message), 'an extension autoregistration could give a phone');
  expectOk(c.ivr.set({ extension: '8999', auth, ...(o.authCode !== undefined ? { authCode: o.authCode } : {}) }));
  if (o.provisioned !== undefined) {
    // The count as ten earlier phones would have left it: straight into the database.
    const db = new CompanionDb(h.dataFolder);
    db.handle.prepare('UPDATE users SET provisioned = ? WHERE id = ?').run(o.provisioned, '5001');
    db.close();
  }
  const p = h.phone('00:11:22:33:55:01', { calls: { dtmfOnConnect: dtmf } });
  const own = await h.event(p, 'registered on its autoregistered line', onOwnFile);
  assert.is(own.line, '3000');
  return p;
}

const prompts = (p: HarnessPhone) => p.steps().filter((e) => e.step === 'call' && e.call === 'prompt').map((e) => (e as { text: string }).text);

async function callIvr(p: HarnessPhone): Promise<CallStep & { at: number }> {
  const seen = p.steps().length;
  p.keypad.press('8', '9', '9', '9', 'soft1');
  await h.event(p, 'connected to the IVR', isCall('connected'), seen);
  return h.event(p, 'the IVR hung up', isCall('ended'), seen, 120_000);
}

async function provisioned(auth: 'none' | 'users' | 'users-and-admins', dtmf: string, authCode?: string): Promise<void> {
  const p = await setUp(auth, dtmf, authCode !== undefined ? { authCode } : {});
  const seen = p.steps().length;
  const end = await callIvr(p);
  assert.ok(end.call === 'ended' && end.state === 'done' && end.reason === 'remote-hangup', JSON.stringify(end));
  const said = prompts(p);
  assert.match(said[0] ?? '', /Welcome to self-provisioning/);
  assert.match(said.at(-1) ?? '', /provisioned with extension 2 1 0 1\. It will now restart/);
  const back = await h.event(p, 'registered on the user\'s extension', onOwnFile, seen);
  assert.is(back.line, '2101');
  assert.ok(p.steps().slice(seen).some((e) => e.step === 'reboot' && e.reason === 'reset-reset'), 'reset by service-control');
  const phone = expectOk(h.companion!.phones.show('SEP001122335501')) as { dn: string };
  assert.is(phone.dn, '2101');
  assert.equal(expectOk(h.companion!.ivr.user('5001')).provisioned, 1);
  assert.equal(expectOk(h.companion!.onboarding.users()).find((u) => u.id === '5001')?.phones, ['SEP001122335501'], 'the user owns the phone');
  assert.ok(h.companionLog.some((l) => /ivr SEP001122335501 \(3000\): says "Enter your self-service user ID/.test(l)), 'the prompt text in the log');
  assert.ok(h.companionLog.some((l) => /provisioned SEP001122335501 for user 5001 on 2101 \(authenticated \w+\); 3000 back to the autoregistration range/.test(l)), h.companionLog.filter((l) => l.startsWith('ivr')).join('\n'));
}

t('auth users: user ID, confirm, PIN: reset, and back on the user\'s extension', async () => {
  await provisioned('users', '5001#11234#');
});

t('auth none: user ID and confirm are enough', async () => {
  await provisioned('none', '5001#1');
});

t('auth users-and-admins: the administrators\' authentication code', async () => {
  await provisioned('users-and-admins', '5001#1987654#', '987654');
});

async function refused(p: HarnessPhone, why: RegExp): Promise<void> {
  const end = await callIvr(p);
  assert.ok(end.call === 'ended' && end.reason === 'remote-hangup', JSON.stringify(end));
  assert.match(prompts(p).at(-1) ?? '', why);
  // No reset: the phone stays on its line, registered.
  await h.until('a while after', () => h.clock.now() > end.at + 15_000 || undefined);
  assert.not.ok(p.steps().some((e) => e.step === 'reboot' && e.at > end.at), 'not reset');
  assert.is((expectOk(h.companion!.phones.show('SEP001122335501')) as { dn: string }).dn, '3000');
}

t('the eleventh phone for a user with limit 10 is refused', async () => {
  const p = await setUp('users', '5001#11234#', { provisioned: 10 });
  await refused(p, /reached the limit/);
  assert.equal(expectOk(h.companion!.ivr.user('5001')).provisioned, 10);
});

t('a wrong PIN is refused (three times, then goodbye)', async () => {
  const p = await setUp('users', '5001#19999#5001#19999#5001#19999#');
  await refused(p, /not valid\. Goodbye/);
});

t('a phone that is not autoregistered cannot be provisioned', async () => {
  const p = await setUp('users', '5001#11234#');
  // The admin gives the phone a line of its own: it is no longer an autoregistered phone.
  const db = new CompanionDb(h.dataFolder);
  db.handle.prepare('UPDATE phones SET autoregistered = 0 WHERE device_name = ?').run('SEP001122335501');
  db.close();
  await refused(p, /This device cannot be provisioned/);
});

t('no digit for 10 s, three times: the IVR says goodbye after 30 s of virtual time', async () => {
  const p = await setUp('users', '');
  const seen = p.steps().length;
  await refused(p, /No entry was received\. Goodbye/);
  const connected = p.steps().slice(seen).find(isCall('connected'))!;
  const end = p.steps().slice(seen).find(isCall('ended'))!;
  assert.ok(end.at - connected.at >= 30_000 && end.at - connected.at < 35_000, `ended ${end.at - connected.at} ms after connecting`);
  assert.equal(prompts(p).filter((t) => /No entry was received/.test(t)).length, 3);
});

t.run();
