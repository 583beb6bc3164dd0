/**
 * The admin API's route table through Fastify's inject(): every route of version 1, each
 * outcome kind answered with its status, the token check, bodies too large or not JSON, and
 * fields of the wrong type. The operations are the real ones over a real database and PKI;
 * only the phones' side of service-control is a small stand-in (AnsweringPhones).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { VirtualClock } from '../../src/common/clock.ts';
import type { ErrorBody, PhoneView, ResetAnswer, StatusView, TrustView } from '../../src/cm/admin/contract.ts';
import { FAILURE_STATUS } from '../../src/cm/admin/errors.ts';
import { PhoneOperations, type ServiceControl } from '../../src/cm/admin/phones.ts';
import { openOnboarding } from '../../src/cm/activation/onboarding-parts.ts';
import { BulkOperations } from '../../src/cm/admin/bulk.ts';
import { TemplateStore } from '../../src/cm/bulk/templates.ts';
import { type AdminOperations, ROUTES, buildAdminApp } from '../../src/cm/admin/routes.ts';
import { StatusOperations } from '../../src/cm/admin/status.ts';
import { TrustOperations } from '../../src/cm/admin/trust.ts';
import { type CompanionConfig, buildConfig } from '../../src/cm/config.ts';
import { CompanionDb } from '../../src/cm/db.ts';
import { CompanionPki } from '../../src/cm/pki.ts';
import { makeCert } from '../support/certs.ts';
import { MppOperations } from '../../src/cm/edos/operations.ts';
import { MppStore } from '../../src/cm/edos/store.ts';

const TOKEN = 'ab'.repeat(32);
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** Phones that answer service-control: the connected ones with 200, the others not at all. */
class AnsweringPhones implements ServiceControl {
  readonly connected = new Set<string>();
  readonly sent: Array<[string, string]> = [];
  async sendServiceControl(device: string, action: 'reset' | 'restart'): Promise<ResetAnswer> {
    this.sent.push([device, action]);
    return this.connected.has(device) ? { ok: true, detail: '200 OK' } : { ok: false, detail: `${device} is not connected` };
  }
}

interface World {
  dir: string;
  db: CompanionDb;
  app: FastifyInstance;
  phones: AnsweringPhones;
}

async function world(raw: Record<string, unknown>): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'sepi-cm-routes-'));
  const clock = new VirtualClock();
  const config: CompanionConfig = buildConfig(raw, { address: '127.0.0.1', prefix: 8 });
  const db = new CompanionDb(dir);
  const pki = config.security.mode === 'none' ? undefined : await CompanionPki.open(dir, config.address, clock);
  const phones = new AnsweringPhones();
  const log = () => {};
  const onboarding = await openOnboarding({ db, config, clock, log, dataDir: dir });
  const phoneOps = new PhoneOperations({ db, config, clock, log, serviceControl: phones, onboarding });
  const ops: AdminOperations = {
    phones: phoneOps,
    onboarding: onboarding.operations,
    bulk: new BulkOperations({ db, templates: new TemplateStore(db), store: onboarding.store, phones: phoneOps, log }),
    trust: new TrustOperations({ db, config, pki, log }),
    status: new StatusOperations({ db, config, clock, startedAt: clock.now(), dhcpCounters: undefined, tvsRunning: pki !== undefined }),
    mpp: new MppOperations({ store: new MppStore(db), clock, log }),
  };
  return { dir, db, app: buildAdminApp(ops, TOKEN), phones };
}

async function call(w: World, method: 'GET' | 'POST' | 'DELETE' | 'PUT', url: string, body?: unknown, headers: Record<string, string> = {}) {
  const r = await w.app.inject({ method, url, headers: { ...AUTH, 'content-type': 'application/json', ...headers }, ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }) });
  return { status: r.statusCode, json: (r.body ? JSON.parse(r.body) : undefined) as unknown, raw: r.body };
}

const error = (r: { json: unknown }) => r.json as ErrorBody;

// ---- phones, status, HTTP edges (security itl) ----------------------------------------------

const api = suite('admin routes');
let w: World;

api.before(async () => {
  w = await world({ autoRegistration: { dnRange: ['2000', '2001'] } });
});

api.after(async () => {
  await w.app.close();
  w.db.close();
  await rm(w.dir, { recursive: true, force: true });
});

api('each outcome kind has one status, as version 1 documents them', () => {
  assert.equal({ ...FAILURE_STATUS }, { invalid: 400, 'not-found': 404, conflict: 409, unavailable: 409 });
  assert.equal(ROUTES.map((r) => `${r.method} ${r.url} ${r.ok}`), [
    'GET /v1/status 200', 'GET /v1/phones 200', 'POST /v1/phones 201', 'GET /v1/phones/:device 200', 'DELETE /v1/phones/:device 204',
    'POST /v1/phones/:device/reset 200', 'POST /v1/phones/:device/certificate 200',
    'GET /v1/phones/:device/code 200', 'POST /v1/phones/:device/code 200', 'GET /v1/codes 200', 'GET /v1/audit 200', 'GET /v1/enterprise 200', 'POST /v1/enterprise 200',
    'POST /v1/phones/:device/mac 200', 'GET /v1/templates 200', 'POST /v1/templates 200', 'POST /v1/bat/insert 201', 'GET /v1/device-defaults 200', 'POST /v1/device-defaults 200',
    'GET /v1/users 200', 'POST /v1/users 201',
    'GET /v1/users/:id/provisioning 200', 'POST /v1/users/:id/provisioning 200', 'GET /v1/ivr 200', 'POST /v1/ivr 200',
    'GET /v1/device-templates 200', 'POST /v1/device-templates 200', 'GET /v1/device-templates/:name 200', 'DELETE /v1/device-templates/:name 200',
    'GET /v1/line-templates 200', 'POST /v1/line-templates 200', 'GET /v1/line-templates/:name 200', 'DELETE /v1/line-templates/:name 200',
    'GET /v1/user-profiles 200', 'POST /v1/user-profiles 200', 'GET /v1/user-profiles/:name 200', 'DELETE /v1/user-profiles/:name 200',
    'GET /v1/autoregistration 200', 'POST /v1/autoregistration 200',
    'POST /v1/trust/manufacturing 201', 'GET /v1/trust 200', 'GET /v1/trust/certificates/:role 200', 'POST /v1/trust/import 201',
    'POST /v1/trust/rotate-tftp 200', 'POST /v1/trust/rollback 200',
    'GET /v1/edos/rules 200', 'POST /v1/edos/rules 200', 'DELETE /v1/edos/rules/:scope/:target 200',
    'GET /v1/mpp/profiles/:mac 200', 'POST /v1/mpp/profiles/:mac 200', 'DELETE /v1/mpp/profiles/:mac 200',
    'GET /v1/loads 200', 'POST /v1/loads 201', 'POST /v1/device-defaults/load 200', 'POST /v1/phones/:device/load 200',
  ]);
});

api('no token, a wrong one or a malformed one: 401, on known and unknown paths alike', async () => {
  for (const authorization of [undefined, `Bearer ${'cd'.repeat(32)}`, `Bearer ${TOKEN.slice(1)}`, TOKEN]) {
    for (const url of ['/v1/status', '/v1/nothing']) {
      const r = await w.app.inject({ method: 'GET', url, headers: authorization ? { authorization } : {} });
      assert.is(r.statusCode, 401, `${authorization} ${url}`);
      assert.equal(JSON.parse(r.body), { error: 'missing or wrong admin token' });
    }
  }
});

api('POST /v1/phones: 201 with the phone; a MAC in any form; DN from the range when none is given', async () => {
  const r = await call(w, 'POST', '/v1/phones', { mac: '00:11:22:33:44:55', model: '8841', dn: '1001', description: 'Alice', password: 'pw' });
  assert.is(r.status, 201);
  const p = r.json as PhoneView;
  assert.is(p.deviceName, 'SEP001122334455');
  assert.is(p.mac, '001122334455');
  assert.is(p.hasPassword, true);
  assert.is(p.registered, false);
  assert.not.ok('password' in p, 'the password is never returned');
  assert.equal(Object.keys(p), ['mac', 'model', 'dn', 'description', 'autoregistered', 'createdAt', 'versionStamp', 'deviceName', 'hasPassword', 'registered', 'certificate', 'requiresActivationCode'], 'the order `phone show` prints');
  assert.is(p.createdAt, new Date(Date.UTC(2026, 0, 1)).toISOString(), 'stamped by the clock');
  const auto = await call(w, 'POST', '/v1/phones', { mac: 'SEP0011223344aa', model: '7975' });
  assert.is(auto.status, 201);
  assert.is((auto.json as PhoneView).dn, '2000');
  // curl -d sends form-urlencoded: the body is JSON all the same.
  const curl = await call(w, 'POST', '/v1/phones', { mac: '001122334466', model: '8851', dn: '1002' }, { 'content-type': 'application/x-www-form-urlencoded' });
  assert.is(curl.status, 201);
});

api('POST /v1/phones refusals: 409 for a taken device or DN, 400 naming the field', async () => {
  let r = await call(w, 'POST', '/v1/phones', { mac: '001122334455', model: '8841' });
  assert.is(r.status, 409);
  assert.is(error(r).error, 'SEP001122334455 already exists');
  r = await call(w, 'POST', '/v1/phones', { mac: '001122334477', model: '8841', dn: '1001' });
  assert.is(r.status, 409);
  assert.is(error(r).error, 'directory number 1001 belongs to SEP001122334455');
  r = await call(w, 'POST', '/v1/phones', { mac: '0011', model: '8841' });
  assert.equal([r.status, error(r).field], [400, 'mac']);
  r = await call(w, 'POST', '/v1/phones', { mac: '001122334477', model: '1234' });
  assert.equal([r.status, error(r).field, error(r).error], [400, 'model', 'model must be one of the known models, not "1234"']);
  r = await call(w, 'POST', '/v1/phones', { mac: '001122334477' });
  assert.equal([r.status, error(r)], [400, { error: 'model is missing', field: 'model' }]);
  r = await call(w, 'POST', '/v1/phones', { mac: '001122334477', model: '8841', dn: 1003 });
  assert.equal([r.status, error(r)], [400, { error: 'dn must be a string', field: 'dn' }]);
  r = await call(w, 'POST', '/v1/phones', { mac: '001122334477', model: '8841', dn: '12a' });
  assert.equal([r.status, error(r).field], [400, 'dn']);
  r = await call(w, 'POST', '/v1/phones', { model: '8841' });
  assert.equal([r.status, error(r).field], [400, 'mac']);
  r = await call(w, 'POST', '/v1/phones', { mac: '001122334477', deviceName: 'SEP001122334478', model: '8841' });
  assert.equal([r.status, error(r).field], [400, 'deviceName']);
  r = await call(w, 'POST', '/v1/phones', { mac: '001122334477', model: '8841', description: 'x'.repeat(129) });
  assert.equal([r.status, error(r).field], [400, 'description']);
  // The range 2000-2001 has one DN left; then none.
  assert.is((await call(w, 'POST', '/v1/phones', { mac: '001122334401', model: '8841' })).status, 201);
  r = await call(w, 'POST', '/v1/phones', { mac: '001122334402', model: '8841' });
  assert.equal([r.status, error(r).field], [400, 'dn']);
});

api('GET /v1/phones/{device}: every way of writing the device, colons escaped or not', async () => {
  for (const id of ['001122334455', '00:11:22:33:44:55', encodeURIComponent('00:11:22:33:44:55'), '00-11-22-33-44-55', 'SEP001122334455', 'sep001122334455']) {
    const r = await call(w, 'GET', `/v1/phones/${id}`);
    assert.is(r.status, 200, id);
    assert.is((r.json as PhoneView).deviceName, 'SEP001122334455');
  }
  const missing = await call(w, 'GET', '/v1/phones/SEP00112233FFFF');
  assert.equal([missing.status, missing.json], [404, { error: 'no phone SEP00112233FFFF' }]);
  assert.is((await call(w, 'GET', '/v1/phones/not-a-phone')).status, 404);
  const list = await call(w, 'GET', '/v1/phones');
  assert.is(list.status, 200);
  assert.equal((list.json as PhoneView[]).map((p) => p.dn), ['1001', '1002', '2000', '2001']);
});

api('a BAT device: added by name without a MAC, shown and removed by name', async () => {
  const r = await call(w, 'POST', '/v1/phones', { deviceName: 'bat0000000000a1', model: '8841', dn: '1900' });
  assert.is(r.status, 201);
  assert.equal([(r.json as PhoneView).deviceName, (r.json as PhoneView).mac], ['BAT0000000000A1', null]);
  assert.is((await call(w, 'GET', '/v1/phones/BAT0000000000A1')).status, 200);
  const gone = await call(w, 'DELETE', '/v1/phones/bat0000000000a1');
  assert.equal([gone.status, gone.raw], [204, '']);
  assert.is((await call(w, 'GET', '/v1/phones/BAT0000000000A1')).status, 404);
  assert.is((await call(w, 'DELETE', '/v1/phones/BAT0000000000A1')).status, 404);
});

api('POST /v1/phones/{device}/reset: the phone\'s answer, 409 when it is not connected, 404 for no phone', async () => {
  w.phones.connected.add('SEP001122334455');
  let r = await call(w, 'POST', '/v1/phones/00:11:22:33:44:55/reset', { action: 'restart' });
  assert.equal([r.status, r.json], [200, { ok: true, detail: '200 OK' }]);
  r = await call(w, 'POST', '/v1/phones/SEP001122334455/reset');
  assert.is(r.status, 200);
  assert.equal(w.phones.sent.slice(-2), [['SEP001122334455', 'restart'], ['SEP001122334455', 'reset']], 'no body means reset');
  r = await call(w, 'POST', '/v1/phones/001122334466/reset', { action: 'reset' });
  assert.equal([r.status, error(r).error], [409, 'SEP001122334466: SEP001122334466 is not connected']);
  r = await call(w, 'POST', '/v1/phones/001122334499/reset', { action: 'reset' });
  assert.is(r.status, 404);
  r = await call(w, 'POST', '/v1/phones/001122334455/reset', { action: 'reboot' });
  assert.equal([r.status, error(r)], [400, { error: 'action must be one of reset, restart', field: 'action' }]);
});

api('DELETE /v1/phones/{device}: 204 and no body', async () => {
  const r = await call(w, 'DELETE', '/v1/phones/001122334466');
  assert.equal([r.status, r.raw], [204, '']);
  assert.is((await call(w, 'GET', '/v1/phones/001122334466')).status, 404);
});

api('GET /v1/status', async () => {
  const r = await call(w, 'GET', '/v1/status');
  assert.is(r.status, 200);
  const s = r.json as StatusView;
  assert.equal(Object.keys(s), ['version', 'pid', 'uptimeSecs', 'address', 'services', 'security', 'callManagers', 'autoRegistration', 'phones', 'registered', 'leases', 'passwordsInClear']);
  assert.equal([s.address, s.phones, s.registered, s.uptimeSecs], ['127.0.0.1', 3, 0, 0]);
  assert.equal(s.services.http, { port: 6970 });
});

api('HTTP edges: bad JSON, not an object, too large, no such route', async () => {
  let r = await call(w, 'POST', '/v1/phones', '{"mac":');
  assert.equal([r.status, r.json], [400, { error: 'body must be a JSON object' }]);
  r = await call(w, 'POST', '/v1/phones', '["001122334455"]');
  assert.equal([r.status, r.json], [400, { error: 'body must be a JSON object' }]);
  r = await call(w, 'POST', '/v1/phones', { mac: '001122334488', model: '8841', description: 'x'.repeat(2100 * 1024) });
  assert.equal([r.status, r.json], [413, { error: 'request body too large' }]);
  r = await call(w, 'GET', '/v2/phones');
  assert.equal([r.status, r.json], [404, { error: 'no route for GET /v2/phones' }]);
  r = await call(w, 'PUT', '/v1/phones', {});
  assert.is(r.status, 404);
});

api('trust routes: list, export, import, rotate, rollback', async () => {
  let r = await call(w, 'GET', '/v1/trust');
  assert.is(r.status, 200);
  const t = r.json as TrustView;
  assert.equal([t.mode, t.rollback, t.certificates.map((c) => `${c.source} ${c.name} ${c.roles.join(',')}`)], ['itl', false, ['own sast SAST', 'own tftp CCM+TFTP', 'own tvs TVS', 'own capf CAPF']]);
  r = await call(w, 'GET', '/v1/trust/certificates/sast');
  assert.equal([r.status, (r.json as { pem: string }).pem.startsWith('-----BEGIN CERTIFICATE-----')], [200, true]);
  r = await call(w, 'GET', '/v1/trust/certificates/capf');
  assert.equal([r.status, (r.json as { pem: string }).pem.startsWith('-----BEGIN CERTIFICATE-----')], [200, true]);
  r = await call(w, 'GET', '/v1/trust/certificates/itlrecovery');
  assert.equal([r.status, error(r)], [400, { error: 'role must be one of sast, tftp, tvs, capf', field: 'role' }]);
  const other = makeCert('SAST-other-cluster');
  r = await call(w, 'POST', '/v1/trust/import', { pem: other.pem, roles: ['sast'], note: 'cluster B' });
  assert.equal([r.status, (r.json as { roles: string[] }).roles], [201, ['SAST']]);
  r = await call(w, 'POST', '/v1/trust/import', { pem: 'not a certificate', roles: ['SAST'] });
  assert.equal([r.status, error(r).field], [400, 'pem']);
  r = await call(w, 'POST', '/v1/trust/import', { pem: other.pem, roles: ['KING'] });
  assert.equal([r.status, error(r).field], [400, 'roles']);
  r = await call(w, 'POST', '/v1/trust/import', { pem: other.pem });
  assert.equal([r.status, error(r).field], [400, 'roles']);
  assert.is(((await call(w, 'GET', '/v1/trust')).json as TrustView).certificates.at(-1)!.name, 'cluster B');
  const before = t.certificates.find((c) => c.name === 'tftp')!.sha256;
  r = await call(w, 'POST', '/v1/trust/rotate-tftp');
  assert.is(r.status, 200);
  assert.is.not((r.json as { sha256: string }).sha256, before);
  r = await call(w, 'POST', '/v1/trust/rollback', { enabled: true });
  assert.equal([r.status, r.json], [200, { rollback: true }]);
  assert.is(((await call(w, 'GET', '/v1/status')).json as StatusView).security.rollback, true);
  r = await call(w, 'POST', '/v1/trust/rollback', {});
  assert.equal([r.status, error(r)], [400, { error: 'enabled is missing', field: 'enabled' }]);
  r = await call(w, 'POST', '/v1/trust/rollback', { enabled: 'off' });
  assert.equal([r.status, error(r).field], [400, 'enabled']);
});

api.run();

// ---- security none: trust is unavailable, and so is reset without a registrar --------------

const none = suite('admin routes, security none and no registrar');
let n: World;

none.before(async () => {
  n = await world({ security: { mode: 'none' } });
});

none.after(async () => {
  await n.app.close();
  n.db.close();
  await rm(n.dir, { recursive: true, force: true });
});

none('trust resources answer 409 with why', async () => {
  for (const [method, url, body] of [['GET', '/v1/trust'], ['GET', '/v1/trust/certificates/sast'], ['POST', '/v1/trust/rotate-tftp'], ['POST', '/v1/trust/rollback', { enabled: true }], ['POST', '/v1/trust/import', { pem: makeCert('x').pem, roles: ['SAST'] }]] as const) {
    const r = await call(n, method, url, body);
    assert.is(r.status, 409, url);
    assert.match(error(r).error, /^security mode is none/);
  }
});

none('reset with no registrar running: 409', async () => {
  const clock = new VirtualClock();
  const config = buildConfig({ sip: { enabled: false } }, { address: '127.0.0.1', prefix: 8 });
  const ops = new PhoneOperations({ db: n.db, config, clock, log: () => {}, serviceControl: undefined });
  assert.is(ops.add({ mac: '001122334455', model: '8841' }).kind, 'ok');
  const r = await ops.reset('001122334455');
  assert.equal(r, { kind: 'unavailable', message: 'the SIP registrar is not running' });
});

none.run();
