/**
 * The companion's EDOS stand-in and Multiplatform provisioning server over real sockets on
 * loopback (issue 9): mutual TLS with phone certificates from the lab factory (the redirect, "no
 * provider", 503, a model's rule, a held request, a TLS failure), refused for another MAC's
 * certificate (403), for no certificate and for another CA's (in the handshake); the server's
 * certificate checked by its names; the same exchanges by curl (a client nobody here wrote);
 * profiles on HTTP 6970 (plain, and encrypted with a key, read back by openssl); `sepi cm edos`
 * and `sepi cm profile` with the companion running and stopped, with clear errors for bad flags;
 * the EDOS administration page with its CSRF check.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import type { StatusView } from '../../src/cm/admin/contract.ts';
import { Companion } from '../../src/cm/companion.ts';
import { loopbackConfig } from '../../src/cm/config.ts';
import type { EdosListView, ProfileView } from '../../src/cm/edos/contract.ts';
import { EdosServer } from '../../src/cm/edos/edos-server.ts';
import { openEdosIdentity } from '../../src/cm/edos/identity.ts';
import { MppStore } from '../../src/cm/edos/store.ts';
import { CompanionDb } from '../../src/cm/db.ts';
import { SystemClock } from '../../src/common/clock.ts';
import { serialForMac } from '../../src/factory/factory-files.ts';
import { ManufacturingCa } from '../../src/factory/manufacturing-ca.ts';
import { flatValues, parseFlatProfile } from '../../src/wire/flat-profile.ts';
import { needs } from '../support/proc.ts';

const run = promisify(execFile);
const SEPI = join(import.meta.dirname, '..', '..', 'bin', 'sepi');
const MAC = '0022905c1a2b';
const OTHER = '0022905c1a2c';
const LADDER = '60,120,240,480,960,1920,3840,7680,15360,30720,61440,86400';
let dir = '';
let data = '';
let factoryDir = '';
let companion: Companion;
const log: string[] = [];
let factory: ManufacturingCa;
interface Held { certPem: string; keyPem: string; certFile: string; keyFile: string }
const certs: Record<string, Held> = {};
/** Authenticated requests made per MAC, to compare with the server's counters. */
const made: Record<string, number> = {};

const config = () => loopbackConfig({ edos: { factory: factoryDir }, activation: { manufacturingCaFiles: [] }, phones: [{ mac: MAC, model: '8841', dn: '1301', description: 'Lab desk', password: 'pw-1301' }] });

/** A phone's client certificate as the phone gets it: issueMic with the Multiplatform model. */
async function phoneCert(ca: ManufacturingCa, mac: string, label: string): Promise<Held> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { certPem } = ca.issueMic({ model: '8841-3PCC', mac, serial: serialForMac(mac), spkiPem: publicKey.export({ type: 'spki', format: 'pem' }) as string, now: Date.now() });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const certFile = join(dir, `${label}.cert.pem`);
  const keyFile = join(dir, `${label}.key.pem`);
  await writeFile(certFile, certPem);
  await writeFile(keyFile, keyPem, { mode: 0o600 });
  return { certPem, keyPem, certFile, keyFile };
}

const query = (mac: string) => `mac=${mac}&pn=CP-8841-3PCC&psn=8841&sn=${serialForMac(mac)}&fw=sip88xx.12-0-1MPP0001-29`;

type Answer = { status: number; body: string; type: string | undefined } | { error: string };

/** One EMU-EDOS/1 request, the way a phone makes it. */
function ask(o: { mac: string; cert?: Held | undefined; servername?: string; timeoutMs?: number; count?: boolean; port?: number }): Promise<Answer> {
  if (o.count !== false) made[o.mac] = (made[o.mac] ?? 0) + 1;
  return new Promise((resolve) => {
    const req = https.request({
      host: '127.0.0.1', port: o.port ?? companion.endpoints.edos, path: `/edos/v1/rc?${query(o.mac)}`, agent: false,
      ca: factory.certPem, ...(o.cert ? { cert: o.cert.certPem, key: o.cert.keyPem } : {}), ...(o.servername ? { servername: o.servername } : {}),
      headers: { 'user-agent': `Cisco-CP-8841-3PCC/12.0.1 (${o.mac})`, host: 'activate.emu.lab' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), type: res.headers['content-type'] }));
      res.on('error', (e) => resolve({ error: e.message }));
    });
    req.setTimeout(o.timeoutMs ?? 10_000, () => req.destroy(new Error('no answer in time')));
    req.on('error', (e) => resolve({ error: `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}` }));
    req.end();
  });
}

const answered = (a: Answer) => {
  if ('error' in a) throw new Error(`expected an answer, got ${a.error}`);
  return a;
};
const refused = (a: Answer) => {
  if (!('error' in a)) throw new Error(`expected no HTTP answer, got ${a.status} ${a.body}`);
  return a.error;
};

/** `sepi cm --data DATA …`: exit code, stdout, stderr. */
async function cm(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(SEPI, ['cm', '--data', data, ...args]);
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, out: x.stdout ?? '', err: x.stderr ?? '' };
  }
}
async function cmOk(...args: string[]): Promise<string> {
  const r = await cm(...args);
  assert.is(r.code, 0, `sepi cm ${args.join(' ')}: ${r.err}${r.out}`);
  return r.out;
}

test.before(async () => {
  await needs('curl', 'openssl');
  dir = await mkdtemp(join(tmpdir(), 'sepi-edos-'));
  data = join(dir, 'data');
  factoryDir = join(dir, 'factory');
  companion = new Companion({ dataDir: data, config: config(), log: (l) => log.push(l) });
  await companion.start();
  factory = (await ManufacturingCa.load(factoryDir))!;
  certs['phone'] = await phoneCert(factory, MAC, 'phone');
  certs['other'] = await phoneCert(factory, OTHER, 'other');
  const stranger = (await ManufacturingCa.open(join(dir, 'stranger-factory'), Date.now(), 'Some Other Manufacturing CA')).ca;
  certs['stranger'] = await phoneCert(stranger, MAC, 'stranger');
  await writeFile(join(dir, 'factory-ca.pem'), factory.certPem);
});

test.after(async () => {
  await companion?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the factory is made when missing; the server certificate is issued by it for the EDOS names and the address, and kept', async () => {
  assert.ok(factory, 'the companion made the lab factory in edos.factory');
  assert.match(log.join('\n'), /edos: no lab factory in .*: made one/);
  const cert = new X509Certificate(await readFile(join(data, 'pki', 'edos.cert.pem')));
  assert.ok(cert.verify(new X509Certificate(factory.certPem).publicKey), 'issued by the factory CA');
  assert.equal(cert.subjectAltName?.split(', '), ['DNS:activate.cisco.com', 'DNS:activate.emu.lab', 'IP Address:127.0.0.1']);
  const s = JSON.parse(await cmOk('status', '--json')) as StatusView;
  assert.is(s.edosUrl, `https://127.0.0.1:${companion.endpoints.edos}/edos/v1/rc`);
  assert.is(s.provisioningUrl, `http://127.0.0.1:${companion.endpoints.http}/mpp/$PSN/$MA.xml`);
});

test('redirect: a flat profile with Profile_Rule and the retry ladder, to the IP and to activate.cisco.com', async () => {
  const url = `http://127.0.0.1:${companion.endpoints.http}/mpp/$PSN/$MA.xml`;
  assert.match(await cmOk('edos', 'set', '--mac', '00:22:90:5C:1A:2B', '--profile-rule', url), /EDOS answers mac 0022905c1a2b: redirect http/);
  for (const servername of [undefined, 'activate.cisco.com']) {
    const a = answered(await ask({ mac: MAC, cert: certs['phone'], ...(servername ? { servername } : {}) }));
    assert.is(a.status, 200);
    assert.match(a.type ?? '', /xml/);
    const p = parseFlatProfile(Buffer.from(a.body));
    if (!p.ok) return assert.unreachable(p.error.message);
    assert.equal(flatValues(p.value), { Profile_Rule: url, Resync_Error_Retry_Delay: LADDER });
    assert.is(p.value.params.get('Profile_Rule')?.ua, 'na');
  }
  assert.match(log.join('\n'), new RegExp(`edos 127\\.0\\.0\\.1 ${MAC} CP-8841-3PCC: redirect \\(mac rule: http`));
});

test('no provider: an empty 200 for --none, and for a MAC with no rule; a fault 503; a model\'s rule for a MAC without one', async () => {
  await cmOk('edos', 'set', '--mac', MAC, '--none');
  let a = answered(await ask({ mac: MAC, cert: certs['phone'] }));
  assert.equal([a.status, a.body], [200, '']);
  a = answered(await ask({ mac: OTHER, cert: certs['other'] }));
  assert.equal([a.status, a.body], [200, ''], 'no rule at all: what EDOS says for an unclaimed phone');
  await cmOk('edos', 'set', '--mac', MAC, '--fault', '503');
  assert.is(answered(await ask({ mac: MAC, cert: certs['phone'] })).status, 503);
  await cmOk('edos', 'set', '--model', '8841', '--fault', '500');
  assert.is(answered(await ask({ mac: OTHER, cert: certs['other'] })).status, 500, 'the model rule');
  assert.is(answered(await ask({ mac: MAC, cert: certs['phone'] })).status, 503, 'the MAC rule wins');
  await cmOk('edos', 'clear', '--model', '8841');
  await cmOk('edos', 'set', '--mac', MAC, '--fault', '404');
  assert.is(answered(await ask({ mac: MAC, cert: certs['phone'] })).status, 404);
});

test('refused: another MAC\'s certificate (403, said why), no certificate and another CA\'s (in the handshake)', async () => {
  const a = answered(await ask({ mac: OTHER, cert: certs['phone'], count: false }));
  assert.is(a.status, 403);
  assert.match(a.body, new RegExp(`client certificate is for ${MAC}, the request asks for ${OTHER}`));
  assert.match(refused(await ask({ mac: MAC, count: false })), /certificate|alert|ECONNRESET|socket/i);
  assert.match(refused(await ask({ mac: MAC, cert: certs['stranger'], count: false })), /unknown ca|alert|ECONNRESET|socket/i);
  // The server is still there for the phone with the right certificate.
  assert.is(answered(await ask({ mac: MAC, cert: certs['phone'] })).status, 404);
});

test('faults timeout and tls: no answer until the client gives up; the connection dropped after the handshake', async () => {
  await cmOk('edos', 'set', '--mac', MAC, '--fault', 'timeout');
  assert.match(refused(await ask({ mac: MAC, cert: certs['phone'], timeoutMs: 400 })), /no answer in time/);
  assert.match(log.join('\n'), /fault timeout \(mac rule: held without an answer/);
  await cmOk('edos', 'set', '--mac', MAC, '--fault', 'tls');
  assert.match(refused(await ask({ mac: MAC, cert: certs['phone'] })), /ECONNRESET|socket hang up|disconnected|closed/i);
  assert.match(log.join('\n'), /fault tls \(mac rule: connection closed after the handshake\)/);
  assert.is(answered(await ask({ mac: OTHER, cert: certs['other'] })).status, 200, 'others are answered meanwhile');
});

test('a held request is let go at the bound; more than the cap held at once are closed at once', async () => {
  const other = join(dir, 'data-hold');
  await mkdir(other);
  const db = new CompanionDb(other);
  const store = new MppStore(db);
  store.setRule('mac', MAC, { kind: 'fault', fault: 'timeout' }, Date.now());
  const identity = await openEdosIdentity({ dataDir: other, factoryDir, addresses: ['127.0.0.1'], now: Date.now(), log: () => {} });
  const lines: string[] = [];
  const server = new EdosServer({ store, identity, trustedCas: () => [identity.ca], clock: new SystemClock(), log: (e) => lines.push(`${e.answer} ${e.detail}`), holdMs: 300, maxHeld: 1 });
  const port = await server.start('127.0.0.1', 0);
  try {
    const first = ask({ mac: MAC, cert: certs['phone'], port, count: false });
    while (server.holding === 0) await new Promise((r) => setTimeout(r, 5));
    assert.match(refused(await ask({ mac: MAC, cert: certs['phone'], port, count: false })), /socket hang up|ECONNRESET/, 'the second is closed at once');
    assert.match(refused(await first), /socket hang up|ECONNRESET/, 'the first is closed at the bound, not answered');
    assert.is(server.holding, 0);
    assert.equal(lines.map((l) => l.split(';')[0]), ['fault timeout mac rule: held without an answer, 0.3 s at most', 'fault timeout mac rule: 1 requests held already: closed at once']);
    assert.equal([...server.counts()], [[MAC, 2]]);
  } finally {
    await server.stop();
    db.close();
  }
});

test('edos list: the rules and the requests per MAC', async () => {
  const l = JSON.parse(await cmOk('edos', 'list', '--json')) as EdosListView;
  assert.is(l.running, true);
  assert.equal(l.rules.map((r) => [r.scope, r.target, r.answer, r.fault]), [['mac', MAC, 'fault', 'tls']]);
  assert.equal(l.requests, made);
  assert.match(await cmOk('edos', 'list'), new RegExp(`mac\\s+${MAC}\\s+${made[MAC]}\\s+fault tls`));
});

test('curl: the redirect over mutual TLS, and the provisioning profile over HTTP 6970', async () => {
  const url = 'http://prov.example/cisco/$PSN/$MA.xml';
  await cmOk('edos', 'set', '--mac', MAC, '--profile-rule', url);
  const edos = `https://127.0.0.1:${companion.endpoints.edos}/edos/v1/rc?${query(MAC)}`;
  const { stdout } = await run('curl', ['-sS', '--fail', '--cert', certs['phone']!.certFile, '--key', certs['phone']!.keyFile, '--cacert', join(dir, 'factory-ca.pem'), edos]);
  const p = parseFlatProfile(Buffer.from(stdout));
  if (!p.ok) return assert.unreachable(p.error.message);
  assert.equal(flatValues(p.value), { Profile_Rule: url, Resync_Error_Retry_Delay: LADDER });
  const viaName = await run('curl', ['-sS', '--fail', '--resolve', `activate.cisco.com:${companion.endpoints.edos}:127.0.0.1`, '--cert', certs['phone']!.certFile, '--key', certs['phone']!.keyFile, '--cacert', join(dir, 'factory-ca.pem'), edos.replace('127.0.0.1', 'activate.cisco.com')]);
  assert.is(viaName.stdout, stdout, 'the certificate holds for activate.cisco.com');
  const noCert = await run('curl', ['-sS', '--cacert', join(dir, 'factory-ca.pem'), edos]).then(() => 'answered', (e: { stderr?: string }) => e.stderr ?? 'failed');
  assert.is.not(noCert, 'answered', 'curl without a certificate gets no answer');

  const prov = await run('curl', ['-sS', '--fail', `http://127.0.0.1:${companion.endpoints.http}/mpp/8841/${MAC}.xml`]);
  const q = parseFlatProfile(Buffer.from(prov.stdout));
  if (!q.ok) return assert.unreachable(q.error.message);
  assert.equal(flatValues(q.value), {
    Proxy_1_: '127.0.0.1', SIP_Port_1_: String(companion.endpoints.sip), SIP_Transport_1_: 'TCP', User_ID_1_: '1301', Auth_ID_1_: '1301', Password_1_: 'pw-1301',
    Display_Name_1_: 'Lab desk', Line_Enable_1_: 'Yes', Resync_Periodic: '3600',
  });
  const unknown = await run('curl', ['-sS', '--fail', `http://127.0.0.1:${companion.endpoints.http}/mpp/${OTHER}.xml`]);
  const u = parseFlatProfile(Buffer.from(unknown.stdout));
  assert.ok(u.ok && Object.keys(flatValues(u.value)).join() === 'Proxy_1_,SIP_Port_1_,SIP_Transport_1_,Resync_Periodic', 'an unknown MAC: where to register');
  assert.not.match(log.join('\n'), /pw-1301/);
});

test('profile set --file --key: merged, served encrypted (openssl reads it), shown masked; bad files refused with the reader\'s words', async () => {
  await writeFile(join(dir, 'bad.xml'), '<flat-profile><Dial_Plan_1_>(x</flat-profile>');
  const bad = await cm('profile', 'set', '--mac', MAC, '--file', join(dir, 'bad.xml'));
  assert.is(bad.code, 1);
  assert.match(bad.err, /not a flat profile: /);
  await writeFile(join(dir, 'extra.xml'), '<flat-profile><Dial_Plan_1_>(1xxx|*xx)</Dial_Plan_1_><Display_Name_1_>Front</Display_Name_1_></flat-profile>');
  await cmOk('profile', 'set', '--mac', MAC, '--file', join(dir, 'extra.xml'), '--key', 'K3y-for-8841');
  const enc = await run('sh', ['-c', `curl -sS --fail http://127.0.0.1:${companion.endpoints.http}/mpp/8841/${MAC}.xml | openssl enc -d -aes-256-cbc -md sha256 -k K3y-for-8841`]);
  const p = parseFlatProfile(Buffer.from(enc.stdout));
  if (!p.ok) return assert.unreachable(p.error.message);
  assert.equal([flatValues(p.value)['Dial_Plan_1_'], flatValues(p.value)['Display_Name_1_'], flatValues(p.value)['User_ID_1_']], ['(1xxx|*xx)', 'Front', '1301']);
  const shown = JSON.parse(await cmOk('profile', 'show', '--mac', MAC, '--json')) as ProfileView;
  assert.equal([shown.deviceName, shown.encrypted, shown.uploaded, shown.params['Password_1_']?.value], [`SEP${MAC.toUpperCase()}`, true, true, '********']);
  const text = await cmOk('profile', 'show', '--mac', MAC);
  assert.match(text, /<Dial_Plan_1_>\(1xxx\|\*xx\)<\/Dial_Plan_1_>/);
  assert.not.match(text + JSON.stringify(shown) + log.join('\n'), /K3y-for-8841|pw-1301/);
});

test('bad flags: each said clearly, exit 2', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['edos', 'set', '--mac', '0022905c1a', '--none'], /--mac 0022905c1a is not a MAC address/],
    [['edos', 'set', '--mac', MAC, '--none', '--fault', '503'], /one answer at a time, not --none and --fault/],
    [['edos', 'set', '--mac', MAC, '--fault', '418'], /--fault must be 503, 500, 404, timeout, tls, not "418"/],
    [['edos', 'set', '--mac', MAC], /an answer is needed/],
    [['edos', 'set', '--mac', MAC, '--model', '8841', '--none'], /--mac MAC or --model MODEL, one of the two/],
    [['edos', 'set', '--mac', MAC, '--profile-rule', '[--bogus] http://x/'], /--profile-rule: does not read as a Profile_Rule/],
    [['profile', 'set', '--mac', MAC], /give --file FILE, --key SECRET, or both/],
    [['profile', 'set', '--mac', MAC, '--key', 'two words'], /--key must be/],
    [['profile', 'set', '--mac', MAC, '--file', join(dir, 'missing.xml')], /--file .*missing\.xml: ENOENT/],
  ];
  for (const [args, words] of cases) {
    const r = await cm(...args);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, words);
  }
});

test('the EDOS page: labelled form, values escaped, CSRF checked, set and clear', async () => {
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  const base = `https://127.0.0.1:${companion.endpoints.web}`;
  const jar = new Map<string, string>();
  const go = async (method: 'GET' | 'POST', path: string, form?: Record<string, string>) => {
    const r = await request(`${base}${path}`, {
      method, dispatcher: agent,
      headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    const set = r.headers['set-cookie'];
    for (const c of (Array.isArray(set) ? set : set ? [set] : [])) {
      const [kv] = c.split(';');
      const i = kv!.indexOf('=');
      jar.set(kv!.slice(0, i), kv!.slice(i + 1));
    }
    return { status: r.statusCode, text: await r.body.text() };
  };
  const csrf = (page: string) => /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
  try {
    const password = (await readFile(join(data, 'initial-admin-password'), 'utf8')).trim();
    const signIn = await go('GET', '/ccmadmin/');
    assert.is((await go('POST', '/ccmadmin/login', { _csrf: csrf(signIn.text), userId: 'admin', password })).status, 303);
    const page = await go('GET', '/ccmadmin/edos');
    assert.is(page.status, 200);
    for (const [id, label] of [['mac', 'MAC Address'], ['answer', 'Answer'], ['profileRule', 'Provisioning URL']] as const) assert.match(page.text, new RegExp(`<label for="${id}">${label}`));
    assert.match(page.text, new RegExp(`<td>${MAC}</td>`));
    const hostile = 'http://x/<script>alert(1)</script>.xml';
    let r = await go('POST', '/ccmadmin/edos', { _csrf: csrf(page.text), mac: OTHER, answer: 'redirect', profileRule: hostile });
    assert.is(r.status, 200, r.text);
    assert.match(r.text, /Saved the answer for 0022905c1a2c/);
    assert.ok(r.text.includes('http://x/&lt;script&gt;alert(1)&lt;/script&gt;.xml') && !r.text.includes('<script>'), 'escaped');
    r = await go('POST', '/ccmadmin/edos', { _csrf: csrf(r.text), mac: 'not-a-mac', answer: 'none' });
    assert.is(r.status, 400);
    assert.match(r.text, /role="alert">&quot;not-a-mac&quot; is not a MAC address/);
    assert.is((await go('POST', '/ccmadmin/edos', { mac: OTHER, answer: 'fault-503' })).status, 403, 'no CSRF token: refused');
    r = await go('POST', '/ccmadmin/edos/clear', { _csrf: csrf(r.text), scope: 'mac', target: OTHER });
    assert.match(r.text, /Cleared the rule for 0022905c1a2c/);
    const l = JSON.parse(await cmOk('edos', 'list', '--json')) as EdosListView;
    assert.equal(l.rules.map((x) => x.target), [MAC]);

    // The profiles page: show what a MAC is served, upload over it with a key, clear.
    let p = await go('GET', `/ccmadmin/mpp-profiles?mac=${OTHER}`);
    assert.is(p.status, 200);
    for (const [id, label] of [['showMac', 'MAC Address'], ['profile', 'Profile to merge'], ['key', 'Key'], ['noKey', '']] as const) assert.match(p.text, new RegExp(`<label for="${id}">${label}`));
    p = await go('POST', '/ccmadmin/mpp-profiles', { _csrf: csrf(p.text), mac: OTHER, profile: '<flat-profile><Station_Name>lab &lt;b&gt;</Station_Name></flat-profile>', key: 'page-key-1' });
    assert.is(p.status, 200, p.text);
    assert.match(p.text, /Saved for 0022905c1a2c[\s\S]*Served encrypted/);
    assert.ok(p.text.includes('<code>lab &amp;lt;b&amp;gt;</code>') || p.text.includes('<code>lab &lt;b&gt;</code>'), 'the value shown escaped');
    assert.not.match(p.text, /page-key-1/);
    const bad = await go('POST', '/ccmadmin/mpp-profiles', { _csrf: csrf(p.text), mac: OTHER, profile: '<flat-profile><1bad/></flat-profile>' });
    assert.is(bad.status, 400);
    assert.match(bad.text, /role="alert"/);
    p = await go('POST', '/ccmadmin/mpp-profiles/clear', { _csrf: csrf(bad.text), mac: OTHER });
    assert.match(p.text, /Cleared the upload and key of 0022905c1a2c/);
  } finally {
    await agent.close();
  }
});

test('with the companion stopped, the commands work on the database; the next start answers by it', async () => {
  await companion.stop();
  assert.not.ok(existsSync(join(data, 'admin.sock')));
  const set = await cm('edos', 'set', '--mac', OTHER, '--fault', '503');
  assert.is(set.code, 0, set.err);
  assert.match(set.err, /no companion is serving .*: working on its database directly/);
  const l = JSON.parse(await cmOk('edos', 'list', '--json')) as EdosListView;
  assert.is(l.running, false);
  assert.equal(l.rules.map((x) => [x.target, x.answer]), [[MAC, 'redirect'], [OTHER, 'fault']]);
  assert.match((await cmOk('profile', 'show', '--mac', MAC)).toString(), /not running: only the uploaded parameters/);
  await cmOk('profile', 'clear', '--mac', MAC);
  companion = new Companion({ dataDir: data, config: config(), log: (l) => log.push(l) });
  await companion.start();
  assert.is(answered(await ask({ mac: OTHER, cert: certs['other'] })).status, 503);
  const prov = await fetch(`http://127.0.0.1:${companion.endpoints.http}/mpp/8841/${MAC}.xml`);
  assert.is(Buffer.from(await prov.arrayBuffer()).subarray(0, 8).toString('latin1') === 'Salted__', false, 'the key went with profile clear');
  assert.is(log.filter((l) => l.startsWith('edos: server certificate for')).length, 1, 'the server certificate was made once and kept across starts');
  assert.not.match(log.join('\n'), /made again/);
});

test.run();
