/**
 * Activation-code onboarding end to end on the in-process harness (issue 8), real sockets and
 * real mutual TLS: the admin provisions phones under BAT names or real MACs, each gets a code,
 * a phone types it, the Device Activation Service checks its MIC and the code, the phone
 * becomes SEP<MAC>, reads its own file and registers. And the ways a code is refused.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import type { StepEvent } from '../../src/phone/events.ts';
import { ManufacturingCa } from '../../src/factory/manufacturing-ca.ts';
import { luhnDigit } from '../../src/wire/activation-code.ts';
import type { Key } from '../../src/phone/keys.ts';
import { Harness, type HarnessPhone } from '../support/harness.ts';

const ownRegistration = (e: StepEvent) => e.step === 'register' && e.state === 'done' && e.configKind === 'device';
const onboarding = (p: HarnessPhone) => p.steps().filter((e) => e.step === 'onboarding');
const refusedWith = (reason: string) => (e: StepEvent) => e.step === 'onboarding' && e.state === 'fail' && 'reason' in e && e.reason === reason;

async function activationLab(): Promise<Harness> {
  const h = await Harness.start();
  expectOk(h.companion!.onboarding.setDeviceDefault({ model: '8841', onboarding: 'activation-code' }));
  expectOk(h.companion!.onboarding.setDeviceDefault({ model: '7841', onboarding: 'activation-code' }));
  return h;
}

const addBat = (h: Harness, model: string, dn: string) => {
  const v = expectOk(h.companion!.phones.add({ model, dn, password: `pw-${dn}`, requireActivationCode: true }));
  assert.match(v.deviceName, /^BAT[0-9A-F]{12}$/);
  return { deviceName: v.deviceName, code: v.activationCode!.code.replace(/-/g, '') };
};

/** A wrong code that still passes the check digit, so it reaches the service. */
const wrongCode = (n: number) => {
  const fifteen = String(100_000_000_000_000 + n).slice(-15);
  return fifteen + luhnDigit(fifteen);
};

test('BAT provisioning: the phone types its code, becomes SEP<MAC>, reads its own file and registers', async () => {
  const h = await activationLab();
  try {
    const c = h.companion!;
    const bat = addBat(h, '8841', '1601');
    assert.match((await (await fetch(`http://127.0.0.1:${c.endpoints.http}/XMLDefault.cnf.xml`)).text()), /<emuOnboarding model="Cisco 8841" method="activationCode" service="https:\/\/127\.0\.0\.1:\d+\/emu-act\/v1\/"/);
    const p = h.phone('00:11:22:33:44:f1', { activationCode: bat.code });
    const reg = await h.event(p, 'registered on its own file', ownRegistration);
    assert.is(reg.step === 'register' && reg.state === 'done' && reg.line, '1601');
    assert.ok(onboarding(p).some((e) => e.state === 'done' && 'deviceName' in e && e.deviceName === 'SEP0011223344F1'));
    // The device is the phone now; the code is gone, its use audited without the code itself.
    assert.is(expectOk(c.phones.show('SEP0011223344F1')).requiresActivationCode, false);
    assert.is(c.phones.show(bat.deviceName).kind, 'not-found');
    assert.is(c.onboarding.showCode('SEP0011223344F1').kind, 'not-found');
    const log = h.companionLog.join('\n');
    assert.match(log, new RegExp(`activation 127\\.0\\.0\\.1 0011223344F1: activated ${bat.deviceName} is now SEP0011223344F1`));
    assert.not.ok(log.includes(bat.code), 'no code in the log');
    // A code never shows in the phone's events either.
    assert.not.ok(JSON.stringify(p.events).includes(bat.code));
  } finally {
    await h.stop();
  }
});

test('a typo is caught by the check digit on the phone; the code typed on the keypad then works', async () => {
  const h = await activationLab();
  try {
    const bat = addBat(h, '8841', '1602');
    const typo = bat.code.slice(0, 15) + String((Number(bat.code[15]) + 1) % 10);
    const p = h.phone('00:11:22:33:44:f2', { activationCode: typo });
    await h.event(p, 'typo caught', (e) => e.step === 'onboarding' && e.state === 'fail' && 'onboarding' in e && e.onboarding === 'typo');
    assert.not.ok(onboarding(p).some((e) => e.state === 'progress'), 'nothing was sent');
    await h.until('asked again', () => /Activation code[\s\S]*digit is wrong/.test(p.handset.frame().rows.join('\n')) || undefined);
    p.keypad.press(...(bat.code.split('') as Key[]), 'soft1');
    await h.event(p, 'registered', ownRegistration);
  } finally {
    await h.stop();
  }
});

test('a code is for its model (BAT) or its MAC (secure shipping): other phones are refused', async () => {
  const h = await activationLab();
  try {
    const c = h.companion!;
    const for7841 = addBat(h, '7841', '1603');
    const wrongModel = h.phone('00:11:22:33:44:f3', { activationCode: for7841.code });
    await h.event(wrongModel, 'model mismatch', refusedWith('model_mismatch'));
    assert.match(wrongModel.handset.frame().rows.join('\n'), /another[\s\S]*model/);

    const shipped = expectOk(c.phones.add({ mac: '00:11:22:33:44:f5', model: '8841', dn: '1605', requireActivationCode: true }));
    const code = shipped.activationCode!.code.replace(/-/g, '');
    // Until activated the phone has no file of its own: it finds the default file and the code screen.
    assert.is((await fetch(`http://127.0.0.1:${c.endpoints.http}/SEP0011223344F5.cnf.xml`)).status, 404);
    const thief = h.phone('00:11:22:33:44:f4', { activationCode: code });
    await h.event(thief, 'another MAC refused', refusedWith('mac_mismatch'));
    const owner = h.phone('00:11:22:33:44:f5', { activationCode: code });
    const reg = await h.event(owner, 'the right phone registers', ownRegistration);
    assert.is(reg.step === 'register' && reg.state === 'done' && reg.line, '1605');
  } finally {
    await h.stop();
  }
});

test('expired codes are refused; brute force locks the phone out and says for how long', async () => {
  const h = await activationLab();
  try {
    const bat = addBat(h, '8841', '1606');
    await h.clock.advance(169 * 3_600_000);
    const late = h.phone('00:11:22:33:44:f6', { activationCode: bat.code });
    await h.event(late, 'expired', refusedWith('expired'));

    const guesser = h.phone('00:11:22:33:44:f7');
    for (let i = 0; i < 5; i++) {
      await h.until(`asked for code ${i + 1}`, () => /Activation code/.test(guesser.handset.frame().rows.join('\n')) || undefined);
      guesser.keypad.press(...(wrongCode(i).split('') as Key[]), 'soft1');
      await h.event(guesser, `wrong code ${i + 1} refused`, refusedWith('invalid_code'), 0);
      guesser.events.length = 0;
    }
    await h.until('asked again', () => /Activation code/.test(guesser.handset.frame().rows.join('\n')) || undefined);
    guesser.keypad.press(...(wrongCode(99).split('') as Key[]), 'soft1');
    const locked = await h.event(guesser, 'locked out', (e) => e.step === 'onboarding' && e.state === 'fail' && 'onboarding' in e && e.onboarding === 'locked-out');
    assert.ok('retryAfterSecs' in locked && locked.retryAfterSecs! > 800 && locked.retryAfterSecs! <= 900, JSON.stringify(locked));
    assert.ok(h.companionLog.some((l) => /limit activation 0011223344F7 from 127\.0\.0\.1: 5 wrong codes, locked out for 15 minutes/.test(l)));
  } finally {
    await h.stop();
  }
});

test('two phones racing with one code: exactly one wins', async () => {
  const h = await activationLab();
  try {
    const bat = addBat(h, '8841', '1608');
    const a = h.phone('00:11:22:33:44:a8', { activationCode: bat.code });
    const b = h.phone('00:11:22:33:44:b8', { activationCode: bat.code });
    const settled = (p: HarnessPhone) => onboarding(p).find((e) => e.state === 'done' || (e.state === 'fail' && 'onboarding' in e && e.onboarding === 'refused'));
    await h.until('both answered', () => (settled(a) && settled(b)) || undefined);
    const wins = [a, b].filter((p) => settled(p)!.state === 'done');
    assert.is(wins.length, 1, 'one phone activated');
    const loser = [a, b].find((p) => settled(p)!.state !== 'done')!;
    assert.ok(refusedWith('invalid_code')(settled(loser)!), 'the other found the code used');
  } finally {
    await h.stop();
  }
});

test('a MIC from another factory is refused, and a phone without a MIC says it cannot onboard', async () => {
  const h = await activationLab();
  try {
    const bat = addBat(h, '8841', '1609');
    const other = (await ManufacturingCa.open(join(await mkdtemp(join(tmpdir(), 'sepi-other-factory-')), 'f'), h.clock.now(), 'Other Manufacturing CA')).ca;
    const forged = h.phone('00:11:22:33:44:f9', { activationCode: bat.code, micIssuer: other });
    await h.event(forged, 'MIC refused', refusedWith('mic_untrusted'));
    assert.ok(h.companionLog.some((l) => /activation .* 0011223344F9: mic_untrusted MIC refused: issued by .*Other Manufacturing CA/.test(l)));
    const bare = h.phone('00:11:22:33:44:fa', { noMic: true });
    await h.event(bare, 'no MIC', (e) => e.step === 'onboarding' && e.state === 'fail' && 'onboarding' in e && e.onboarding === 'no-mic');
    assert.is(expectOk(h.companion!.onboarding.showCode(bat.deviceName)).deviceName, bat.deviceName, 'the code is still outstanding');
  } finally {
    await h.stop();
  }
});

test('re-onboarding a registered phone: a new code sends it back to the code screen', async () => {
  const h = await activationLab();
  try {
    const c = h.companion!;
    expectOk(c.phones.add({ mac: '00:11:22:33:44:fb', model: '8841', dn: '1610' }));
    const p = h.phone('00:11:22:33:44:fb');
    await h.event(p, 'registered', ownRegistration);
    const fresh = expectOk(c.onboarding.code('SEP0011223344FB', { action: 'new' }));
    assert.ok('code' in fresh);
    const mark = p.events.length;
    p.handset.firmware.reboot('restart', 'user-restart');
    await h.event(p, 'asks for a code', (e) => e.step === 'onboarding' && e.state === 'start', mark);
    await h.until('code screen', () => /Activation code/.test(p.handset.frame().rows.join('\n')) || undefined);
    p.keypad.press(...(('code' in fresh ? fresh.code : '').replace(/-/g, '').split('') as Key[]), 'soft1');
    await h.event(p, 'registered again', ownRegistration, mark);
  } finally {
    await h.stop();
  }
});

test.run();
