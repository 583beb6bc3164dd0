/**
 * Bulk provisioning and the MAC field (issue 8), on the in-process harness: phones inserted from
 * a BAT CSV with a template (a bad row reported by line, nothing half-made), and a damaged phone
 * replaced by blanking its MAC and giving the new phone a new code.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import type { StepEvent } from '../../src/phone/events.ts';
import { Harness } from '../support/harness.ts';

const ownRegistration = (e: StepEvent) => e.step === 'register' && e.state === 'done' && e.configKind === 'device';

test('BAT insert: a bad row is reported by its line and nothing is made; a good file makes every phone, each with its code', async () => {
  const h = await Harness.start();
  try {
    const c = h.companion!;
    expectOk(c.onboarding.setDeviceDefault({ model: '8841', onboarding: 'activation-code' }));
    expectOk(c.onboarding.addUser({ id: 'bob', password: 'bob-secret-22' }));
    expectOk(c.bulk.addTemplate({ name: 'lab 8841', model: '8841', requireActivationCode: true }));
    const before = expectOk(c.phones.list()).length;
    const bad = 'MAC ADDRESS,DESCRIPTION,OWNER USER ID,DIRECTORY NUMBER 1\r\n,desk 1,bob,1801\r\n"00:11:22:33:44:c9","desk, 2",,1802\r\nnot-a-mac,desk 3,,1803\r\n';
    const refused = c.bulk.insert({ csv: bad, template: 'lab 8841', dummyMac: true });
    assert.ok(refused.kind === 'invalid' && /^line 4: "not-a-mac" is not a MAC address/.test(refused.message), JSON.stringify(refused));
    assert.is(expectOk(c.phones.list()).length, before, 'nothing was inserted');
    const noDummy = c.bulk.insert({ csv: bad.replace('not-a-mac', '00:11:22:33:44:ca'), template: 'lab 8841' });
    assert.ok(noDummy.kind === 'invalid' && /^line 2: MAC ADDRESS is empty/.test(noDummy.message));

    const made = expectOk(c.bulk.insert({ csv: bad.replace('not-a-mac', '00:11:22:33:44:ca'), template: 'lab 8841', dummyMac: true }));
    assert.is(made.count, 3);
    assert.match(made.phones[0]!.deviceName, /^BAT/);
    assert.equal(made.phones.slice(1).map((p) => p.deviceName), ['SEP0011223344C9', 'SEP0011223344CA']);
    assert.ok(made.phones.every((p) => /^\d{4}-\d{4}-\d{4}-\d{4}$/.test(p.activationCode ?? '')));
    assert.is(expectOk(c.phones.show(made.phones[0]!.deviceName)).owner, 'bob');
    assert.is(expectOk(c.phones.show('SEP0011223344C9')).description, 'desk, 2');

    const p = h.phone('00:11:22:33:44:cb', { activationCode: made.phones[0]!.activationCode! });
    const reg = await h.event(p, 'registered', ownRegistration);
    assert.is(reg.step === 'register' && reg.state === 'done' && reg.line, '1801');
  } finally {
    await h.stop();
  }
});

test('replacing a damaged phone: the MAC blanked makes it BAT again, a new code onboards the new phone on the same line', async () => {
  const h = await Harness.start();
  try {
    const c = h.companion!;
    expectOk(c.onboarding.setDeviceDefault({ model: '8841', onboarding: 'activation-code' }));
    const first = expectOk(c.phones.add({ mac: '00:11:22:33:44:d7', model: '8841', dn: '1807', password: 'line-1807', requireActivationCode: true }));
    const old = h.phone('00:11:22:33:44:d7', { activationCode: first.activationCode!.code });
    await h.event(old, 'the first phone registers', ownRegistration);
    await old.handset.powerOff();

    const blanked = expectOk(c.phones.setMac('SEP0011223344D7', { mac: null }));
    assert.match(blanked.deviceName, /^BAT[0-9A-F]{12}$/);
    assert.is(blanked.mac, null);
    const fresh = expectOk(c.onboarding.code(blanked.deviceName, { action: 'new' }));
    assert.ok('code' in fresh);
    const replacement = h.phone('00:11:22:33:44:d8', { activationCode: 'code' in fresh ? fresh.code : '' });
    const reg = await h.event(replacement, 'the new phone registers on the old line', ownRegistration);
    assert.is(reg.step === 'register' && reg.state === 'done' && reg.line, '1807');
    assert.ok(replacement.steps().some((e) => e.step === 'register' && e.state === 'progress' && e.registration === 'challenged'), 'with the line password, re-sealed under each new name');
    // Typing a MAC turns BAT into SEP (and refuses one that is taken).
    const spare = expectOk(c.phones.add({ model: '8841', dn: '1809', requireActivationCode: true }));
    assert.equal(c.phones.setMac(spare.deviceName, { mac: '00:11:22:33:44:d8' }).kind, 'conflict');
    assert.is(expectOk(c.phones.setMac(spare.deviceName, { mac: '00:11:22:33:44:d9' })).deviceName, 'SEP0011223344D9');
    assert.ok(expectOk(c.onboarding.showCode('SEP0011223344D9')).code, 'its code followed it');
  } finally {
    await h.stop();
  }
});

test.run();
