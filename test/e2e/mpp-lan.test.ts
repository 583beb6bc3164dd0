/**
 * Multiplatform phones in network namespaces (issue 9), as processes with their own NVRAM (the
 * ladder to its cap with --wait-scale, a power cycle while Pending, the web page, a factory
 * reset), and against servers nobody here wrote for
 * the parts that are public: dnsmasq gives DHCP and answers DNS for `activate.cisco.com` (so the
 * phone finds the companion's EDOS stand-in by the documented name), or gives option 66 and
 * serves the profile from its own TFTP server (RC aborted); kamailio is the registrar of the
 * profile's line. The companion is the EDOS stand-in and the provider's provisioning server.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Lab } from '../support/lab.ts';
import { needs } from '../support/proc.ts';
import { ROOT, SEPI, TempDirs, cm, cmJson, isRegistered, startCompanion, startPhone } from '../support/sepi.ts';

const run = promisify(execFile);
const t = suite('Multiplatform phones on a LAN');
let lab: Lab;
const dirs = new TempDirs();

const customizations = (events: Array<Record<string, unknown>>) => events.filter((e) => e['step'] === 'customization' && e['state'] === 'done').map((e) => e['customization']);

t.before(async () => {
  await needs('dnsmasq', 'kamailio');
  lab = await Lab.create('10.94.0');
});
t.after.each(async () => {
  await lab.stopAll();
  await lab.dropHosts();
});
t.after(async () => {
  await lab?.destroy();
  await dirs.removeAll();
});

function dnsmasq(extra: string[], leases: string): void {
  lab.spawn('dnsmasq', lab.server, 'dnsmasq', [
    '--keep-in-foreground', '--conf-file=/dev/null', '--interface=br0', '--bind-interfaces', '--no-ping', '--log-dhcp', '--log-facility=-', '--no-resolv', '--no-hosts',
    '--dhcp-range=10.94.0.100,10.94.0.150,255.255.255.0,5m', '--dhcp-authoritative', `--dhcp-leasefile=${leases}`, '--user=root', '--pid-file=', ...extra,
  ]);
}

/** The provider's profile of the tests whose lines register with kamailio: 1001 on line 1 (and `more` on lines 2, 3 …), over TCP. */
const lineProfile = (...more: string[]) => `<flat-profile>
  <Proxy_1_ ua="na">10.94.0.1</Proxy_1_>
  <SIP_Port_1_>5060</SIP_Port_1_>
  <SIP_Transport_1_>TCP</SIP_Transport_1_>
  <User_ID_1_>1001</User_ID_1_>
  <Password_1_ ua="na">s3cret-1001</Password_1_>
  <Display_Name_1_>Lab MPP</Display_Name_1_>
${more.map((user, i) => `  <Line_Enable_${i + 2}_>Yes</Line_Enable_${i + 2}_>
  <Proxy_${i + 2}_ ua="na">10.94.0.1</Proxy_${i + 2}_>
  <SIP_Transport_${i + 2}_>TCP</SIP_Transport_${i + 2}_>
  <User_ID_${i + 2}_>${user}</User_ID_${i + 2}_>
  <Password_${i + 2}_ ua="na">s3cret-1001</Password_${i + 2}_>
`).join('')}  <Resync_Periodic>0</Resync_Periodic>
</flat-profile>
`;

/** kamailio as the line's registrar (test/fixtures/kamailio.cfg, with 1001's password), listening. */
async function kamailioFor1001(dir: string): Promise<ReturnType<Lab['spawn']>> {
  const cfg = (await readFile(join(ROOT, 'test/fixtures/kamailio.cfg'), 'utf8')).replace('LINE_PASSWORD', 's3cret-1001');
  await writeFile(join(dir, 'kamailio.cfg'), cfg);
  const k = lab.spawn('kamailio', lab.server, 'kamailio', ['-DD', '-E', '-f', join(dir, 'kamailio.cfg'), '-l', 'tcp:10.94.0.1:5060', '-Y', dir, '-P', join(dir, 'kamailio.pid'), '-m', '32', '-M', '8']);
  await lab.waitForTcp(lab.server, '10.94.0.1', 5060);
  return k;
}

t('EDOS found by its documented name through dnsmasq DNS: Pending, Custom-Pending, Acquired, registered on the companion; no provider: Unavailable', async () => {
  const factory = await dirs.make('factory');
  await run(SEPI, ['factory', 'init', '--dir', factory]);
  const data = await dirs.make('cm');
  // DNS on port 53 answering the EDOS host with the companion's address; DHCP with no provisioning option.
  dnsmasq(['--port=53', '--address=/activate.cisco.com/10.94.0.1', '--dhcp-option=6,10.94.0.1'], join(data, 'dnsmasq.leases'));
  await startCompanion(lab, data, { dhcp: { enabled: false }, edos: { factory }, phones: [{ mac: '0022905c1b01', model: '8841', dn: '1501', password: 'pw-1501-lan' }] });
  const status = await cmJson<{ edosUrl?: string; provisioningUrl?: string }>(data, 'status');
  assert.is(status.edosUrl, 'https://10.94.0.1:443/edos/v1/rc');
  await cm(data, 'edos', 'set', '--mac', '00:22:90:5c:1b:01', '--profile-rule', status.provisioningUrl!);
  await cm(data, 'edos', 'set', '--mac', '00:22:90:5c:1b:02', '--none');

  const ns = await lab.addHost('b01', { mac: '00:22:90:5c:1b:01' });
  const phone = startPhone(lab, ns, '0022905C1B01', await dirs.make('nv'), ['--persona', 'mpp', '--factory', factory, '--until', 'registered', '--timeout', '90']);
  assert.is(await phone.exit(120_000), 0, phone.tail());
  const ev = phone.events();
  assert.equal(customizations(ev), ['Open', 'Pending', 'Custom-Pending', 'Acquired']);
  const asked = ev.find((e) => e['step'] === 'customization' && e['state'] === 'start')!;
  assert.is(asked['edos'], 'https://activate.cisco.com/edos/v1/rc');
  assert.is(ev.find(isRegistered())!['line'], '1501');
  assert.is(ev.find(isRegistered())!['configKind'], 'profile');
  assert.match(JSON.stringify(ev.filter((e) => e['step'] === 'profile')), /mpp\/8841\/0022905c1b01\.xml/);
  assert.not.match(phone.tail(), /pw-1501-lan/);

  const ns2 = await lab.addHost('b02', { mac: '00:22:90:5c:1b:02' });
  const none = startPhone(lab, ns2, '0022905C1B02', await dirs.make('nv'), ['--persona', 'mpp', '--factory', factory, '--until', 'customized', '--timeout', '60']);
  assert.is(await none.exit(90_000), 0, none.tail());
  assert.equal(customizations(none.events()), ['Open', 'Pending', 'Unavailable']);
});

t('option 66 from dnsmasq with the profile on its TFTP server: Aborted without EDOS, the line registers with kamailio', async () => {
  const dir = await dirs.make('opt66');
  const tftpRoot = join(dir, 'tftp');
  await mkdir(tftpRoot);
  // The default Profile_Rule is /$PSN.xml on option 66's server: 8841.xml, written by hand.
  await writeFile(join(tftpRoot, '8841.xml'), lineProfile());
  dnsmasq(['--port=0', '--dhcp-option=66,10.94.0.1', '--enable-tftp', `--tftp-root=${tftpRoot}`], join(dir, 'dnsmasq.leases'));
  const k = await kamailioFor1001(dir);

  const ns = await lab.addHost('b03', { mac: '00:22:90:5c:1b:03' });
  // An EDOS that would answer is there to be ignored: option 66's profile downloads first.
  const phone = startPhone(lab, ns, '0022905C1B03', await dirs.make('nv'), ['--persona', 'mpp', '--edos', 'https://10.94.0.1:9/edos/v1/rc', '--until', 'registered', '--timeout', '60']);
  assert.is(await phone.exit(90_000), 0, phone.tail());
  const ev = phone.events();
  assert.equal(customizations(ev), ['Open', 'Aborted']);
  assert.not.ok(ev.some((e) => e['step'] === 'customization' && e['state'] === 'start'), 'EDOS never asked');
  const done = ev.find((e) => e['step'] === 'profile' && e['state'] === 'done')!;
  assert.is(done['url'], 'tftp://10.94.0.1/8841.xml');
  assert.is(done['trigger'], 'dhcp');
  assert.is(ev.find(isRegistered())!['line'], '1001');
  await k.waitForLine(/REGISTERED 1001 from 10\.94\.0\.1\d\d:\d+ via tcp/, 10_000);
  assert.not.match(phone.tail(), /s3cret-1001/);
});

t('lines 1 to 3 of one profile: line 1 is the phone\'s registration, lines 2 and 3 their own, all with kamailio', async () => {
  const dir = await dirs.make('lines');
  const tftpRoot = join(dir, 'tftp');
  await mkdir(tftpRoot);
  await writeFile(join(tftpRoot, '8841.xml'), lineProfile('1002', '1003'));
  dnsmasq(['--port=0', '--dhcp-option=66,10.94.0.1', '--enable-tftp', `--tftp-root=${tftpRoot}`], join(dir, 'dnsmasq.leases'));
  const k = await kamailioFor1001(dir);
  const ns = await lab.addHost('b05', { mac: '00:22:90:5c:1b:05' });
  // No --until: the phone runs on while its further lines register (the goal is line 1's).
  const phone = startPhone(lab, ns, '0022905C1B05', await dirs.make('nv'), ['--persona', 'mpp', '--edos', 'https://10.94.0.1:9/edos/v1/rc', '--timeout', '60']);
  for (const user of ['1001', '1002', '1003']) await k.waitForLine(new RegExp(`REGISTERED ${user} from 10\\.94\\.0\\.1\\d\\d:\\d+ via tcp`), 30_000);
  const lines = await phone.waitForEvent('line 3 registered', (e) => e['step'] === 'line' && e['state'] === 'done' && e['lineIndex'] === 3, 30_000);
  assert.is(lines['user'], '1003');
  const ev = phone.events();
  assert.ok(ev.some((e) => e['step'] === 'line' && e['state'] === 'done' && e['lineIndex'] === 2 && e['user'] === '1002'), 'line 2 registered');
  assert.is(ev.find(isRegistered())!['line'], '1001', 'the phone\'s registration is line 1\'s');
  // Their own connections: three from the phone's address, one a line.
  const sources = new Set([...k.lines, ...k.errLines].filter((l) => /REGISTERED 100[123] /.test(l)).map((l) => /from (\S+) via/.exec(l)?.[1]));
  assert.ok(sources.size >= 3, [...sources].join(' '));
});

t('DNS SRV provisioning through dnsmasq: option 160 names a domain, its SRV record busybox httpd, the line registers with kamailio', async () => {
  await needs('busybox');
  const dir = await dirs.make('srv');
  const web = join(dir, 'web');
  await mkdir(web);
  await writeFile(join(web, '8841.xml'), lineProfile());
  // The rule names a domain; dnsmasq's SRV record says which server and port serve it.
  dnsmasq([
    '--port=53', '--dhcp-option=6,10.94.0.1', '--dhcp-option=160,[--srv] http://prov.lab/8841.xml',
    '--srv-host=_ciscoprov-http._tcp.prov.lab,files.prov.lab,8088,0,10', '--host-record=files.prov.lab,10.94.0.1',
  ], join(dir, 'dnsmasq.leases'));
  lab.spawn('busybox-httpd', lab.server, 'busybox', ['httpd', '-f', '-p', '10.94.0.1:8088', '-h', web]);
  await lab.waitForTcp(lab.server, '10.94.0.1', 8088);
  const k = await kamailioFor1001(dir);

  const ns = await lab.addHost('b04', { mac: '00:22:90:5c:1b:04' });
  const phone = startPhone(lab, ns, '0022905C1B04', await dirs.make('nv'), ['--persona', 'mpp', '--edos', 'https://10.94.0.1:9/edos/v1/rc', '--until', 'registered', '--timeout', '60']);
  assert.is(await phone.exit(90_000), 0, phone.tail());
  const ev = phone.events();
  assert.equal(customizations(ev), ['Open', 'Aborted'], 'the profile from DHCP\'s rule ends customization');
  const start = ev.find((e) => e['step'] === 'profile' && e['state'] === 'start')!;
  assert.match(String(start['message']), /Resync \[--srv\] http:\/\/prov\.lab\/8841\.xml/);
  const done = ev.find((e) => e['step'] === 'profile' && e['state'] === 'done')!;
  assert.is(done['trigger'], 'dhcp');
  assert.match(String(done['message']), /\(from files\.prov\.lab:8088, its SRV record\)/, 'served by the SRV target at its port');
  assert.is(ev.find(isRegistered())!['line'], '1001');
  await k.waitForLine(/REGISTERED 1001 from 10\.94\.0\.1\d\d:\d+ via tcp/, 10_000);
});

t('a phone process through the ladder to 86400 s, a reboot while Pending back at 60 s, Profile_Rule set on its web page aborting Pending, a factory reset back to Open', async () => {
  const factory = await dirs.make('factory');
  await run(SEPI, ['factory', 'init', '--dir', factory]);
  const data = await dirs.make('cm');
  dnsmasq(['--port=0'], join(data, 'dnsmasq.leases'));
  await startCompanion(lab, data, { dhcp: { enabled: false }, edos: { factory }, phones: [{ mac: '0022905c1b04', model: '8841', dn: '1504' }] });
  const { edosUrl, provisioningUrl } = await cmJson<{ edosUrl: string; provisioningUrl: string }>(data, 'status');
  await cm(data, 'edos', 'set', '--mac', '00:22:90:5c:1b:04', '--fault', '503');
  const ns = await lab.addHost('b04', { mac: '00:22:90:5c:1b:04' });
  const nv = await dirs.make('nv');
  const flags = ['--persona', 'mpp', '--factory', factory, '--edos', edosUrl];
  const retriesOf = (ev: Array<Record<string, unknown>>) => ev.filter((e) => e['step'] === 'customization' && e['state'] === 'retry').map((e) => e['inSecs']);

  // 122,820 nominal seconds to the cap, and two at it: about half a minute at this scale.
  let phone = startPhone(lab, ns, '0022905C1B04', nv, [...flags, '--wait-scale', '0.0002']);
  await phone.waitForEvent('the cap twice', () => retriesOf(phone.events()).filter((s) => s === 86400).length >= 2, 120_000);
  assert.equal(retriesOf(phone.events()).slice(0, 13), [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720, 61440, 86400, 86400]);
  await phone.stop();

  // Power cycle while Pending: the state is still Pending, and the ladder starts at 60 s again.
  phone = startPhone(lab, ns, '0022905C1B04', nv, [...flags, '--web-port', '8080']);
  await phone.waitForEvent('first retry', (e) => e['step'] === 'customization' && e['state'] === 'retry', 60_000);
  assert.equal(customizations(phone.events()), ['Pending']);
  assert.equal(retriesOf(phone.events()), [60]);
  const address = String(phone.events().find((e) => e['step'] === 'dhcp' && e['state'] === 'done')!['address']);

  // The admin sets Profile_Rule on the phone's web page (curl inside the phone's namespace).
  const jar = join(nv, '..', 'jar-b04');
  const curl = (...a: string[]) => lab.ns(ns, 'curl', '-sS', '-b', jar, '-c', jar, ...a);
  const csrfOf = (page: string) => /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
  let page = await curl(`http://${address}:8080/admin/setup`);
  page = await curl('-L', '--data-urlencode', `_csrf=${csrfOf(page)}`, '--data-urlencode', 'newPassword=lab admin passphrase', '--data-urlencode', 'confirmPassword=lab admin passphrase', `http://${address}:8080/admin/setup`);
  page = await curl(`http://${address}:8080/admin/advanced`);
  assert.match(page, /Profile Rule/);
  await curl('-L', '--data-urlencode', `_csrf=${csrfOf(page)}`, '--data-urlencode', `Profile_Rule=${provisioningUrl}`, `http://${address}:8080/admin/advanced`);
  await phone.waitForEvent('registered', isRegistered(), 60_000);
  assert.equal(customizations(phone.events()).filter((x, i, a) => x !== a[i - 1]), ['Pending', 'Aborted']);
  assert.is(phone.events().find(isRegistered())!['line'], '1504');
  const info = await curl(`http://${address}:8080/`);
  assert.match(info, /Aborted/);
  await phone.stop();

  // Factory reset at power-on: Open, then EDOS again.
  phone = startPhone(lab, ns, '0022905C1B04', nv, [...flags, '--factory-reset']);
  await phone.waitForEvent('asking EDOS', (e) => e['step'] === 'customization' && e['state'] === 'start', 60_000);
  assert.equal(customizations(phone.events()), ['Open', 'Pending']);
  await phone.stop();
});

t.run();
