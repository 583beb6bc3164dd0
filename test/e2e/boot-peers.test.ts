/**
 * The phone against servers nobody here wrote: dnsmasq (DHCP with option 150 and its TFTP),
 * tftpd-hpa serving files written by hand (option 66 as a DNS name), kamailio as registrar
 * with digest authentication. A tshark capture checks what went over the wire with
 * Wireshark's own dissectors.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Lab } from '../support/lab.ts';
import { needs } from '../support/proc.ts';
import { ROOT, isRegistered, startPhone, tempDir } from '../support/sepi.ts';

const run = promisify(execFile);
const peers = suite('boot against dnsmasq, tftpd-hpa and kamailio');
let lab: Lab;
let dir = '';
const PASSWORD = 's3cret-1001';

// Written by hand, the way a lab engineer would for a real phone (reference §4.2, §4.3).
const SEP_FILE = `<?xml version="1.0" encoding="UTF-8"?>
<device>
  <fullConfig>true</fullConfig>
  <deviceProtocol>SIP</deviceProtocol>
  <devicePool>
    <callManagerGroup><members><member priority="0"><callManager>
      <ports><ethernetPhonePort>2000</ethernetPhonePort><sipPort>5060</sipPort><securedSipPort>5061</securedSipPort></ports>
      <processNodeName>10.78.0.1</processNodeName>
    </callManager></member></members></callManagerGroup>
  </devicePool>
  <sipProfile>
    <sipProxies><registerWithProxy>true</registerWithProxy></sipProxies>
    <sipStack><timerRegisterExpires>3600</timerRegisterExpires><timerRegisterDelta>5</timerRegisterDelta></sipStack>
    <sipLines>
      <line button="1"><featureID>9</featureID><proxy>USECALLMANAGER</proxy><port>5060</port><name>1001</name>
        <displayName>Lab One</displayName><authName>1001</authName><authPassword>${PASSWORD}</authPassword></line>
    </sipLines>
  </sipProfile>
  <loadInformation></loadInformation>
  <deviceSecurityMode>1</deviceSecurityMode>
  <transportLayerProtocol>1</transportLayerProtocol>
</device>
`;

const DEFAULT_FILE = `<Default>
  <callManagerGroup><members><member priority="0"><callManager>
    <ports><ethernetPhonePort>2000</ethernetPhonePort><sipPort>5060</sipPort></ports>
    <processNodeName>10.78.0.1</processNodeName>
  </callManager></member></members></callManagerGroup>
  <loadInformation683 model="Cisco 8841">sip88xx.14-2-1-0001-14</loadInformation683>
</Default>
`;

async function startKamailio(): Promise<ReturnType<Lab['spawn']>> {
  const cfg = (await readFile(join(ROOT, 'test/fixtures/kamailio.cfg'), 'utf8')).replace('LINE_PASSWORD', PASSWORD);
  const file = join(dir, 'kamailio.cfg');
  await writeFile(file, cfg);
  const k = lab.spawn('kamailio', lab.server, 'kamailio', ['-DD', '-E', '-f', file, '-l', 'tcp:10.78.0.1:5060', '-l', 'udp:10.78.0.1:5060', '-Y', dir, '-P', join(dir, 'kamailio.pid'), '-m', '32', '-M', '8']);
  await lab.waitForTcp(lab.server, '10.78.0.1', 5060).catch((e: Error) => {
    throw new Error(`${e.message}\n${k.tail()}`);
  });
  return k;
}

peers.before(async () => {
  await needs('dnsmasq', 'in.tftpd', 'kamailio', 'tshark');
  lab = await Lab.create('10.78.0');
  dir = await tempDir('peers');
});

peers.after.each(async () => {
  await lab.dropHosts();
});

peers.after(async () => {
  await lab?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

peers('dnsmasq DHCP option 150 + dnsmasq TFTP + kamailio digest: registered, and the wire says so', async () => {
  const tftpRoot = join(dir, 'dnsmasq-tftp');
  await run('mkdir', ['-p', tftpRoot]);
  await writeFile(join(tftpRoot, 'SEP0011223344A1.cnf.xml'), SEP_FILE);
  lab.spawn('dnsmasq', lab.server, 'dnsmasq', [
    '--keep-in-foreground', '--conf-file=/dev/null', '--interface=br0', '--bind-interfaces', '--port=0', '--no-ping', '--log-dhcp', '--log-facility=-',
    '--dhcp-range=10.78.0.100,10.78.0.150,255.255.255.0,5m', '--dhcp-option=150,10.78.0.1', '--dhcp-authoritative',
    `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, '--enable-tftp', `--tftp-root=${tftpRoot}`, '--user=root', '--pid-file=',
  ]);
  const kamailio = await startKamailio();
  const ns = await lab.addHost('a1', { mac: '00:11:22:33:44:a1' });
  const pcap = join(dir, 'a1.pcap');
  const capture = lab.spawn('tshark', ns, 'tshark', ['-i', 'eth0', '-w', pcap, '-f', 'udp port 67 or udp port 68 or udp or tcp port 5060']);
  await capture.waitForLine(/Capturing on/, 30_000);
  const phone = startPhone(lab, ns, '0011223344A1', join(dir, 'nv-a1'), ['--until', 'registered', '--timeout', '90']);
  assert.is(await phone.exit(120_000), 0, phone.tail());
  const ev = phone.events();
  assert.equal(ev.find((e) => e['step'] === 'dhcp' && e['state'] === 'done')!['option150'], ['10.78.0.1']);
  const cfg = ev.find((e) => e['step'] === 'config' && e['state'] === 'done')!;
  assert.is(cfg['via'], 'tftp', 'nothing on 6970, so the file came over TFTP');
  assert.ok(ev.some((e) => e['step'] === 'register' && /asks for a password/.test(String(e['message']))), 'kamailio challenged');
  assert.is(ev.find(isRegistered('device'))!['line'], '1001');
  await kamailio.waitForLine(/REGISTERED 1001 from 10\.78\.0\.1\d\d:\d+ via tcp/, 10_000);
  await new Promise((r) => setTimeout(r, 500));
  await capture.stop();

  // Wireshark's dissectors read our DHCP the way a Cisco phone's must look.
  const dhcp = await tshark(pcap, 'dhcp.option.dhcp == 3', ['dhcp.flags.bc', 'dhcp.option.vendor_class_id', 'dhcp.hw.type', 'dhcp.option.requested_ip_address', 'dhcp.option.dhcp_server_id', 'dhcp.option.request_list_item', 'dhcp.hw.mac_addr']);
  const [bc, vci, hwtype, requested, serverId, prl, chaddr] = dhcp[0]!;
  assert.is(bc, '1');
  assert.is(vci, 'Cisco Systems, Inc. IP Phone CP-8841');
  // Header htype and option 61's hardware type: both Ethernet; option 61 carries the MAC again.
  assert.is(hwtype, '0x01,0x01');
  assert.match(requested!, /^10\.78\.0\.1\d\d$/);
  assert.is(serverId, '10.78.0.1');
  assert.is(prl, '1,3,6,15,66,150');
  assert.is(chaddr, '00:11:22:33:44:a1,00:11:22:33:44:a1');
  const discover = await tshark(pcap, 'dhcp.option.dhcp == 1', ['dhcp.hw.mac_addr', 'dhcp.flags.bc', 'dhcp.option.vendor_class_id']);
  assert.equal(discover[0], ['00:11:22:33:44:a1,00:11:22:33:44:a1', '1', 'Cisco Systems, Inc. IP Phone CP-8841'], 'option 61 is type 1 + MAC');
  // TFTP: our RRQ with RFC 2347 options, timeout in seconds.
  const rrq = await tshark(pcap, 'tftp.opcode == 1 && tftp.source_file contains "cnf.xml"', ['tftp.source_file', 'tftp.option.name', 'tftp.option.value']);
  assert.is(rrq[0]![0], 'SEP0011223344A1.cnf.xml');
  assert.match(rrq[0]![1]!, /blksize/);
  assert.match(rrq[0]![2]!, /1428/);
  // SIP: the Cisco contact parameters and the first-REGISTER Reason, as Wireshark parses them.
  const reg = await tshark(pcap, 'sip.Method == "REGISTER"', ['sip.contact.uri', 'sip.Reason', 'sip.Expires', 'sip.User-Agent']);
  assert.ok(reg.length >= 2, 'challenged REGISTER then answered REGISTER');
  assert.match(reg[0]![1]!, /cisco-alarm:23 Name=SEP0011223344A1 ActiveLoad=sip88xx/);
  assert.is(reg[0]![2], '3600');
  assert.is(reg[0]![3], 'Cisco-CP8841/14.2.1');
  const contact = await tshark(pcap, 'sip.Method == "REGISTER"', ['sip.Contact']);
  assert.match(contact[0]![0]!, /\+sip\.instance="<urn:uuid:00000000-0000-0000-0000-0011223344a1>";\+u\.sip!devicename\.ccm\.cisco\.com="SEP0011223344A1";\+u\.sip!model\.ccm\.cisco\.com="683"/);
  const challenge = await tshark(pcap, 'sip.Status-Code == 401', ['sip.WWW-Authenticate']);
  assert.match(challenge[0]![0]!, /qop="auth"/);
  const auth = await tshark(pcap, 'sip.Method == "REGISTER" && sip.Authorization', ['sip.Authorization']);
  assert.match(auth[0]![0]!, /^Digest username="1001", realm="10\.78\.0\.1", nonce="[^"]+", uri="sip:10\.78\.0\.1", response="[0-9a-f]{32}", algorithm=MD5, qop=auth, nc=00000001, cnonce="[0-9a-f]+"/);
});

peers('tftpd-hpa files written by hand, option 66 as a DNS name: absent, then default file, then registered', async () => {
  const tftpRoot = join(dir, 'hpa');
  await run('mkdir', ['-p', tftpRoot]);
  // dnsmasq only for DHCP and the lab's DNS: option 66 is the name tftp.lab.
  lab.spawn('dnsmasq', lab.server, 'dnsmasq', [
    '--keep-in-foreground', '--conf-file=/dev/null', '--interface=br0', '--bind-interfaces', '--no-ping', '--log-facility=-', '--no-resolv', '--no-hosts',
    '--address=/tftp.lab/10.78.0.1', '--dhcp-range=10.78.0.160,10.78.0.190,255.255.255.0,5m', '--dhcp-option=66,tftp.lab', '--dhcp-option=6,10.78.0.1',
    `--dhcp-leasefile=${join(dir, 'dnsmasq2.leases')}`, '--user=root', '--pid-file=',
  ]);
  lab.spawn('tftpd-hpa', lab.server, 'in.tftpd', ['--foreground', '--address', '10.78.0.1:69', '--secure', tftpRoot, '--user', 'root']);
  const kamailio = await startKamailio();
  const ns = await lab.addHost('b2', { mac: '00:11:22:33:44:b2' });
  const phone = startPhone(lab, ns, '0011223344B2', join(dir, 'nv-b2'));
  // Nothing on the server yet: the phone says so and tries again later.
  const missing = await phone.waitForEvent('no configuration', (e) => e['step'] === 'config' && e['state'] === 'retry', 60_000);
  assert.match(String(missing['message']), /SEP0011223344B2\.cnf\.xml, XMLDefault\.cnf\.xml, SEPDEFAULT\.cnf not found/);
  const tftp = phone.events().find((e) => e['step'] === 'tftp')!;
  assert.is(tftp['state'], 'done', String(tftp['message']));
  assert.is(tftp['source'], 'option 66');
  assert.is(tftp['server'], '10.78.0.1', 'tftp.lab resolved through the DHCP-given DNS server');
  // A broken file is refused whole, and the phone says which element is wrong.
  await writeFile(join(tftpRoot, 'XMLDefault.cnf.xml'), DEFAULT_FILE.replace('<sipPort>5060</sipPort>', '<sipPort>5o60</sipPort>'));
  const refused = await phone.waitForEvent('the broken file refused', (e) => e['step'] === 'config' && e['state'] === 'fail', 90_000);
  assert.match(String(refused['message']), /XMLDefault\.cnf\.xml refused/);
  assert.is(refused['at'], 'Default/callManagerGroup/members/member/callManager/ports/sipPort');
  const screen = await phone.waitFor('the refusal on screen', () => phone.events().find((e) => Array.isArray(e['screen']) && /refused/.test((e['screen'] as string[]).join(' '))));
  assert.ok(screen);
  await writeFile(join(tftpRoot, 'XMLDefault.cnf.xml'), DEFAULT_FILE);
  const reg = await phone.waitForEvent('registration on the default file', isRegistered('default'), 150_000);
  assert.is(reg['line'], 'SEP0011223344B2');
  assert.ok(phone.events().some((e) => /asks for load sip88xx\.14-2-1-0001-14/.test(String(e['message']))) === false, 'same load: nothing to say');
  await kamailio.waitForLine(/REGISTERED SEP0011223344B2/, 10_000);
  // Broken again, and the phone boots anew: it refuses the file and runs on the last good one.
  await phone.stop();
  await writeFile(join(tftpRoot, 'XMLDefault.cnf.xml'), DEFAULT_FILE.replace('</Default>', ''));
  const again = startPhone(lab, ns, '0011223344B2', join(dir, 'nv-b2'), ['--until', 'registered-any', '--timeout', '60']);
  assert.is(await again.exit(90_000), 0, again.tail());
  const fail = again.events().find((e) => e['step'] === 'config' && e['state'] === 'fail')!;
  assert.is(fail['error'], 'malformed');
  const used = again.events().find((e) => e['step'] === 'config' && e['state'] === 'done')!;
  assert.is(used['lastGood'], true);
  assert.match(String(used['message']), /Using last good XMLDefault\.cnf\.xml/);
});

async function tshark(pcap: string, filter: string, fields: string[]): Promise<string[][]> {
  const { stdout } = await run('tshark', ['-r', pcap, '-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f]), '-E', 'occurrence=a', '-E', 'aggregator=,']);
  const rows = stdout.split('\n').filter((l) => l.trim() !== '').map((l) => l.split('\t'));
  if (rows.length === 0) throw new Error(`tshark found no packet for ${filter}`);
  return rows;
}

peers.run();
