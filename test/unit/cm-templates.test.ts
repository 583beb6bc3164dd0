/**
 * Universal templates (src/cm/templates/): the tokens of a pattern expanded and refused, the
 * external number mask, speed dials parsed; templates applied to a phone; a schema-11 database
 * (users with their own self-provisioning flag) opened by schema 12; the admin operations'
 * checks; and autoregistration applying its templates so the phone's cnf.xml carries them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { VirtualClock } from '../../src/common/clock.ts';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import { AutoRegistration } from '../../src/cm/autoregistration.ts';
import { buildConfig } from '../../src/cm/config.ts';
import { CompanionDb, MIGRATIONS, SCHEMA_VERSION } from '../../src/cm/db.ts';
import { IvrOperations } from '../../src/cm/ivr/operations.ts';
import { IvrStore } from '../../src/cm/ivr/store.ts';
import { ProvisioningFiles } from '../../src/cm/provisioning-files.ts';
import { dress, tokenValues as tokenValuesFor } from '../../src/cm/templates/apply.ts';
import { TemplateOperations } from '../../src/cm/templates/operations.ts';
import { DEFAULT_APPLIED, UniversalTemplateStore } from '../../src/cm/templates/store.ts';
import { applyMask, expand, parseSpeedDial, patternProblem, splitName } from '../../src/cm/templates/apply.ts';
import { parsePhoneConfig } from '../../src/wire/cnf-xml.ts';

const dirs: string[] = [];
const folder = async () => {
  const d = await mkdtemp(join(tmpdir(), 'sepi-templates-'));
  dirs.push(d);
  return d;
};
test.after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('tokens: expanded, gaps closed; an unknown token, a control character or a long pattern refused', () => {
  const v = tokenValuesFor({ phone: { deviceName: 'SEP001122334455', model: '8841', dn: '2101' }, user: { id: 'ada', name: 'Ada King Lovelace' } });
  assert.is(expand('#FirstName# #LastName# (#Product#)', v), 'Ada King Lovelace (Cisco 8841)');
  assert.is(expand('#UserID# #DN# #Protocol# #DeviceName#', v), 'ada 2101 SIP SEP001122334455');
  const none = tokenValuesFor({ phone: { deviceName: 'SEP001122334455', model: '8841', dn: '3000' } });
  assert.is(expand('#FirstName#  #LastName# Auto #DN#', none), 'Auto 3000', 'no user: no gap');
  assert.is(expand('# 1 #NotAToken', v), '# 1 #NotAToken', 'a lone # is text');
  assert.is(patternProblem('#FirstName# #LastName#'), undefined);
  assert.match(patternProblem('#Firstname#') ?? '', /unknown token #Firstname#/);
  assert.match(patternProblem('a\u0007b') ?? '', /control/);
  assert.match(patternProblem('x'.repeat(129)) ?? '', /at most 128/);
  assert.equal(splitName('Lovelace'), { first: '', last: 'Lovelace' });
  assert.equal(splitName('  Ada   Lovelace '), { first: 'Ada', last: 'Lovelace' });
});

test('the external phone number mask fills its X from the right with the DN', () => {
  assert.is(applyMask('408555XXXX', '2101'), '4085552101');
  assert.is(applyMask('+1408555XXXX', '12101'), '+14085552101', 'a longer DN gives its last digits');
  assert.is(applyMask('40855XXXXX', '2101'), '408552101', 'an X with no digit left is dropped');
  assert.is(applyMask('4085550000', '2101'), '4085550000', 'no X: the mask is the number');
  assert.is(applyMask('', '2101'), '');
});

test('speed dials: NUMBER or NUMBER=LABEL; what a phone cannot dial is refused', () => {
  assert.equal(parseSpeedDial('8999=Self-provisioning'), { number: '8999', label: 'Self-provisioning' });
  assert.equal(parseSpeedDial('8999'), { number: '8999', label: '8999' });
  assert.match(String(parseSpeedDial('89a9')), /not a number a phone can dial/);
  assert.match(String(parseSpeedDial(`1=${'x'.repeat(31)}`)), /at most 30/);
});

test('dress: the templates\' values, or the defaults and the fallback description without them', () => {
  const phone = { deviceName: 'SEP001122334455', model: '8841', dn: '2101' };
  const bare = dress({ device: undefined, line: undefined, phone, user: { id: 'ada', name: 'Ada Lovelace' } }, 'ada 2101');
  assert.equal(bare, { description: 'ada 2101', applied: DEFAULT_APPLIED });
  const d = dress({
    device: { name: 'desk', description: '#LastName# (#Product#)', devicePool: 'Floor 3', speedDials: [{ number: '8999', label: 'IVR' }] },
    line: { name: 'l', displayName: '#FirstName# #LastName#', label: '#DN# #LastName#', externalMask: '408555XXXX' }, phone, user: { id: 'ada', name: 'Ada Lovelace' },
  }, 'ada 2101');
  assert.equal(d, {
    description: 'Lovelace (Cisco 8841)',
    applied: { deviceTemplate: 'desk', lineTemplate: 'l', devicePool: 'Floor 3', speedDials: [{ number: '8999', label: 'IVR' }], displayName: 'Ada Lovelace', label: '2101 Lovelace', externalNumber: '4085552101' },
  });
});

test('schema 11 → 12: users keep their own flag and limit (the implicit profile); a named profile then wins', async () => {
  const dir = await folder();
  const raw = new DatabaseSync(join(dir, 'companion.sqlite'));
  for (const m of MIGRATIONS.slice(0, 11)) raw.exec(m);
  raw.exec('PRAGMA user_version = 11');
  raw.exec(`INSERT INTO users (id, name, password_hash, primary_dn, created_at, self_provisioning, provision_limit, provisioned) VALUES ('5001', 'Ada Lovelace', 'x', '2101', 0, 1, 3, 2)`);
  raw.exec(`INSERT INTO phones (device_name, mac, model, dn, created_at, version_stamp) VALUES ('SEP001122334455', '001122334455', '8841', '3000', '2026-01-01', '1')`);
  raw.close();
  const db = new CompanionDb(dir);
  try {
    assert.is(db.version, SCHEMA_VERSION);
    assert.ok(SCHEMA_VERSION >= 12);
    const ivr = new IvrStore(db);
    const u = ivr.user('5001')!;
    assert.equal([u.selfProvisioning, u.limit, u.provisioned, u.profile, u.deviceTemplate], [true, 3, 2, undefined, undefined]);
    const templates = new UniversalTemplateStore(db);
    assert.is(templates.applied('SEP001122334455'), DEFAULT_APPLIED, 'a phone made before templates has the defaults');
    const ops = new TemplateOperations({ db, store: templates, autoRegistration: { enabled: true, dnFirst: '3000', dnLast: '3099' }, log: () => {} });
    const ivrOps = new IvrOperations({ db, store: ivr, templates, log: () => {} });
    expectOk(ops.addDeviceTemplate({ name: 'desk' }));
    expectOk(ops.addProfile({ name: 'staff', deviceTemplate: 'desk', selfProvisioning: false, limit: 5 }));
    expectOk(ivrOps.setUser('5001', { profile: 'staff' }));
    assert.equal(expectOk(ivrOps.user('5001')), { id: '5001', profile: 'staff', selfProvisioning: false, limit: 5, provisioned: 2, deviceTemplate: 'desk', lineTemplate: null });
    const refused = ivrOps.setUser('5001', { selfProvisioning: true });
    assert.ok(refused.kind === 'invalid' && /takes self-provisioning and its limit from user profile staff/.test(refused.message), JSON.stringify(refused));
    expectOk(ivrOps.setUser('5001', { profile: '' }));
    assert.equal([expectOk(ivrOps.user('5001')).selfProvisioning, expectOk(ivrOps.user('5001')).limit], [true, 3], 'the own flag and limit, kept all along');
  } finally {
    db.close();
  }
});

test('admin operations: defaults, changes of the fields given, refusals, and no removal while in use', async () => {
  const db = new CompanionDb(await folder());
  try {
    const ops = new TemplateOperations({ db, store: new UniversalTemplateStore(db), autoRegistration: { enabled: true, dnFirst: '3000', dnLast: '3099' }, log: () => {} });
    assert.equal(expectOk(ops.addDeviceTemplate({ name: 'desk' })), { name: 'desk', description: '#FirstName# #LastName# (#Product#)', devicePool: 'Default', speedDials: [] });
    assert.equal(expectOk(ops.addDeviceTemplate({ name: 'desk', devicePool: 'Floor 3' })).description, '#FirstName# #LastName# (#Product#)', 'add again changes only what is given');
    const bad = ops.addDeviceTemplate({ name: 'x', description: '#Surname#' });
    assert.ok(bad.kind === 'invalid' && bad.field === 'description' && /unknown token #Surname#/.test(bad.message));
    assert.is(ops.addDeviceTemplate({ name: 'x', speedDials: [{ number: 'abc', label: '' }] }).kind, 'invalid');
    assert.is(ops.addLineTemplate({ name: 'l', externalMask: '408-555' }).kind, 'invalid');
    assert.is(ops.addLineTemplate({ name: '../etc' }).kind, 'invalid');
    expectOk(ops.addLineTemplate({ name: 'l' }));
    assert.is(ops.addProfile({ name: 'p', deviceTemplate: 'nope' }).kind, 'not-found');
    assert.is(expectOk(ops.addProfile({ name: 'p', deviceTemplate: 'desk' })).limit, 10, 'the default limit');
    expectOk(ops.setAutoRegistration({ lineTemplate: 'l' }));
    assert.equal(expectOk(ops.autoRegistration()), { enabled: true, dnRange: ['3000', '3099'], deviceTemplate: null, lineTemplate: 'l' });
    const inUse = ops.removeTemplate('device', 'desk');
    assert.ok(inUse.kind === 'conflict' && /named by user profile p/.test(inUse.message));
    const autoUse = ops.removeTemplate('line', 'l');
    assert.ok(autoUse.kind === 'conflict' && /autoregistration/.test(autoUse.message));
    expectOk(ops.removeProfile('p'));
    expectOk(ops.removeTemplate('device', 'desk'));
    assert.is(ops.deviceTemplate('desk').kind, 'not-found');
  } finally {
    db.close();
  }
});

test('autoregistration applies its templates: the phone record and its cnf.xml (device pool, line, speed dial to the IVR)', async () => {
  const dir = await folder();
  const db = new CompanionDb(dir);
  try {
    const config = buildConfig({ security: { mode: 'none' }, autoRegistration: { enabled: true, dnRange: ['3000', '3099'] } }, { address: '127.0.0.1', prefix: 8 });
    const auto = new AutoRegistration(db, config.autoRegistration, new VirtualClock());
    const files = new ProvisioningFiles(db, config);
    const plain = auto.admit({ deviceName: 'SEP001122334401', mac: '001122334401', modelCode: undefined }, '10.0.0.1');
    assert.ok(plain.kind === 'created');
    assert.is(plain.phone.description, `Auto ${plain.phone.dn}`, 'no templates: as before');
    const bare = parsePhoneConfig(files.deviceFile(plain.phone));
    assert.ok(bare.ok && bare.value.kind === 'device' && bare.value.devicePoolName === 'Default' && bare.value.speedDials === undefined);

    const ops = new TemplateOperations({ db, store: new UniversalTemplateStore(db), autoRegistration: config.autoRegistration, log: () => {} });
    expectOk(ops.addDeviceTemplate({ name: 'lobby', description: 'Lobby #DN#', devicePool: 'Lobby', speedDials: [{ number: '8999', label: 'Self-provisioning' }] }));
    expectOk(ops.addLineTemplate({ name: 'lobby-line', displayName: 'Lobby #DN#', label: 'Dial 8999 to set up' }));
    expectOk(ops.setAutoRegistration({ deviceTemplate: 'lobby', lineTemplate: 'lobby-line' }));
    const dressed = auto.admit({ deviceName: 'SEP001122334402', mac: '001122334402', modelCode: undefined }, '10.0.0.2');
    assert.ok(dressed.kind === 'created');
    const dn = dressed.phone.dn;
    assert.is(db.phone('SEP001122334402')!.description, `Lobby ${dn}`);
    const file = parsePhoneConfig(files.deviceFile(db.phone('SEP001122334402')!));
    assert.ok(file.ok && file.value.kind === 'device');
    const c = file.value;
    assert.is(c.devicePoolName, 'Lobby');
    assert.equal([c.lines.length, c.lines[0]!.dn, c.lines[0]!.displayName, c.lines[0]!.label], [1, dn, `Lobby ${dn}`, 'Dial 8999 to set up']);
    assert.equal(c.speedDials, [{ button: 2, number: '8999', label: 'Self-provisioning' }]);
    // The phone made before the templates were named keeps what it had.
    assert.is(parsePhoneConfig(files.deviceFile(db.phone('SEP001122334401')!)).ok && db.phone('SEP001122334401')!.description, `Auto ${plain.phone.dn}`);
    // Removing the phone removes what the templates gave it.
    db.removePhone('SEP001122334402');
    assert.is(new UniversalTemplateStore(db).applied('SEP001122334402'), DEFAULT_APPLIED);
  } finally {
    db.close();
  }
});

test.run();
