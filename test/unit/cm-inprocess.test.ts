/**
 * The companion run inside another program, without root: loopback, no DHCP, every port the
 * kernel's choice. The files it serves name the ports it got; the admin API answers on its
 * Unix socket (the CLI included, with a MAC written with colons: issue 7); the operations
 * can be driven directly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SystemClock } from '../../src/common/clock.ts';
import type { PhoneView, StatusView } from '../../src/cm/admin/contract.ts';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import { AdminClient, AdminClientError } from '../../src/cm/admin-client.ts';
import { Companion } from '../../src/cm/companion.ts';
import { loopbackConfig } from '../../src/cm/config.ts';
import { NodeNetwork } from '../../src/phone/node-ports.ts';
import { tftpGet } from '../../src/phone/tftp-client.ts';
import { parsePhoneConfig } from '../../src/wire/cnf-xml.ts';

const SEPI = join(import.meta.dirname, '..', '..', 'bin', 'sepi');
let dir = '';
let companion: Companion;
const log: string[] = [];
const network = new NodeNetwork();

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sepi-cm-inproc-'));
  companion = new Companion({ dataDir: dir, config: loopbackConfig(), log: (l) => log.push(l) });
  await companion.start();
});

test.after(async () => {
  await companion?.stop();
  await network.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('every service bound to a port of the kernel\'s choosing, reported in endpoints and status', () => {
  const e = companion.endpoints;
  for (const k of ['http', 'tftp', 'sip', 'tvs'] as const) assert.ok(e[k]! > 1024, `${k} ${e[k]}`);
  const s = expectOk(companion.status.get());
  assert.equal(s.services.http, { port: e.http });
  assert.equal(s.services.tftp, { port: e.tftp });
  assert.equal(s.services.sip, { listen: `127.0.0.1:${e.sip}`, expires: 120 });
  assert.equal(s.services.tvs, { port: e.tvs });
  assert.equal([s.services.capf, s.services.activation, s.services.web], [{ port: e.capf }, { port: e.activation }, { port: e.web }], 'the services that start after the status know their ports too');
  assert.is(s.services.dhcp, false);
  assert.equal(s.callManagers, [{ host: '127.0.0.1', sipPort: e.sip, priority: 0 }]);
});

test('XMLDefault.cnf.xml over HTTP names the bound SIP and TVS ports', async () => {
  const r = await fetch(`http://127.0.0.1:${companion.endpoints.http}/XMLDefault.cnf.xml`);
  assert.is(r.status, 200);
  const parsed = parsePhoneConfig(Buffer.from(await r.arrayBuffer()));
  assert.ok(parsed.ok && parsed.value.kind === 'default');
  if (!parsed.ok) return;
  assert.equal(parsed.value.callManagers.map((m) => [m.host, m.sipPort]), [['127.0.0.1', companion.endpoints.sip]]);
  assert.equal(parsed.value.tvs.map((t) => [t.address, t.port]), [['127.0.0.1', companion.endpoints.tvs]]);
});

test('the npm tftp server on port 0 serves too', async () => {
  const r = await tftpGet(
    { network, clock: new SystemClock(), port: companion.endpoints.tftp!, request: { blksize: 1428, tsize: true, timeoutSecs: 1 }, retransmitMs: 500, retries: 3, maxBytes: 1 << 20 },
    '127.0.0.1', 'XMLDefault.cnf.xml', new AbortController().signal,
  );
  assert.is(r.kind, 'file');
});

test('a phone added through the operations directly gets its own file, its line on the bound SIP port', async () => {
  const p = expectOk(companion.phones.add({ mac: '02:aa:bb:cc:dd:ee', model: '8841', dn: '1001', description: 'In-process' }));
  assert.is(p.deviceName, 'SEP02AABBCCDDEE');
  const r = await fetch(`http://127.0.0.1:${companion.endpoints.http}/SEP02AABBCCDDEE.cnf.xml`);
  const parsed = parsePhoneConfig(Buffer.from(await r.arrayBuffer()));
  assert.ok(parsed.ok && parsed.value.kind === 'device');
  if (!parsed.ok || parsed.value.kind !== 'device') return;
  assert.equal(parsed.value.lines.map((l) => [l.dn, l.port]), [['1001', companion.endpoints.sip]]);
  assert.equal(parsed.value.callManagers.map((m) => m.sipPort), [companion.endpoints.sip]);
  // Not registered, so a reset has no one to reach.
  const reset = await companion.phones.reset('SEP02AABBCCDDEE', { action: 'restart' });
  assert.equal(reset, { kind: 'unavailable', message: 'SEP02AABBCCDDEE: SEP02AABBCCDDEE is not connected' });
  assert.ok(log.includes('admin added SEP02AABBCCDDEE (8841) with DN 1001'));
});

test('the admin API on admin.sock (0600), with the token, a MAC with colons in the path', async () => {
  assert.is((await stat(join(dir, 'admin.sock'))).mode & 0o777, 0o600);
  assert.is((await stat(join(dir, 'admin.token'))).mode & 0o777, 0o600);
  const client = new AdminClient(dir);
  const shown = await client.call<PhoneView>('GET', `/v1/phones/${encodeURIComponent('02:aa:bb:cc:dd:ee')}`);
  assert.is(shown.dn, '1001');
  const status = await client.call<StatusView>('GET', '/v1/status');
  assert.is(status.phones, 1);
  const added = await client.call<PhoneView>('POST', '/v1/phones', { mac: '02aabbccddef', model: '7975' });
  assert.is(added.dn, '2000');
  await client.call('POST', '/v1/trust/rotate-tftp');
  try {
    await client.call('GET', '/v1/phones/SEP0000000000FF');
    assert.unreachable('found a phone that does not exist');
  } catch (e) {
    assert.instance(e, AdminClientError);
    assert.equal([(e as AdminClientError).status, (e as Error).message], [404, 'no phone SEP0000000000FF']);
  }
});

test('sepi cm phone show 02:aa:… through the command line (issue 7)', async () => {
  const { stdout } = await promisify(execFile)(SEPI, ['cm', '--data', dir, 'phone', 'show', '02:aa:bb:cc:dd:ee']);
  assert.match(stdout, /^mac {14}02AABBCCDDEE$/m);
  assert.match(stdout, /^deviceName {7}SEP02AABBCCDDEE$/m);
  const rm = await promisify(execFile)(SEPI, ['cm', '--data', dir, 'phone', 'rm', '02:aa:bb:cc:dd:ef']);
  assert.is(rm.stdout, 'removed 02:aa:bb:cc:dd:ef\n');
});

test('sepi cm ivr set|show and user add --self-provisioning / user set through the command line (issue 10)', async () => {
  const sepi = (...args: string[]) => promisify(execFile)(SEPI, ['cm', '--data', dir, ...args]);
  const set = await sepi('ivr', 'set', '--extension', '8999', '--auth', 'users-and-admins', '--auth-code', '987654');
  assert.is(set.stdout, 'extension 8999\nauthentication users-and-admins (authentication code set)\n');
  const shown = JSON.parse((await sepi('ivr', 'show', '--json')).stdout) as Record<string, unknown>;
  assert.equal(shown, { extension: '8999', auth: 'users-and-admins', authCodeSet: true }, 'the code itself is never shown');
  const added = await sepi('user', 'add', '--id', '5001', '--password', 'correct horse', '--pin', '1234', '--primary-dn', '2101', '--self-provisioning', '--limit', '3');
  assert.is(added.stdout, 'added user 5001\n5001: self-provisioning on, limit 3, provisioned 0\n');
  assert.is((await sepi('user', 'set', '5001', '--self-provisioning', 'off', '--limit', '10')).stdout, '5001: self-provisioning off, limit 10, provisioned 0\n');
  // A user profile (universal templates): the user takes flag, limit and templates from it.
  await sepi('udt', 'add', 'desk', '--device-pool', 'Floor 3');
  await sepi('user-profile', 'add', 'staff', '--device-template', 'desk', '--self-provisioning', '--limit', '5');
  assert.is((await sepi('user', 'set', '5001', '--profile', 'staff')).stdout, '5001: profile staff (device template desk, line template none), self-provisioning on, limit 5, provisioned 0\n');
  const template = await sepi('ivr', 'set', '--template', 'desk').then(() => undefined, (e: { code: number; stderr: string }) => e);
  assert.ok(template && template.code === 2 && /user-profile add/.test(template.stderr), 'version 1\'s --template says where templates are set now');
  const tooLong = await sepi('ivr', 'set', '--auth-code', '1'.repeat(21)).then(() => undefined, (e: { code: number; stderr: string }) => e);
  assert.ok(tooLong && tooLong.code === 1 && /0 to 20 digits/.test(tooLong.stderr), JSON.stringify(tooLong));
  const taken = await sepi('ivr', 'set', '--extension', '1001').then(() => undefined, (e: { code: number; stderr: string }) => e);
  assert.ok(taken && /1001 is the line of SEP02AABBCCDDEE/.test(taken.stderr), 'a phone\'s DN is no IVR extension');
  assert.is(companion.ivr.show().kind === 'ok' && (companion.ivr.show() as { value: { extension: string } }).value.extension, '8999');
});

test('stopped: the socket is gone and the folder can be served again', async () => {
  await companion.stop();
  assert.is(await stat(join(dir, 'admin.sock')).then(() => 'there', () => 'gone'), 'gone');
  assert.throws(() => companion.endpoints, /not started/);
  companion = new Companion({ dataDir: dir, config: loopbackConfig(), log: () => {} });
  await companion.start();
  assert.equal(expectOk(companion.phones.list()).map((p) => p.deviceName), ['SEP02AABBCCDDEE']);
});

test.run();
