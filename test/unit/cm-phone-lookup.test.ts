/**
 * The registrar's phone cache (src/cm/registrar/phone-lookup.ts): a phone is read once and kept
 * while no phone changes — whichever connection changes it, an administrator's sqlite3 shell
 * included — and commits of other tables (the writer threads' bindings and leases) leave it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { CompanionDb } from '../../src/cm/db.ts';
import { PhoneLookup } from '../../src/cm/registrar/phone-lookup.ts';

const phone = { deviceName: 'SEP001122334455', mac: '001122334455', model: '8841', dn: '1001', description: 'lab', password: '', autoregistered: false, createdAt: 'x', versionStamp: 'x' };

test('kept while no phone changes; a change on any connection is seen at once; other tables leave it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sepi-lookup-'));
  const db = new CompanionDb(dir);
  // Another connection to the same file, as the sqlite3 shell or a writer thread has.
  const other = new DatabaseSync(join(dir, 'companion.sqlite'));
  try {
    db.addPhone(phone);
    const lookup = new PhoneLookup(db);
    const first = lookup.byDevice(phone.deviceName, phone.mac);
    assert.is(first?.dn, '1001');
    assert.is(lookup.byDevice(phone.deviceName, phone.mac), first, 'the second lookup is the same record: from memory');

    other.exec(`INSERT INTO registrations (device, mac, user, contact, call_id, source, model_code, active_load, member, registered_at, expires_at)
      VALUES ('${phone.deviceName}', '${phone.mac}', '1001', 'sip:1001@10.0.0.2', 'c1', '10.0.0.2:40000', 683, '', '10.0.0.1:5060', 1, 2)`);
    assert.is(lookup.byDevice(phone.deviceName, phone.mac), first, 'a binding committed on another connection leaves the cache');

    other.exec(`UPDATE phones SET dn = '1002' WHERE device_name = '${phone.deviceName}'`);
    assert.is(lookup.byDevice(phone.deviceName, phone.mac)?.dn, '1002', 'a hand edit on another connection is seen');

    const again = lookup.byDevice(phone.deviceName, phone.mac);
    db.handle.exec(`UPDATE phones SET description = 'moved' WHERE device_name = '${phone.deviceName}'`);
    const after = lookup.byDevice(phone.deviceName, phone.mac);
    assert.is.not(after, again, 'a change on the companion\'s own connection empties the cache too');
    assert.is(after?.description, 'moved');

    other.exec(`DELETE FROM phones WHERE device_name = '${phone.deviceName}'`);
    assert.is(lookup.byDevice(phone.deviceName, phone.mac), undefined, 'a phone deleted by hand is gone');
    other.exec(`INSERT INTO phones (device_name, mac, model, dn, description, password, autoregistered, created_at, version_stamp)
      VALUES ('${phone.deviceName}', '${phone.mac}', '8841', '1003', '', '', 0, 'x', 'x')`);
    assert.is(lookup.byDn('1003')?.deviceName, phone.deviceName, 'and one added by hand is found, by DN too');

    // A later migration that rebuilds the phones table must bring the triggers back with it.
    const triggers = (db.handle.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'phones' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
    assert.equal(triggers, ['phones_version_delete', 'phones_version_insert', 'phones_version_update'], 'the counter\'s triggers are on the current schema');
    // The counter's row deleted by hand: every lookup reads the phone again, none fails.
    other.exec('DELETE FROM phones_version');
    assert.is(lookup.byDn('1003')?.dn, '1003');
    other.exec(`UPDATE phones SET description = 'no counter' WHERE dn = '1003'`);
    assert.is(lookup.byDn('1003')?.description, 'no counter', 'still not stale');
  } finally {
    other.close();
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
