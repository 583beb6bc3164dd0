/**
 * The self-provisioning IVR's dialogue and its decision, without a call: each auth mode walked
 * digit by digit, re-entry and confirmation, three failures ending the call, the eleventh phone
 * for a user with limit 10 refused, a provisioned phone refused, an unknown user and a wrong PIN
 * answered alike, and random digit storms never leaving the script in a bad state.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DEFAULT_PHONE_LIMIT, type IvrUser, decide } from '../../src/cm/ivr/decide.ts';
import { type IvrOutput, SelfProvisioningScript } from '../../src/cm/ivr/script.ts';

const t = suite('self-provisioning IVR script');
const keys = (s: SelfProvisioningScript, digits: string): IvrOutput[] => [...digits].flatMap((d) => s.digit(d));
const texts = (out: IvrOutput[]) => out.filter((o) => o.kind === 'prompt').map((o) => (o as { text: string }).text).join(' | ');
// "hash" = the secret reversed, so the test needs no crypto and a mix-up cannot pass by accident.
const verify = (secret: string, hash: string) => [...secret].reverse().join('') === hash;
const alice: IvrUser = { id: '5001', primaryDn: '2101', pinHash: '4321', passwordHash: undefined, selfProvisioning: true, limit: DEFAULT_PHONE_LIMIT, provisioned: 0 };
const device = { deviceName: 'SEP0011223344AA', autoregistered: true };

t('users mode: ID, confirm, PIN, then a check with both; the verdict ends the call with the extension', () => {
  const s = new SelfProvisioningScript({ auth: 'users' });
  assert.match(texts(s.start()), /user ID/);
  assert.equal(keys(s, '50'), []);
  assert.match(texts(keys(s, '01#')), /You entered 5 0 0 1\. Press 1 to confirm/);
  assert.match(texts(s.digit('1')), /Enter your PIN/);
  const out = keys(s, '1234#');
  assert.equal(out, [{ kind: 'check', userId: '5001', secret: '1234' }]);
  const v = decide({ auth: 'users', authCodeHash: undefined }, alice, device, '1234', verify);
  assert.equal(v, { ok: true, dn: '2101', by: 'user' });
  const end = s.verdict(v as { ok: true; dn: string });
  assert.equal(end[0]!.kind, 'hangup');
  assert.match((end[0] as { text: string }).text, /extension 2 1 0 1/);
  assert.is(s.state, 'done');
  assert.equal(s.digit('5'), [], 'nothing after the end');
});

t('no authentication: the check follows the confirmation; 2 re-enters the ID', () => {
  const s = new SelfProvisioningScript({ auth: 'none' });
  s.start();
  keys(s, '5002#');
  assert.match(texts(s.digit('2')), /Enter your self-service user ID/);
  keys(s, '5001#');
  assert.equal(s.digit('1'), [{ kind: 'check', userId: '5001', secret: undefined }]);
  assert.equal(decide({ auth: 'none', authCodeHash: undefined }, alice, device, undefined, verify), { ok: true, dn: '2101', by: 'none' });
});

t('users and administrators: the user\'s PIN or the authentication code (even an empty one); else refused', () => {
  const o = { auth: 'users-and-admins' as const, authCodeHash: '98765' };
  assert.equal(decide(o, alice, device, '56789', verify), { ok: true, dn: '2101', by: 'admin' });
  assert.equal(decide(o, alice, device, '1234', verify), { ok: true, dn: '2101', by: 'user' });
  assert.equal(decide(o, alice, device, '1111', verify), { ok: false, why: 'bad-secret' });
  assert.equal(decide({ auth: 'users-and-admins', authCodeHash: '' }, alice, device, '', verify), { ok: true, dn: '2101', by: 'admin' });
  assert.equal(decide({ auth: 'users', authCodeHash: '98765' }, alice, device, '56789', verify), { ok: false, why: 'bad-secret' }, 'end users only: no code');
  const s = new SelfProvisioningScript({ auth: 'users-and-admins' });
  s.start();
  keys(s, '5001#');
  assert.match(texts(s.digit('1')), /PIN, or the administrator authentication code/);
});

t('the rules: the 11th phone of a user with limit 10, a provisioned phone, a user not allowed, no primary extension', () => {
  const o = { auth: 'none' as const, authCodeHash: undefined };
  assert.equal(decide(o, { ...alice, provisioned: 9 }, device, undefined, verify).ok, true);
  assert.equal(decide(o, { ...alice, provisioned: 10 }, device, undefined, verify), { ok: false, why: 'limit' });
  assert.equal(decide(o, alice, { ...device, autoregistered: false }, undefined, verify), { ok: false, why: 'device' });
  assert.equal(decide(o, { ...alice, selfProvisioning: false }, device, undefined, verify), { ok: false, why: 'not-allowed' });
  assert.equal(decide(o, { ...alice, primaryDn: undefined }, device, undefined, verify), { ok: false, why: 'not-allowed' });
  assert.equal(decide(o, undefined, device, undefined, verify), { ok: false, why: 'unknown-user' });
});

t('an unknown user and a wrong PIN sound alike; three failures end the call', () => {
  const s = new SelfProvisioningScript({ auth: 'users' });
  s.start();
  keys(s, '9999#');
  s.digit('1');
  keys(s, '0000#');
  const a = texts(s.verdict({ ok: false, why: 'unknown-user' }));
  keys(s, '5001#');
  s.digit('1');
  keys(s, '0000#');
  const b = texts(s.verdict({ ok: false, why: 'bad-secret' }));
  assert.is(a, b);
  assert.match(a, /user ID or the PIN is not valid/);
  const end = s.timeout();
  assert.equal(end.map((o) => o.kind), ['hangup']);
  assert.is((end[0] as { reason: string }).reason, 'gave-up');
});

t('random digits, timeouts and verdicts never throw, and a finished script stays finished', () => {
  fc.assert(fc.property(fc.array(fc.oneof(fc.constantFrom(...'0123456789*#AB'.split('')), fc.constant('timeout'), fc.constant('verdict')), { maxLength: 200 }), fc.constantFrom('none', 'users', 'users-and-admins'), (steps, auth) => {
    const s = new SelfProvisioningScript({ auth: auth as 'none' });
    s.start();
    let done = false;
    for (const step of steps) {
      const out = step === 'timeout' ? s.timeout() : step === 'verdict' ? s.verdict({ ok: false, why: 'bad-secret' }) : s.digit(step);
      if (done) assert.equal(out, []);
      if (out.some((o) => o.kind === 'hangup')) done = true;
      assert.ok(out.every((o) => o.kind !== 'check' || /^\d{1,24}$/.test(o.userId)));
    }
  }), { numRuns: 500, seed: 3 });
});

t.run();
