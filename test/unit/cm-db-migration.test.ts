/**
 * A data folder made by the release before devices were keyed by name (schema 2, fixture in
 * test/fixtures/companion-v2) opened with the current code: every phone, lease, registration
 * and setting arrives, phones under their device names, and the schema is the current one.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { CompanionDb, SCHEMA_VERSION } from '../../src/cm/db.ts';
import { ROLLBACK_SETTING } from '../../src/cm/provisioning-files.ts';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'companion-v2', 'companion.sqlite');
let dir = '';

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sepi-cm-migrate-'));
  await copyFile(FIXTURE, join(dir, 'companion.sqlite'));
});

test.after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the fixture is what the previous release wrote: schema 2, phones keyed by MAC', () => {
  // The copy: even a read-only connection leaves -wal and -shm files beside a WAL database.
  const raw = new DatabaseSync(join(dir, 'companion.sqlite'), { readOnly: true });
  try {
    assert.is(Number((raw.prepare('PRAGMA user_version').get() as Record<string, unknown>)['user_version']), 2);
    const cols = (raw.prepare('PRAGMA table_info(phones)').all() as Array<{ name: string; pk: number }>).filter((c) => c.pk).map((c) => c.name);
    assert.equal(cols, ['mac']);
  } finally {
    raw.close();
  }
});

test('opened by the current code: every row arrives, phones under their device names', () => {
  const db = new CompanionDb(dir);
  try {
    assert.is(db.version, SCHEMA_VERSION);
    assert.ok(SCHEMA_VERSION >= 3);
    const phones = db.phones();
    assert.equal(phones, [
      { deviceName: 'SEP001122334455', mac: '001122334455', model: '8841', dn: '1001', description: 'Alice', password: 'secret', autoregistered: false, createdAt: '2026-11-20T10:00:00.000Z', versionStamp: '1795168800000-0123456789abcdef' },
      { deviceName: 'SEP0011223344AA', mac: '0011223344AA', model: '7975', dn: '2000', description: 'Auto 2000', password: '', autoregistered: true, createdAt: '2026-11-21T11:30:00.000Z', versionStamp: '1795260600000-fedcba9876543210' },
    ]);
    assert.is(db.phone('SEP0011223344AA')?.dn, '2000');
    assert.is(db.phoneByMac('001122334455')?.deviceName, 'SEP001122334455');
    assert.is(db.phoneByDn('1001')?.deviceName, 'SEP001122334455');
    assert.equal(db.leases(), [
      { mac: '001122334455', address: '10.99.0.100', state: 'bound', expiresAt: 1795172400000, vendorClass: 'Cisco Systems, Inc. IP Phone CP-8841' },
      { mac: '020000000061', address: '10.99.0.101', state: 'released', expiresAt: 1795172500000, vendorClass: '' },
    ]);
    assert.equal(db.registrations(), [
      { device: 'SEP001122334455', mac: '001122334455', user: '1001', contact: 'sip:1001@10.99.0.100:5060;transport=tcp', callId: '00112233-44550001@10.99.0.100', source: '10.99.0.100:51234', modelCode: 683, activeLoad: 'sip88xx.14-2-1-0001-14', member: '10.99.0.1:5060', registeredAt: 1795168900000, expiresAt: 1795169020000 },
    ]);
    assert.is(db.setting(ROLLBACK_SETTING), 'on');
  } finally {
    db.close();
  }
});

test('after the migration: a BAT device without a MAC, MACs unique, and opening again changes nothing', () => {
  let db = new CompanionDb(dir);
  try {
    db.addPhone({ deviceName: 'BAT0000000000A1', mac: null, model: '8841', dn: '3001', description: '', password: '', autoregistered: false, createdAt: '2026-11-25T00:00:00.000Z', versionStamp: '1' });
    db.addPhone({ deviceName: 'BAT0000000000A2', mac: null, model: '8841', dn: '3002', description: '', password: '', autoregistered: false, createdAt: '2026-11-25T00:00:00.000Z', versionStamp: '2' });
    assert.is(db.phone('BAT0000000000A1')?.mac, null);
    assert.throws(() => db.addPhone({ deviceName: 'SEP0011223344FF', mac: '001122334455', model: '8841', dn: '3003', description: '', password: '', autoregistered: false, createdAt: '', versionStamp: '3' }), /UNIQUE/);
    assert.ok(db.removePhone('SEP001122334455'));
    assert.is(db.registration('SEP001122334455'), undefined, 'its registration went with it');
  } finally {
    db.close();
  }
  db = new CompanionDb(dir);
  try {
    assert.is(db.version, SCHEMA_VERSION);
    assert.equal(db.phones().map((p) => p.deviceName), ['SEP0011223344AA', 'BAT0000000000A1', 'BAT0000000000A2']);
  } finally {
    db.close();
  }
});

test('line passwords are sealed at rest: the fixture\'s plain one is sealed on open, none is in the file, and a lost key is refused', async () => {
  const db = new CompanionDb(dir);
  try {
    db.addPhone({ deviceName: 'SEP0011223344B0', mac: '0011223344B0', model: '8841', dn: '3010', description: '', password: 'hunter2-line', autoregistered: false, createdAt: '2026-11-25T00:00:00.000Z', versionStamp: '4' });
    assert.is(db.phone('SEP0011223344B0')?.password, 'hunter2-line', 'the companion reads it back');
  } finally {
    db.close();
  }
  const inDb = new DatabaseSync(join(dir, 'companion.sqlite'), { readOnly: true });
  try {
    const pw = String((inDb.prepare("SELECT password FROM phones WHERE device_name = 'SEP0011223344B0'").get() as Record<string, unknown>)['password']);
    assert.match(pw, /^enc1:[A-Za-z0-9+/=]+$/);
    // A sealed value moved to another phone's row does not open (the device name is bound in).
    const { SecretBox } = await import('../../src/cm/secrets.ts');
    const box = SecretBox.open(dir);
    assert.throws(() => box.open(pw, 'SEP0011223344AA'), /does not open/);
  } finally {
    inDb.close();
  }
  const bytes = Buffer.concat([await readFile(join(dir, 'companion.sqlite')), await readFile(join(dir, 'companion.sqlite-wal')).catch(() => Buffer.alloc(0))]);
  assert.is(bytes.indexOf('hunter2-line'), -1, 'the password is nowhere in the database files');
  assert.is(bytes.indexOf('secret'), -1, "the fixture's plain password, sealed on the first open, is gone from the files too");
  await rm(join(dir, 'secrets.key'));
  assert.throws(() => new CompanionDb(dir), /sealed passwords but secrets\.key was missing/);
});

test('a database from a newer release is refused, not rewritten', async () => {
  const newer = await mkdtemp(join(tmpdir(), 'sepi-cm-newer-'));
  try {
    const raw = new DatabaseSync(join(newer, 'companion.sqlite'));
    raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    assert.throws(() => new CompanionDb(newer), /schema version \d+; this sepi knows versions up to/);
  } finally {
    await rm(newer, { recursive: true, force: true });
  }
});

test.run();
