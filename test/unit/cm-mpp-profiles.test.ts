/**
 * The companion's side of Multiplatform phones without a network: the EDOS rule store (per MAC,
 * per model, kept across a reopen), the admin operations' checks (a bad MAC, two answers at
 * once, an unknown fault, a profile that does not read, a key a rule cannot carry), and the
 * provisioning server's profiles — generated from the database, an upload merged over them,
 * encrypted with the stored key (read back with decryptOpensslCompatible and with `openssl enc`),
 * secrets masked wherever an admin sees them, and never in the log.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { VirtualClock } from '../../src/common/clock.ts';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import { ConfigError, buildConfig, loopbackConfig } from '../../src/cm/config.ts';
import { CompanionDb } from '../../src/cm/db.ts';
import { MppOperations } from '../../src/cm/edos/operations.ts';
import { MppFileSource, MppProfiles, maskRule } from '../../src/cm/edos/profiles.ts';
import { MppStore } from '../../src/cm/edos/store.ts';
import { redirectProfile } from '../../src/cm/edos/edos-server.ts';
import { openEdosIdentity } from '../../src/cm/edos/identity.ts';
import { CA_CERT_FILE } from '../../src/factory/factory-files.ts';
import type { FileAnswer } from '../../src/cm/provisioning-files.ts';
import { decryptOpensslCompatible, flatValues, parseFlatProfile } from '../../src/wire/flat-profile.ts';

const MAC = '0022905c1a2b';
const OTHER = '0022905c1a2c';
let dir = '';
let db: CompanionDb;
let store: MppStore;
let ops: MppOperations;
const log: string[] = [];
const clock = new VirtualClock(Date.UTC(2026, 10, 26));

const configWith = (raw: Record<string, unknown> = {}) => buildConfig({ address: '10.9.0.1', sip: { port: 5060 }, ...raw }, { address: '10.9.0.1', prefix: 24 });
const profilesWith = (raw: Record<string, unknown> = {}) => new MppProfiles({ db, store, config: configWith(raw), log: (l) => log.push(l) });
const values = (a: FileAnswer) => {
  if (a.kind !== 'file') throw new Error('expected a file');
  const p = parseFlatProfile(a.data);
  if (!p.ok) throw new Error(p.error.message);
  return flatValues(p.value);
};
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const refusal = (o: { kind: string; message?: string; field?: string }) => {
  assert.is(o.kind, 'invalid');
  return `${o.field}: ${o.message}`;
};

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sepi-mpp-'));
  db = new CompanionDb(dir);
  store = new MppStore(db);
  ops = new MppOperations({ store, profiles: profilesWith(), clock, log: (l) => log.push(l) });
  db.addPhone({ deviceName: `SEP${MAC.toUpperCase()}`, mac: MAC.toUpperCase(), model: '8841', dn: '1201', description: 'Reception', password: 'line-secret-1', autoregistered: false, createdAt: '2026-11-26T00:00:00.000Z', versionStamp: '1' });
});

test.after(async () => {
  db?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// ---- configuration --------------------------------------------------------------------------

test('configuration: EDOS off without an edos section, on with one (443, or 0 in a loopback companion); Resync_Periodic', () => {
  const iface = { address: '10.9.0.1', prefix: 24 };
  assert.is(buildConfig({}, iface).edos.enabled, false);
  assert.equal({ ...buildConfig({ edos: {} }, iface).edos, factory: '' }, { enabled: true, port: 443, factory: '' });
  assert.equal(buildConfig({ edos: { enabled: false, port: 8443, factory: '/srv/factory' } }, iface).edos, { enabled: false, port: 8443, factory: '/srv/factory' });
  assert.equal(loopbackConfig({ edos: { factory: '/f' } }).edos, { enabled: true, port: 0, factory: '/f' });
  assert.is(loopbackConfig().edos.enabled, false);
  assert.is(buildConfig({ mpp: { resyncPeriodicSecs: 0 } }, iface).mpp.resyncPeriodicSecs, 0);
  assert.throws(() => buildConfig({ edos: { port: 70000 } }, iface), (e: Error) => e instanceof ConfigError && /edos\.port 70000 is not a port number/.test(e.message));
  assert.throws(() => buildConfig({ mpp: { resyncPeriodicSecs: -1 } }, iface), (e: Error) => /mpp\.resyncPeriodicSecs must be 0 \(off\) or more seconds/.test(e.message));
  assert.throws(() => buildConfig({ edos: { url: 'x' } }, iface), (e: Error) => /edos\.url is not a known field/.test(e.message));
});

test('the EDOS server certificate: made from the factory (made too), kept, made again for a new address; a folder with the CA certificate alone refused', async () => {
  const factoryDir = join(dir, 'factory');
  const lines: string[] = [];
  const o = { dataDir: dir, factoryDir, now: Date.now(), log: (l: string) => lines.push(l) };
  const a = await openEdosIdentity({ ...o, addresses: ['10.9.0.1'] });
  assert.match(lines.join('\n'), /no lab factory in .*: made one/);
  assert.is((await openEdosIdentity({ ...o, addresses: ['10.9.0.1'] })).certPem, a.certPem, 'kept');
  const b = await openEdosIdentity({ ...o, addresses: ['10.9.0.2'] });
  assert.is.not(b.certPem, a.certPem);
  assert.match(lines.join('\n'), /made again \(it does not name IP Address:10\.9\.0\.2\)/);
  const certOnly = join(dir, 'ca-copy');
  await mkdir(certOnly);
  await writeFile(join(certOnly, CA_CERT_FILE), await readFile(join(factoryDir, CA_CERT_FILE)));
  try {
    await openEdosIdentity({ ...o, factoryDir: certOnly, addresses: ['10.9.0.1'] });
    assert.unreachable('accepted a factory folder without its key');
  } catch (e) {
    assert.match((e as Error).message, /holds the manufacturing CA certificate but not its key/);
  }
});

// ---- EDOS rules -------------------------------------------------------------------------------

test('rules: per MAC first, per model as the fallback, nothing for the rest; kept across a reopen', async () => {
  expectOk(ops.setRule({ mac: '00:22:90:5C:1A:2B', profileRule: 'http://10.9.0.1:6970/mpp/$PSN/$MA.xml' }));
  expectOk(ops.setRule({ model: 'CP-8841-3PCC', fault: '503' }));
  assert.equal(store.ruleFor(MAC, '8841')?.answer, { kind: 'redirect', profileRule: 'http://10.9.0.1:6970/mpp/$PSN/$MA.xml' });
  assert.equal(store.ruleFor(OTHER, '8841')?.answer, { kind: 'fault', fault: '503' }, 'a MAC without a rule gets its model\'s');
  assert.is(store.ruleFor(OTHER, '7841'), undefined, 'another model: no rule (no provider)');
  expectOk(ops.setRule({ mac: OTHER, none: true }));
  assert.equal(store.ruleFor(OTHER, '8841')?.answer, { kind: 'none' }, 'its own rule wins over the model\'s');

  const again = new CompanionDb(dir);
  try {
    const list = new MppStore(again).rules().map((r) => `${r.scope} ${r.target} ${r.answer.kind}`);
    assert.equal(list, [`mac ${MAC} redirect`, `mac ${OTHER} none`, 'model 8841 fault']);
  } finally {
    again.close();
  }
  assert.equal(expectOk(ops.clearRule('mac', OTHER)), { cleared: true });
  assert.equal(expectOk(ops.clearRule('mac', OTHER)), { cleared: false });
  assert.equal(expectOk(ops.clearRule('model', '8841')), { cleared: true });
  assert.equal(store.ruleFor(OTHER, '8841'), undefined);
});

test('rules: a bad MAC, two answers, no answer, an unknown fault, a rule that does not read are refused in words', () => {
  assert.match(refusal(ops.setRule({ mac: '0022905c1a2', none: true })), /^mac: "0022905c1a2" is not a MAC address/);
  assert.match(refusal(ops.setRule({ mac: MAC, model: '8841', none: true })), /either a MAC or a model/);
  assert.match(refusal(ops.setRule({ mac: MAC, none: true, fault: '503' })), /^profileRule: one answer at a time, not none and fault/);
  assert.match(refusal(ops.setRule({ mac: MAC })), /an answer is needed/);
  assert.match(refusal(ops.setRule({ mac: MAC, fault: '418' })), /^fault: fault must be 503, 500, 404, timeout, tls, not "418"/);
  assert.match(refusal(ops.setRule({ mac: MAC, profileRule: '[--nope x] http://a/b' })), /^profileRule: profileRule does not read as a Profile_Rule/);
  assert.match(refusal(ops.setRule({ mac: MAC, profileRule: '  ' })), /is empty/);
  assert.match(refusal(ops.setRule({ model: '88 41', none: true })), /^model: "88 41" is not a model/);
});

test('the redirect profile: Profile_Rule and the documented retry ladder, both ua="na"', () => {
  const p = parseFlatProfile(redirectProfile('http://prov/$MA.xml'));
  assert.ok(p.ok);
  if (!p.ok) return;
  assert.equal([...p.value.params], [
    ['Profile_Rule', { value: 'http://prov/$MA.xml', ua: 'na' }],
    ['Resync_Error_Retry_Delay', { value: '60,120,240,480,960,1920,3840,7680,15360,30720,61440,86400', ua: 'na' }],
  ]);
});

test('rules are shown and logged with --key and --pwd masked', () => {
  log.length = 0;
  const r = expectOk(ops.setRule({ mac: MAC, profileRule: '[--key s3cret --uid u --pwd pw9] https://user:hunter2@prov/$MA.xml' }));
  assert.is(r.profileRule, '[--key ******** --uid u --pwd ********] https://user:********@prov/$MA.xml');
  assert.ok(!log.join('\n').includes('s3cret') && !log.join('\n').includes('pw9') && !log.join('\n').includes('hunter2'), log.join('\n'));
  assert.equal(store.ruleFor(MAC, '8841')?.answer, { kind: 'redirect', profileRule: '[--key s3cret --uid u --pwd pw9] https://user:hunter2@prov/$MA.xml' }, 'stored as given: the phone needs it');
  assert.is(maskRule('http://a/b.xml'), 'http://a/b.xml');
});

// ---- profiles ---------------------------------------------------------------------------------

test('a known phone: its line from the database, the registrar\'s address and TCP, Resync_Periodic', () => {
  const source = new MppFileSource({ lookup: () => ({ kind: 'absent' }) }, profilesWith());
  const v = values(source.lookup(`mpp/8841/${MAC}.xml`));
  assert.equal(v, {
    Proxy_1_: '10.9.0.1', SIP_Port_1_: '5060', SIP_Transport_1_: 'TCP', User_ID_1_: '1201', Auth_ID_1_: '1201', Password_1_: 'line-secret-1',
    Display_Name_1_: 'Reception', Line_Enable_1_: 'Yes', Resync_Periodic: '3600',
  });
  assert.equal(values(source.lookup(`/mpp/${MAC.toUpperCase()}.xml`)), v, 'also without $PSN, and the MAC in either case');
  assert.is(source.lookup('mpp/8841/nothing.xml').kind, 'absent');
  assert.match(log.join('\n'), new RegExp(`mpp ${MAC}: line password served in the clear`));
  assert.not.match(log.join('\n'), /line-secret-1/);
});

test('an unknown MAC: where to register only, or 404 with autoregistration off; other names go to the enterprise files', () => {
  let asked = '';
  const inner = { lookup: (n: string): FileAnswer => ((asked = n), { kind: 'file', data: Buffer.from('x'), contentType: 'text/xml' }) };
  const on = new MppFileSource(inner, profilesWith({ mpp: { resyncPeriodicSecs: 600 }, callManagers: [{ host: '10.9.0.7', sipPort: 5070 }] }));
  assert.equal(values(on.lookup(`mpp/8841/${OTHER}.xml`)), { Proxy_1_: '10.9.0.7', SIP_Port_1_: '5070', SIP_Transport_1_: 'TCP', Resync_Periodic: '600' });
  const off = new MppFileSource(inner, profilesWith({ autoRegistration: { enabled: false } }));
  assert.is(off.lookup(`mpp/8841/${OTHER}.xml`).kind, 'absent');
  assert.is(off.lookup('SEP0022905C1A2B.cnf.xml').kind, 'file');
  assert.is(asked, 'SEP0022905C1A2B.cnf.xml');
});

test('an uploaded profile is checked by the reader, stored, and merged over the generated one (its parameters win)', () => {
  assert.match(refusal(ops.setProfile(MAC, { profile: b64('<flat-profile><Proxy_1_>x</flat-profile>') })), /^profile: not a flat profile: /);
  assert.match(refusal(ops.setProfile(MAC, { profile: b64('<something/>') })), /no <flat-profile> element/);
  assert.match(refusal(ops.setProfile(MAC, { profile: b64(Buffer.from('Salted__12345678abcdefghabcdefgh')) })), /encrypted profile and no key/);
  assert.match(refusal(ops.setProfile(MAC, { profile: 'not base64!' })), /base64/);
  assert.match(refusal(ops.setProfile(MAC, {})), /a profile file, a key, or both/);
  assert.match(refusal(ops.setProfile('nope', { key: 'k' })), /^mac: /);

  const upload = gzipSync(Buffer.from('<flat-profile><Display_Name_1_>Front desk</Display_Name_1_><Dial_Plan_1_ ua="ro">(xxxx)</Dial_Plan_1_><SIP_Port_1_>5061</SIP_Port_1_></flat-profile>'));
  const shown = expectOk(ops.setProfile(MAC, { profile: b64(upload) }));
  assert.is(shown.uploaded, true);
  const v = values(new MppFileSource({ lookup: () => ({ kind: 'absent' }) }, profilesWith()).lookup(`mpp/8841/${MAC}.xml`));
  assert.is(v['Display_Name_1_'], 'Front desk');
  assert.is(v['SIP_Port_1_'], '5061');
  assert.is(v['Dial_Plan_1_'], '(xxxx)');
  assert.is(v['User_ID_1_'], '1201', 'what the upload does not say is still generated');
  assert.equal(shown.params['Dial_Plan_1_'], { value: '(xxxx)', ua: 'ro' });
});

test('with a key, the file is AES-256-CBC as openssl enc writes it; the key is sealed at rest and never shown', () => {
  assert.match(refusal(ops.setProfile(MAC, { key: 'has space' })), /^key: key must be/);
  assert.match(refusal(ops.setProfile(MAC, { key: 'a]b' })), /^key: /);
  log.length = 0;
  const shown = expectOk(ops.setProfile(MAC, { key: 'Pr0file-Key' }));
  assert.is(shown.encrypted, true);
  assert.is(shown.uploaded, true, 'a key keeps the uploaded file');
  const a = new MppFileSource({ lookup: () => ({ kind: 'absent' }) }, profilesWith()).lookup(`mpp/8841/${MAC}.xml`);
  if (a.kind !== 'file') return assert.unreachable('no file');
  assert.is(a.data.subarray(0, 8).toString('latin1'), 'Salted__');
  const plain = decryptOpensslCompatible(a.data, 'Pr0file-Key', 'sha256');
  if (!plain.ok) return assert.unreachable(plain.error.message);
  const p = parseFlatProfile(plain.value);
  assert.ok(p.ok && flatValues(p.value)['User_ID_1_'] === '1201');
  assert.not.ok(decryptOpensslCompatible(a.data, 'wrong-key', 'sha256').ok && parseFlatProfile(a.data, { key: 'wrong-key' }).ok);
  // A reader nobody here wrote.
  const byOpenssl = execFileSync('openssl', ['enc', '-d', '-aes-256-cbc', '-md', 'sha256', '-k', 'Pr0file-Key'], { input: a.data, stdio: ['pipe', 'pipe', 'pipe'] });
  assert.ok(byOpenssl.equals(plain.value));

  const row = db.handle.prepare('SELECT profile_key FROM mpp_profiles WHERE mac = ?').get(MAC) as { profile_key: string };
  assert.match(row.profile_key, /^enc1:/);
  assert.not.match(row.profile_key, /Pr0file-Key/);
  const text = JSON.stringify(expectOk(ops.showProfile(MAC)));
  assert.not.match(text, /Pr0file-Key|line-secret-1/);
  assert.match(text, /"Password_1_":\{"value":"\*\*\*\*\*\*\*\*","ua":"na"\}/);
  assert.not.match(log.join('\n'), /Pr0file-Key/);
});

test('show without a running companion: the upload only, said so; clear removes file and key', () => {
  const stopped = new MppOperations({ store, clock, log: () => {} });
  const s = expectOk(stopped.showProfile(MAC));
  assert.match(s.note ?? '', /not running/);
  assert.is(s.params['User_ID_1_'], undefined);
  assert.equal(s.params['Display_Name_1_'], { value: 'Front desk' });
  assert.equal(expectOk(stopped.listRules()).running, false);
  assert.equal(expectOk(ops.clearProfile(MAC)), { cleared: true });
  assert.is(store.profile(MAC), undefined);
  assert.is(expectOk(ops.showProfile(MAC)).encrypted, false);
});

test.run();
