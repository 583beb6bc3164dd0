/**
 * Calls between `sepi phone` processes and peers nobody here wrote, in network namespaces: the
 * companion hands out addresses and files whose call manager is kamailio (a registrar that
 * routes INVITEs by usrloc lookup and record-routes, configured below), and a SIPp UAS that
 * echoes RTP stands behind it on DN 9999. Through the command-line contract: `--call`,
 * `--auto-answer`, `--dtmf`, `--hangup-after`, `--until call-ended`. tshark's RTP stream
 * analysis of a capture on the LAN is the judge of the media: two streams, one each way, none
 * lost.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { kamailioConfig, proxyRoute } from '../support/kamailio.ts';
import { Lab } from '../support/lab.ts';
import { type Proc, needs } from '../support/proc.ts';
import { isCall, startCompanion, startPhone, tempDir } from '../support/sepi.ts';
import { rtpStreams } from '../support/rtp-streams.ts';

const peers = suite('calls through kamailio, to a phone and to SIPp');
let lab: Lab;
let dir = '';
let kamAddress = '';
let sippAddress = '';

const KAMAILIO_CFG = kamailioConfig({
  purpose: 'A registrar that routes: REGISTER saved in usrloc, an INVITE for a registered DN looked up and\n'
    + 'relayed over the phone\'s own TCP connection, record-routed so BYE and ACK pass here too; DN\n'
    + '9999 goes to SIPp\'s UAS over UDP.',
  debug: 2,
  modules: ['rr', 'xlog'],
  route: proxyRoute({
    beforeLookup: `if ($rU == "9999") {
  $du = "sip:SIPP_ADDRESS:5080;transport=udp";
  xlog("L_NOTICE", "ROUTE $rU to SIPp\\n");
  t_relay();
  exit;
}`,
  }),
});

/**
 * SIPp's built-in uas, plus the one line RFC 3261 §12.1.1 asks of every UAS and the built-in
 * scenario leaves out: the INVITE's Record-Route copied into the 180 and 200, so the caller's
 * ACK and BYE go back through kamailio (the phone speaks only TCP to its call manager).
 */
const SIPP_UAS = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas that copies Record-Route">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <timewait milliseconds="1000"/>
</scenario>
`;

peers.before(async () => {
  await needs('kamailio', 'sipp', 'tshark');
  lab = await Lab.create('10.96.0');
  dir = await tempDir('call-peers');
  kamAddress = await lab.addServerAddress(2);
  sippAddress = await lab.addServerAddress(3);
});

peers.after.each(async () => {
  await lab.dropHosts();
});

peers.after(async () => {
  await lab?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function startKamailio(): Promise<Proc> {
  const file = join(dir, 'kamailio.cfg');
  await writeFile(file, KAMAILIO_CFG.replace('SIPP_ADDRESS', sippAddress));
  const k = lab.spawn('kamailio', lab.server, 'kamailio', ['-DD', '-E', '-f', file, '-l', `tcp:${kamAddress}:5060`, '-l', `udp:${kamAddress}:5060`, '-Y', dir, '-P', join(dir, 'kamailio.pid'), '-m', '32', '-M', '8']);
  await lab.waitForTcp(lab.server, kamAddress, 5060).catch((e: Error) => {
    throw new Error(`${e.message}\n${k.tail()}`);
  });
  return k;
}


peers('two sepi phones call each other through kamailio: ringing, answered, DTMF across, hung up; tshark sees RTP both ways, nothing lost', async () => {
  const data = join(dir, 'cm1');
  await mkdir(data);
  const kam = await startKamailio();
  await startCompanion(lab, data, {
    security: { mode: 'none' }, callManagers: [{ host: kamAddress, sipPort: 5060 }],
    phones: [{ mac: '001122334501', model: '8841', dn: '1401' }, { mac: '001122334502', model: '8841', dn: '1402' }],
  });
  const pcap = join(dir, 'call.pcap');
  const capture = lab.spawn('tshark', lab.server, 'tshark', ['-i', 'br0', '-w', pcap]);
  await capture.waitForLine(/Capturing on/, 30_000);
  const nsB = await lab.addHost('callee', { mac: '00:11:22:33:45:02' });
  const callee = startPhone(lab, nsB, '001122334502', join(dir, 'nv-b'), ['--auto-answer', '--until', 'call-ended', '--timeout', '120', '--record', join(dir, 'callee.wav')]);
  await callee.waitForEvent('the callee registered', (e) => e['step'] === 'register' && e['state'] === 'done', 90_000);
  const nsA = await lab.addHost('caller', { mac: '00:11:22:33:45:01' });
  const caller = startPhone(lab, nsA, '001122334501', join(dir, 'nv-a'), ['--call', '1402', '--dtmf', '123#', '--hangup-after', '3', '--until', 'call-ended', '--timeout', '120']);
  const [codeA, codeB] = await Promise.all([caller.exit(150_000), callee.exit(150_000)]);
  await capture.stop();
  assert.is(codeA, 0, `caller:\n${caller.tail()}\nkamailio:\n${kam.tail(15)}`);
  assert.is(codeB, 0, `callee:\n${callee.tail()}`);
  const ring = callee.events().find(isCall('ringing'))!;
  assert.is(ring['number'], '1401', "the callee's screen names the caller");
  const endA = caller.events().find(isCall('ended'))!;
  const endB = callee.events().find(isCall('ended'))!;
  assert.equal([endA['state'], endA['reason'], endB['state'], endB['reason']], ['done', 'local-hangup', 'done', 'remote-hangup']);
  assert.is(endB['dtmfReceived'], '123#', 'the digits arrived as RFC 4733 events');
  assert.equal(callee.events().filter(isCall('dtmf')).map((e) => e['digit']), ['1', '2', '3', '#']);
  const a = caller.events().find(isCall('connected'))!;
  const b = callee.events().find(isCall('connected'))!;
  // tshark, not our counters: one stream each way between the two phones' RTP ports, none lost.
  const streams = (await rtpStreams(pcap)).filter((s) => [a['local'], b['local']].includes(s.src));
  assert.is(streams.length, 2, JSON.stringify(streams));
  assert.equal(streams.map((s) => `${s.src}>${s.dst}`).sort(), [`${a['local']}>${b['local']}`, `${b['local']}>${a['local']}`].sort());
  for (const s of streams) {
    assert.ok(s.pkts >= 100, `${s.src}: ${s.pkts} packets in 3 s`);
    assert.is(s.lost, 0, `${s.src} lost ${s.lost}`);
  }
  const wav = await readFile(join(dir, 'callee.wav'));
  assert.ok(wav.length > 44 + 2 * 8000 * 2, `the callee's recording holds what it heard (${wav.length} bytes)`);
});

peers('a sepi phone calls a SIPp UAS through kamailio and hangs up (SIPp checks the ACK and BYE); SIPp echoes the RTP back; an unknown number fails the run', async () => {
  const data = join(dir, 'cm2');
  await mkdir(data);
  await startKamailio();
  await startCompanion(lab, data, { security: { mode: 'none' }, callManagers: [{ host: kamAddress, sipPort: 5060 }], phones: [{ mac: '001122334503', model: '8841', dn: '1403' }] });
  await writeFile(join(dir, 'uas.xml'), SIPP_UAS);
  const sipp = lab.spawn('sipp', lab.server, 'sipp', ['-sf', join(dir, 'uas.xml'), '-i', sippAddress, '-p', '5080', '-t', 'u1', '-m', '1', '-rtp_echo', '-mi', sippAddress, '-mp', '16000', '-nostdin', '-trace_err', '-error_file', join(dir, 'sipp-uas.err'), '-trace_msg', '-message_file', join(dir, 'sipp-uas.msg'), '-timeout', '90s', '-timeout_error']);
  const ns = await lab.addHost('sippcaller', { mac: '00:11:22:33:45:03' });
  const phone = startPhone(lab, ns, '001122334503', join(dir, 'nv-c'), ['--call', '9999', '--hangup-after', '2', '--until', 'call-ended', '--timeout', '120']);
  assert.is(await phone.exit(150_000), 0, phone.tail());
  assert.is(await sipp.exit(30_000), 0, `sipp: ${await readFile(join(dir, 'sipp-uas.err'), 'utf8').catch(() => '')}`);
  // SIPp saw our ACK and our BYE (its scenario waits for both), through kamailio.
  const seen = await readFile(join(dir, 'sipp-uas.msg'), 'utf8');
  assert.match(seen, /ACK sip:[^\n]*\n[\s\S]*BYE sip:/);
  const end = phone.events().find(isCall('ended'))!;
  assert.is(end['reason'], 'local-hangup');
  const rtp = end['rtp'] as { sent: number; received: number; lost: number };
  assert.ok(rtp.sent >= 90 && rtp.received >= 50, `SIPp echoed our RTP back: ${JSON.stringify(rtp)}`);
  const connected = phone.events().find(isCall('connected'))!;
  assert.is(connected['dtmf'], false, "SIPp's answer has no telephone-event");

  // Nobody registered 1999: kamailio says 404, and the run fails with that reason.
  const again = startPhone(lab, ns, '001122334503', join(dir, 'nv-c'), ['--call', '1999', '--until', 'call-ended', '--timeout', '120']);
  assert.is(await again.exit(150_000), 1, again.tail());
  const refused = again.events().find(isCall('ended'))!;
  assert.equal([refused['state'], refused['reason'], refused['status']], ['fail', 'rejected', 404]);
  assert.match(again.tail(), /call to 1999 failed: rejected \(404\)/);
});

peers.run();
