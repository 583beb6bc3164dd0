/**
 * A phone booting against the companion call manager, each in its own network namespace:
 * real DHCP broadcasts, HTTP 6970 / TFTP, SIP over TCP, driven through the command line.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../support/lab.ts';
import { cm, cmJson, isRegistered, startCompanion, startPhone, TempDirs } from '../support/sepi.ts';

interface PhoneView { deviceName: string; dn: string; registered: boolean; lease?: string; autoregistered: boolean; model: string }

const boot = suite('boot against the companion');
let lab: Lab;
const dirs = new TempDirs();
const dir = (label: string) => dirs.make(label);

boot.before(async () => {
  lab = await Lab.create('10.77.0');
});

boot.after.each(async () => {
  await lab.dropHosts();
});

boot.after(async () => {
  await lab?.destroy();
  await dirs.removeAll();
});

boot('a known phone gets an address, its own file over HTTP, and registers with its DN', async () => {
  const data = await dir('cm');
  // Without trust lists here: the boot as issue 2 describes it (the trust tests cover the rest).
  const companion = await startCompanion(lab, data, { security: { mode: 'none' } });
  await cm(data, 'phone', 'add', '--mac', '00:11:22:33:44:01', '--model', '8841', '--dn', '1001', '--description', 'Alice');
  const ns = await lab.addHost('known', { mac: '00:11:22:33:44:01' });
  const nv = await dir('nv');
  const phone = startPhone(lab, ns, '001122334401', nv, ['--until', 'registered', '--timeout', '60']);
  assert.is(await phone.exit(90_000), 0, phone.tail());
  const ev = phone.events();
  const dhcp = ev.find((e) => e['step'] === 'dhcp' && e['state'] === 'done')!;
  assert.match(String(dhcp['address']), /^10\.77\.0\.1\d\d$/);
  assert.equal(dhcp['option150'], ['10.77.0.1']);
  const cfg = ev.find((e) => e['step'] === 'config' && e['state'] === 'done')!;
  assert.is(cfg['file'], 'SEP001122334401.cnf.xml');
  assert.is(cfg['via'], 'http');
  const reg = ev.find(isRegistered('device'))!;
  assert.is(reg['line'], '1001');
  // The trust lists were asked for, in order, before the configuration file.
  const asked = ev.filter((e) => e['state'] === 'progress' && typeof e['file'] === 'string').map((e) => e['file']);
  assert.equal(asked.slice(0, 4), ['CTLSEP001122334401.tlv', 'ITLSEP001122334401.tlv', 'ITLFile.tlv', 'SEP001122334401.cnf.xml']);
  // The last screen says Registered with the line.
  const screens = ev.filter((e) => Array.isArray(e['screen']));
  assert.match((screens.at(-1)!['screen'] as string[]).join('\n'), /Registered[\s\S]*Line 1001/);
  // The companion saw it: lease kept and registration listed (the phone stopped, so the
  // registration ends with its TCP connection; the lease stays).
  const list = await cmJson<PhoneView[]>(data, 'phone', 'list');
  const me = list.find((p) => p.deviceName === 'SEP001122334401')!;
  assert.is(me.lease, dhcp['address']);
  assert.ok(companion.lines.some((l) => /REGISTER SEP001122334401 .*200 1001 registered/.test(l)), companion.tail());
  // The lease was kept in NVRAM: the next boot offers it again (INIT-REBOOT) and keeps it.
  const again = startPhone(lab, ns, '001122334401', nv, ['--until', 'registered', '--timeout', '60']);
  assert.is(await again.exit(90_000), 0, again.tail());
  const firstDhcp = again.events().find((e) => e['step'] === 'dhcp' && e['state'] === 'progress')!;
  assert.is(firstDhcp['dhcp'], 'request');
  assert.is(again.events().find((e) => e['step'] === 'dhcp' && e['state'] === 'done')!['address'], dhcp['address']);
  // rm takes the phone out of the database.
  await cm(data, 'phone', 'rm', 'SEP001122334401');
  assert.not.ok((await cmJson<PhoneView[]>(data, 'phone', 'list')).some((p) => p.deviceName === 'SEP001122334401'));
  await companion.stop();
});

boot('a 7975 asks TFTP only, SEPDEFAULT.cnf first, and autoregisters', async () => {
  const data = await dir('cm');
  const companion = await startCompanion(lab, data);
  const ns = await lab.addHost('m7975', { mac: '00:11:22:33:44:79' });
  const phone = startPhone(lab, ns, '001122334479', await dir('nv'), ['--model', '7975', '--until', 'registered', '--timeout', '60']);
  assert.is(await phone.exit(90_000), 0, phone.tail());
  const ev = phone.events();
  const fetched = ev.filter((e) => e['step'] === 'config' && e['state'] === 'progress' && e['result']);
  assert.equal(fetched.slice(0, 2).map((e) => [e['file'], e['result'], e['via']]), [['SEP001122334479.cnf.xml.sgn', 'absent', undefined], ['SEPDEFAULT.cnf.sgn', 'found', 'tftp']]);
  assert.ok(!companion.lines.some((l) => /^\S+ http .*001122334479/.test(l)), 'no HTTP from a 79xx');
  assert.is(ev.find(isRegistered('device'))!['line'], '2000');
  const shown = await cmJson<PhoneView>(data, 'phone', 'show', '001122334479');
  assert.is(shown.model, '7975');
  await companion.stop();
});

boot('an unknown phone autoregisters, is reset, and comes back on its new DN', async () => {
  const data = await dir('cm');
  const companion = await startCompanion(lab, data, { autoRegistration: { enabled: true, dnRange: ['3000', '3099'] } });
  const ns = await lab.addHost('auto', { mac: '00:11:22:33:44:02' });
  const phone = startPhone(lab, ns, '001122334402', await dir('nv'), ['--until', 'registered', '--timeout', '60']);
  assert.is(await phone.exit(90_000), 0, phone.tail());
  const ev = phone.events();
  const iFirst = ev.findIndex(isRegistered('default'));
  const iReset = ev.findIndex((e) => e['step'] === 'power' && e['reason'] === 'reset-reset');
  const iFinal = ev.findIndex(isRegistered('device'));
  assert.ok(iFirst >= 0 && iReset > iFirst && iFinal > iReset, 'default registration, then reset, then own registration');
  assert.is(ev[iFirst]!['file'], 'XMLDefault.cnf.xml.sgn', 'the companion serves an ITL, so files come signed');
  assert.is(ev[iFinal]!['line'], '3000');
  const shown = await cmJson<PhoneView>(data, 'phone', 'show', 'SEP001122334402');
  assert.is(shown.dn, '3000');
  assert.is(shown.autoregistered, true);
  assert.is(shown.model, '8841');
  await companion.stop();
});

boot('with autoregistration off an unknown phone says why on its screen and keeps retrying', async () => {
  const data = await dir('cm');
  const companion = await startCompanion(lab, data, { autoRegistration: { enabled: false } });
  const ns = await lab.addHost('noauto', { mac: '00:11:22:33:44:03' });
  const phone = startPhone(lab, ns, '001122334403', await dir('nv'));
  await phone.waitForEvent('a refusal', (e) => e['step'] === 'register' && e['state'] === 'retry', 60_000);
  const screen = await phone.waitFor('a screen that says why', () => phone.events().find((e) => Array.isArray(e['screen']) && /autoregistration/i.test((e['screen'] as string[]).join(' '))));
  assert.match((screen['screen'] as string[]).join(' '), /Unknown device/);
  const retry = phone.events().find((e) => e['step'] === 'register' && e['state'] === 'retry')!;
  assert.is(retry['status'], 403);
  // Adding the phone lets it in at its next try, with no restart from anyone.
  await cm(data, 'phone', 'add', '--mac', '001122334403', '--model', '8841', '--dn', '1003');
  const reg = await phone.waitForEvent('registration after being added', isRegistered('device'), 90_000);
  assert.is(reg['line'], '1003');
  // An admin restart: the configuration is read again, the address kept (no DHCP).
  let seen = phone.events().length;
  await cm(data, 'phone', 'reset', '001122334403', '--restart');
  await phone.waitForEvent('registered after the restart', isRegistered('device'), 60_000, seen);
  const restart = phone.events().slice(seen);
  assert.ok(restart.some((e) => e['step'] === 'reboot' && e['kind'] === 'restart'));
  assert.not.ok(restart.some((e) => e['step'] === 'dhcp' && e['dhcp'] !== 'kept'), 'a restart keeps the address');
  assert.ok(restart.some((e) => e['step'] === 'config' && e['state'] === 'done'));
  // An admin reset: a reboot from DHCP, offering the stored lease again.
  seen = phone.events().length;
  await cm(data, 'phone', 'reset', '001122334403');
  await phone.waitForEvent('registered after the reset', isRegistered('device'), 60_000, seen);
  const reset = phone.events().slice(seen);
  assert.ok(reset.some((e) => e['step'] === 'dhcp' && e['dhcp'] === 'request'));
  await phone.stop();
  await companion.stop();
});

boot('a dead first member is skipped, and a failed primary hands over to the backup', async () => {
  const dataA = await dir('cmA');
  const dataB = await dir('cmB');
  await lab.addServerAddress(2); // exists, nothing listens: connections are refused
  const backup = await lab.addServerAddress(3);
  const members = [
    { host: '10.77.0.2', sipPort: 5060, priority: 0 },
    { host: '10.77.0.1', sipPort: 5060, priority: 1 },
    { host: backup, sipPort: 5060, priority: 2 },
  ];
  const phones = [{ mac: '001122334404', model: '8841', dn: '1004' }];
  const a = await startCompanion(lab, dataA, { callManagers: members, phones });
  const b = await startCompanion(lab, dataB, { address: backup, callManagers: members, phones, dhcp: { enabled: false }, tftp: { enabled: false }, http: { enabled: false } }, { iface: '' });
  const ns = await lab.addHost('failover', { mac: '00:11:22:33:44:04' });
  const phone = startPhone(lab, ns, '001122334404', await dir('nv'));
  const first = await phone.waitForEvent('registration', isRegistered('device'), 60_000);
  assert.is(first['cm'], '10.77.0.1', 'priority 0 refused the connection, priority 1 took it');
  assert.ok(phone.events().some((e) => e['failed'] === true && e['cm'] === '10.77.0.2'));
  // The next member in line gets cisco-keep-alive REGISTERs and keeps no binding for them.
  await b.waitForLine(/REGISTER SEP001122334404 .*200 backup keep-alive/, 30_000);
  const seen = phone.events().length;
  await a.kill(); // the primary dies: its TCP connections are reset by the kernel
  const second = await phone.waitForEvent('registration with the backup', (e) => isRegistered('device')(e) && e['cm'] === backup, 60_000, seen);
  assert.is(second['line'], '1004');
  await phone.stop();
  await b.stop();
});

boot('a companion restarted while the phone boots, and again while it is registered', async () => {
  const data = await dir('cm');
  const phones = [{ mac: '001122334405', model: '8841', dn: '1005' }];
  let companion = await startCompanion(lab, data, { phones });
  // Frozen: the phone's DISCOVERs go unanswered while it boots.
  companion.child.kill('SIGSTOP');
  const ns = await lab.addHost('restart', { mac: '00:11:22:33:44:05' });
  const phone = startPhone(lab, ns, '001122334405', await dir('nv'));
  await phone.waitForEvent('a DHCP retransmission', (e) => e['step'] === 'dhcp' && e['attempt'] === 2, 30_000);
  await companion.kill();
  companion = await startCompanion(lab, data, { phones });
  const reg = await phone.waitForEvent('registration after the restart', isRegistered('device'), 60_000);
  assert.is(reg['line'], '1005');
  const seen = phone.events().length;
  await companion.kill();
  await phone.waitForEvent('the loss noticed', (e) => e['step'] === 'register' && e['state'] === 'fail', 30_000, seen);
  companion = await startCompanion(lab, data, { phones });
  await phone.waitForEvent('registration again', isRegistered('device'), 60_000, seen);
  // Leases survived both restarts: the address never changed.
  const addresses = new Set(phone.events().filter((e) => e['step'] === 'dhcp' && e['state'] === 'done').map((e) => e['address']));
  assert.is(addresses.size, 1);
  await phone.stop();
  await companion.stop();
});

boot.run();
