/**
 * The companion's load administration (issue 11): `load add` copies a `make firmware` folder
 * into the TFTP root (its `.loads` at the top, its components under `<id>/`) and Cisco's
 * `.loads`/`.sbn` files byte for byte; what it cannot read it refuses, and then adds nothing.
 * `load list` says which loads are there and complete. Device Defaults' load overrides the
 * configuration's `loadInformation` map in the default file, and a phone's own load is its
 * file's `loadInformation` (its model's when it has none). The same through the admin API's
 * routes, and through `sepi cm` on the data folder when no companion runs.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { randomBytes, sign as cryptoSign } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VirtualClock } from '../../src/common/clock.ts';
import type { Failure, Outcome } from '../../src/cm/admin/contract.ts';
import { type LoadListView, LoadOperations } from '../../src/cm/admin/loads.ts';
import { type AdminOperations, buildAdminApp } from '../../src/cm/admin/routes.ts';
import { buildConfig } from '../../src/cm/config.ts';
import { CompanionDb } from '../../src/cm/db.ts';
import { ProvisioningFiles } from '../../src/cm/provisioning-files.ts';
import { parsePhoneConfig } from '../../src/wire/cnf-xml.ts';
import { buildSignedFile } from '../../src/wire/tlv.ts';
import { certFacts } from '../../src/wire/x509.ts';
import { makeCert } from '../support/certs.ts';
import { ROOT, SEPI } from '../support/sepi.ts';

const run = promisify(execFile);
const LOAD = 'sepi88xx.1-0-1-0007';
const TOKEN = 'cd'.repeat(32);

let tmp: string;
let built: string;

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sepi-cm-loads-'));
  await run(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'scripts', 'build-firmware.ts'), '--out', join(tmp, 'out'), '--keys', join(tmp, 'keys'), '--no-runtime', '--load-id', LOAD], { cwd: ROOT });
  built = join(tmp, 'out', LOAD);
});

test.after(() => rm(tmp, { recursive: true, force: true }));

async function world(config: Record<string, unknown> = {}) {
  const dir = await mkdtemp(join(tmp, 'data-'));
  await mkdir(join(dir, 'tftp-root'));
  const db = new CompanionDb(dir);
  const clock = new VirtualClock();
  const cfg = buildConfig({ security: { mode: 'none' }, ...config }, { address: '127.0.0.1', prefix: 8 });
  const ops = new LoadOperations({ db, dataDir: dir, configured: cfg.loadInformation, clock, log: () => {} });
  return { dir, db, ops, cfg, root: join(dir, 'tftp-root') };
}

const value = <T>(o: Outcome<T>): T => {
  if (o.kind !== 'ok') throw new Error(`${o.kind}: ${o.message}`);
  return o.value;
};
const failure = (o: Outcome<unknown>): Failure => {
  if (o.kind === 'ok') throw new Error('it was accepted');
  return o;
};

/** Cisco's 7941 load as the reference quotes its `.loads` body: signed by some signer, files named without sizes. */
async function ciscoFolder(): Promise<string> {
  const dir = join(tmp, 'cmterm-7941');
  await mkdir(dir, { recursive: true });
  const name = 'SCCP41.9-4-2SR3-1S.loads';
  const body = '#\r\n# This file contains a list of archive image files that will be requested by the\r\n# RELEASE load version 9-4-2ES26\r\n#\r\n\r\njar41sccp.9-4-2ES26.sbn\r\ncnu41.9-4-2ES26.sbn\r\napps41.9-4-2ES26.sbn\r\ndsp41.9-4-2ES26.sbn \r\ncvm41sccp.9-4-2ES26.sbn \r\n';
  const signer = makeCert('someSigner');
  const f = certFacts(signer.der);
  if (!f.ok) throw f.error;
  await writeFile(join(dir, name), buildSignedFile({ version: [1, 1], digest: 'sha1', filename: name, signer: { name: f.value.subject, serial: f.value.serial, issuer: f.value.issuer, modulusBytes: f.value.modulusBytes }, body: Buffer.from(body), sign: (d, data) => cryptoSign(d, data, signer.privateKey) }));
  for (const sbn of ['jar41sccp.9-4-2ES26.sbn', 'cnu41.9-4-2ES26.sbn', 'apps41.9-4-2ES26.sbn']) await writeFile(join(dir, sbn), randomBytes(50_000));
  return dir;
}

test('load add: a make firmware folder into the TFTP root; what cannot be read is refused, and then nothing is added', async () => {
  const w = await world();
  try {
    const forged = join(tmp, 'forged');
    await cp(built, forged, { recursive: true });
    await writeFile(join(forged, 'board', 'README.md'), 'not the listed one');
    const renamed = join(tmp, 'renamed');
    await mkdir(renamed, { recursive: true });
    await cp(join(built, `${LOAD}.loads`), join(renamed, 'sepi88xx.9-9-9-9999.loads'));
    const garbage = join(tmp, 'garbage.loads');
    await writeFile(garbage, 'hello');
    const empty = join(tmp, 'empty');
    await mkdir(empty, { recursive: true });
    const refusals: Array<[string[], RegExp]> = [
      [[join(tmp, 'nothing-here')], /cannot read .*nothing-here: ENOENT/],
      [[empty], /holds no \.loads file: not a load/],
      [[forged], /board\/README\.md in .*forged is not the file its signed list names/],
      [[join(renamed, 'sepi88xx.9-9-9-9999.loads')], /its signed header names sepi88xx\.1-0-1-0007\.loads/],
      [[garbage], /garbage\.loads is not a signed \.loads file/],
      [[built, forged], /nothing added: .*forged is not the file/],
      [[built, join(built, `${LOAD}.loads`)], /would both be sepi88xx\.1-0-1-0007\.loads/],
      [['relative/path'], /paths must be absolute/],
    ];
    for (const [paths, why] of refusals) {
      const f = failure(await w.ops.add({ paths }));
      assert.is(f.kind, 'invalid');
      assert.match(f.message, why);
      assert.equal(await readdir(w.root), [], `${paths.join(' ')}: nothing added`);
    }
    const added = value(await w.ops.add({ paths: [built] })).added;
    const listed = (await readFile(join(built, `${LOAD}.loads`))).length;
    assert.is(added.length, 1);
    assert.equal({ ...added[0], bytes: 0 }, { path: join(built, `${LOAD}.loads`), kind: 'sepi', name: `${LOAD}.loads`, load: LOAD, signer: 'CN=sepi firmware signer,O=sepi lab', files: added[0]!.files, bytes: 0 });
    assert.ok(added[0]!.files > 100 && added[0]!.bytes > listed, JSON.stringify(added[0]));
    assert.equal(await readFile(join(w.root, `${LOAD}.loads`)), await readFile(join(built, `${LOAD}.loads`)));
    assert.equal(await readFile(join(w.root, LOAD, 'lib', 'sepi', 'sepi.mjs')), await readFile(join(built, 'lib', 'sepi', 'sepi.mjs')));
    assert.ok((await readdir(w.root)).every((n) => !n.startsWith('.')), 'no staging folder left');
    // Added again (a rebuilt load): replaced whole.
    value(await w.ops.add({ paths: [join(built, `${LOAD}.loads`)] }));
    const list = value(await w.ops.list());
    assert.equal(list.loads.map((l) => [l.id, l.kind, l.complete, l.signer]), [[LOAD, 'sepi', true, 'CN=sepi firmware signer,O=sepi lab']]);
  } finally {
    w.db.close();
  }
});

test("load add: Cisco's .loads and .sbn files unmodified, complete once every file its list names is there", async () => {
  const w = await world();
  try {
    const cisco = await ciscoFolder();
    const added = value(await w.ops.add({ paths: [cisco] })).added;
    assert.equal(added.map((a) => [a.kind, a.name]), [['cisco', 'SCCP41.9-4-2SR3-1S.loads'], ['file', 'apps41.9-4-2ES26.sbn'], ['file', 'cnu41.9-4-2ES26.sbn'], ['file', 'jar41sccp.9-4-2ES26.sbn']].sort((a, b) => a[1]!.localeCompare(b[1]!)));
    for (const a of added) assert.equal(await readFile(join(w.root, a.name)), await readFile(join(cisco, a.name)), `${a.name} byte for byte`);
    let l = value(await w.ops.list()).loads[0]!;
    assert.equal([l.id, l.kind, l.files, l.complete, l.missing], ['SCCP41.9-4-2SR3-1S', 'cisco', 5, false, ['dsp41.9-4-2ES26.sbn', 'cvm41sccp.9-4-2ES26.sbn']]);
    assert.match(l.signer, /CN=someSigner/);
    // The two missing images, one by one.
    for (const sbn of ['dsp41.9-4-2ES26.sbn', 'cvm41sccp.9-4-2ES26.sbn']) await writeFile(join(tmp, sbn), randomBytes(1000));
    const more = value(await w.ops.add({ paths: [join(tmp, 'dsp41.9-4-2ES26.sbn'), join(tmp, 'cvm41sccp.9-4-2ES26.sbn')] })).added;
    assert.equal(more.map((a) => [a.kind, a.name, a.bytes]), [['file', 'dsp41.9-4-2ES26.sbn', 1000], ['file', 'cvm41sccp.9-4-2ES26.sbn', 1000]]);
    l = value(await w.ops.list()).loads[0]!;
    assert.is(l.complete, true);
    await writeFile(join(tmp, 'empty.sbn'), '');
    assert.match(failure(await w.ops.add({ paths: [join(tmp, 'empty.sbn')] })).message, /empty\.sbn is empty/);
  } finally {
    w.db.close();
  }
});

test("which load a phone is told: Device Defaults over the configuration's map, a phone's own over its model's", async () => {
  const w = await world({ loadInformation: { '683': 'sip88xx.14-2-1-0001-14', '36217': 'sip88xx.12-8-1-0001-455' } });
  try {
    const files = new ProvisioningFiles(w.db, w.cfg);
    const defaults = () => {
      const c = parsePhoneConfig(files.defaultFile());
      if (!c.ok || c.value.kind !== 'default') throw new Error('no default file');
      return Object.fromEntries(c.value.loads.map((l) => [l.code, l.load]));
    };
    const own = () => {
      const c = parsePhoneConfig(files.deviceFile(w.db.phone('SEP0011223344D1')!));
      if (!c.ok || c.value.kind !== 'device') throw new Error('no device file');
      return c.value.loadInformation;
    };
    w.db.addPhone({ deviceName: 'SEP0011223344D1', mac: '0011223344D1', model: '8841', dn: '1001', description: '', password: '', autoregistered: false, createdAt: '2026-01-01T00:00:00.000Z', versionStamp: '1' });
    assert.equal(defaults(), { 683: 'sip88xx.14-2-1-0001-14', 36217: 'sip88xx.12-8-1-0001-455' });
    assert.is(own(), 'sip88xx.14-2-1-0001-14', "its model's, from the configuration");
    value(await w.ops.add({ paths: [built] }));
    const d = value(w.ops.setDefault({ model: '8841', load: LOAD }));
    assert.equal(d, { model: '8841', code: 683, load: LOAD, from: 'device-defaults', inTftpRoot: true });
    assert.equal(defaults(), { 683: LOAD, 36217: 'sip88xx.12-8-1-0001-455' });
    assert.is(own(), LOAD);
    const p = value(w.ops.setPhone('00:11:22:33:44:d1', { load: 'sepi88xx.1-0-1-0008' }));
    assert.equal(p, { deviceName: 'SEP0011223344D1', load: 'sepi88xx.1-0-1-0008', effective: 'sepi88xx.1-0-1-0008', inTftpRoot: false });
    assert.is(own(), 'sepi88xx.1-0-1-0008');
    assert.equal(value(await w.ops.list()).phones, [{ deviceName: 'SEP0011223344D1', load: 'sepi88xx.1-0-1-0008' }]);
    assert.is(value(w.ops.setPhone('SEP0011223344D1', { load: '' })).effective, LOAD, "back to its model's");
    assert.is(value(w.ops.setDefault({ model: 'CP-8841', load: '' })).load, 'sip88xx.14-2-1-0001-14', "back to the configuration's");
    assert.is(own(), 'sip88xx.14-2-1-0001-14');
    assert.match(failure(w.ops.setDefault({ model: '9999', load: LOAD })).message, /not a known model/);
    assert.match(failure(w.ops.setDefault({ model: '8841', load: `${LOAD}.loads` })).message, /without "\.loads"/);
    assert.match(failure(w.ops.setPhone('SEP0011223344D1', { load: '../x' })).message, /is not a load ID/);
    assert.is(failure(w.ops.setPhone('SEP00112233FFFF', { load: LOAD })).kind, 'not-found');
  } finally {
    w.db.close();
  }
});

test('the admin routes, and sepi cm on the data folder when no companion runs', async () => {
  const w = await world();
  try {
    const app = buildAdminApp({ loads: w.ops } as unknown as AdminOperations, TOKEN);
    const call = async (method: 'GET' | 'POST', url: string, body?: unknown) => {
      const r = await app.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) });
      return { status: r.statusCode, json: JSON.parse(r.body) as Record<string, unknown> };
    };
    assert.is((await call('POST', '/v1/loads', { paths: [built] })).status, 201);
    assert.is((await call('POST', '/v1/loads', { paths: 'one' })).status, 400);
    assert.is((await call('POST', '/v1/loads', { paths: [join(tmp, 'nothing')] })).status, 400);
    assert.equal((await call('GET', '/v1/loads')).json['defaults'], []);
    assert.equal((await call('POST', '/v1/device-defaults/load', { model: '8841', load: LOAD })).json, { model: '8841', code: 683, load: LOAD, from: 'device-defaults', inTftpRoot: true });
    assert.is((await call('POST', '/v1/phones/SEP001122334499/load', { load: LOAD })).status, 404);
    await app.close();
    w.db.close();

    // No companion serves the folder: the command works on it directly, and says so.
    const db = new CompanionDb(w.dir);
    db.addPhone({ deviceName: 'SEP0011223344D2', mac: '0011223344D2', model: '8841', dn: '1002', description: '', password: '', autoregistered: false, createdAt: '2026-01-01T00:00:00.000Z', versionStamp: '1' });
    db.close();
    const cli = async (...args: string[]) => run(SEPI, ['cm', '--data', w.dir, ...args], { cwd: ROOT });
    const set = await cli('phone', 'set', '0011223344D2', '--load', 'sepi88xx.1-0-1-0009');
    assert.match(set.stdout, /SEP0011223344D2: load sepi88xx\.1-0-1-0009 \(no sepi88xx\.1-0-1-0009\.loads in the TFTP root yet/);
    assert.match(set.stderr, /no companion is serving .*: working on its folder directly/);
    const list = JSON.parse((await cli('load', 'list', '--json')).stdout) as LoadListView;
    assert.equal(list.loads.map((l) => [l.id, l.complete]), [[LOAD, true]]);
    assert.equal(list.defaults.map((d) => [d.code, d.load, d.from]), [[683, LOAD, 'device-defaults']]);
    assert.equal(list.phones, [{ deviceName: 'SEP0011223344D2', load: 'sepi88xx.1-0-1-0009' }]);
    assert.match((await cli('load', 'list')).stdout, new RegExp(`${LOAD.replace(/\./g, '\\.')} +sepi +\\d+ +[\\d.]+ MiB +complete, signed by CN=sepi firmware signer`));
    const bad = await cli('device-defaults', 'set', '--model', '8841', '--load', 'x.loads').catch((e: { code: number; stderr: string }) => e);
    assert.is((bad as { code: number }).code, 2, 'a usage error');
    assert.match((bad as { stderr: string }).stderr, /give the load ID without "\.loads"/);
    const refused = await cli('load', 'add', join(tmp, 'nothing')).catch((e: { code: number; stderr: string }) => e);
    assert.is((refused as { code: number }).code, 1);
    assert.match((refused as { stderr: string }).stderr, /nothing added: cannot read/);
    // A rename of the folder's .loads does not fool the list either.
    await rename(join(w.root, `${LOAD}.loads`), join(w.root, 'sepi88xx.0-0-0-0000.loads'));
    const after = JSON.parse((await cli('load', 'list', '--json')).stdout) as LoadListView;
    assert.equal(after.loads.map((l) => [l.id, l.complete]), [['sepi88xx.0-0-0-0000', false]]);
    assert.match(after.loads[0]!.missing[0]!, /its signed header names/);
  } finally {
    await rm(w.dir, { recursive: true, force: true });
  }
});

test.run();
