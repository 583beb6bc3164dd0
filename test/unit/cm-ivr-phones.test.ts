/**
 * The self-provisioning IVR on the in-process harness (issue 10, "It must show"): an
 * autoregistered phone dials the IVR's extension, keys the user ID and the PIN (or the
 * administrators' code, or nothing) as RFC 4733 digits, hears the prompts (a beep each, the
 * text in an INFO it reports as a call event), is hung up on, reset with service-control, and
 * comes back on the user's extension; past the user's limit, with a wrong PIN, or from a phone
 * that is not autoregistered, the IVR refuses and the phone keeps its line. With universal
 * templates: the autoregistered phone wears autoregistration's, and the provisioned phone its
 * user profile's — in the phone record, in its cnf.xml, and in the From of its calls.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { StepEvent } from '../../src/phone/events.ts';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import { CompanionDb } from '../../src/cm/db.ts';
import { parsePhoneConfig } from '../../src/wire/cnf-xml.ts';
import { Harness, type HarnessPhone, isCall, type CallStep } from '../support/harness.ts';

const t = suite('the self-provisioning IVR answers a phone and provisions it');
let h: Harness;

t.after.each(async () => {
  await h?.stop();
});

type Registered = Extract<StepEvent, { step: 'register' }> & { line?: string; configKind?: string; label?: string; speedDials?: Array<{ button: number; number: string; label: string }> };
const onOwnFile = (e: StepEvent): e is Registered => e.step === 'register' && e.state === 'done' && (e as Registered).configKind === 'device';

/** An autoregistered phone on its own file (DN 3000), the IVR on 8999, user 5001 (PIN 1234, DN 2101). */
async function setUp(auth: 'none' | 'users' | 'users-and-admins', dtmf: string, o: { authCode?: string; provisioned?: number; templates?: boolean } = {}): Promise<HarnessPhone> {
  h = await Harness.start({ companion: { security: { mode: 'none' }, autoRegistration: { enabled: true, dnRange: ['3000', '3099'] } } });
  const c = h.companion!;
  expectOk(c.onboarding.addUser({ id: '5001', password: 'correct horse', pin: '1234', primaryDn: '2101', name: 'Ada King Lovelace' }));
  if (o.templates) {
    // System > Cisco Unified CM's templates for new phones, and user profile "staff" for 5001.
    const t = c.templates;
    expectOk(t.addDeviceTemplate({ name: 'lobby', description: 'Lobby #DN# (#Product#)', devicePool: 'Lobby', speedDials: [{ number: '8999', label: 'Self-provisioning' }] }));
    expectOk(t.addLineTemplate({ name: 'lobby-line', displayName: 'Lobby #DN#', label: 'Lobby' }));
    expectOk(t.setAutoRegistration({ deviceTemplate: 'lobby', lineTemplate: 'lobby-line' }));
    expectOk(t.addDeviceTemplate({ name: 'desk', description: '#FirstName# #LastName# (#Product#)', devicePool: 'Floor 3', speedDials: [{ number: '2000', label: 'Help desk' }] }));
    expectOk(t.addLineTemplate({ name: 'desk-line', displayName: '#FirstName# #LastName#', label: '#LastName# #DN#', externalMask: '408555XXXX' }));
    expectOk(t.addProfile({ name: 'staff', deviceTemplate: 'desk', lineTemplate: 'desk-line', selfProvisioning: true }));
    expectOk(c.ivr.setUser('5001', { profile: 'staff' }));
  } else expectOk(c.ivr.setUser('5001', { selfProvisioning: true }));
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

/** Dials 8999 on the keypad, or with `speedDial` highlights the home screen's speed dial to it and presses Select. */
async function callIvr(p: HarnessPhone, o: { speedDial?: boolean } = {}): Promise<CallStep & { at: number }> {
  const seen = p.steps().length;
  if (o.speedDial) {
    p.keypad.press('down');
    assert.match(p.handset.frame().rows.join('\n'), /^>SD 8999 Self-provis$/m, 'the speed dial highlighted');
    p.keypad.press('select');
  } else p.keypad.press('8', '9', '9', '9', 'soft1');
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

const cnfXml = async (device: string) => {
  const r = parsePhoneConfig(await (await fetch(`http://127.0.0.1:${h.companion!.endpoints.http}/${device}.cnf.xml`)).text());
  if (!r.ok || r.value.kind !== 'device') throw new Error(`no device file for ${device}`);
  return r.value;
};

t('templates: autoregistration\'s on the new phone, the user profile\'s once provisioned (record, cnf.xml, From)', async () => {
  const p = await setUp('users', '5001#11234#', { templates: true });
  const auto = expectOk(h.companion!.phones.show('SEP001122335501'));
  assert.is(auto.description, 'Lobby 3000 (Cisco 8841)');
  assert.equal(auto.templates, { deviceTemplate: 'lobby', lineTemplate: 'lobby-line', devicePool: 'Lobby', speedDials: [{ number: '8999', label: 'Self-provisioning' }], displayName: 'Lobby 3000', label: 'Lobby', externalNumber: '' });
  let file = await cnfXml('SEP001122335501');
  assert.is(file.devicePoolName, 'Lobby');
  assert.equal([file.lines[0]?.displayName, file.lines[0]?.label], ['Lobby 3000', 'Lobby']);
  assert.equal(file.speedDials, [{ button: 2, number: '8999', label: 'Self-provisioning' }], 'the seed\'s tip: a speed dial to the IVR');

  // The seed's tip at work: the user reaches the IVR with the speed-dial key.
  const home0 = p.handset.frame().rows.join('\n');
  assert.match(home0, /^SD 8999 Self-provisi$/m, `the speed dial (20 columns), not highlighted yet:\n${home0}`);
  const seen = p.steps().length;
  const end = await callIvr(p, { speedDial: true });
  assert.ok(end.call === 'ended' && end.reason === 'remote-hangup', JSON.stringify(end));
  assert.ok(p.steps().slice(seen).some((e) => e.step === 'call' && e.call === 'calling' && (e as { number?: string }).number === '8999'), 'the call went to 8999');
  const back = await h.event(p, 'registered on the user\'s extension', onOwnFile, seen);
  assert.is(back.line, '2101');
  // The phone shows what the templates gave: the line's label and the speed-dial key.
  assert.equal([back.label, back.speedDials], ['Lovelace 2101', [{ button: 2, number: '2000', label: 'Help desk' }]]);
  p.keypad.press('soft2'); // Exit the ended call's screen
  const home = p.handset.frame().rows.join('\n');
  assert.match(home, /2101 Lovelace 2101/);
  assert.match(home, /SD 2000 Help desk/);
  const mine = expectOk(h.companion!.phones.show('SEP001122335501'));
  assert.is(mine.description, 'Ada King Lovelace (Cisco 8841)');
  assert.equal(mine.templates, { deviceTemplate: 'desk', lineTemplate: 'desk-line', devicePool: 'Floor 3', speedDials: [{ number: '2000', label: 'Help desk' }], displayName: 'Ada King Lovelace', label: 'Lovelace 2101', externalNumber: '4085552101' });
  file = await cnfXml('SEP001122335501');
  assert.is(file.devicePoolName, 'Floor 3');
  assert.equal([file.lines[0]?.dn, file.lines[0]?.displayName, file.lines[0]?.label], ['2101', 'Ada King Lovelace', 'Lovelace 2101']);
  assert.equal(file.speedDials, [{ button: 2, number: '2000', label: 'Help desk' }]);
  assert.ok(h.companionLog.some((l) => /user profile staff: device template desk, line template desk-line applied/.test(l)), 'said in the log');
  assert.equal(expectOk(h.companion!.ivr.user('5001')), { id: '5001', profile: 'staff', selfProvisioning: true, limit: 10, provisioned: 1, deviceTemplate: 'desk', lineTemplate: 'desk-line' });

  // The line's display name is the From display name of its calls: another phone sees it ring.
  const other = h.phone('00:11:22:33:55:02', { calls: {} });
  const line = (await h.event(other, 'the second phone on its autoregistered line', onOwnFile)).line!;
  const ringing = h.event(other, 'rings with the caller\'s name', isCall('ringing'));
  p.keypad.press(...(line.split('') as Array<'0'>), 'soft1');
  const r = await ringing;
  assert.equal([r.call === 'ringing' && r.number, r.call === 'ringing' && r.name], ['2101', 'Ada King Lovelace']);
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
