/**
 * A `sepi phone` and baresip (a SIP client nobody here wrote) call each other through the
 * companion, each in its own network namespace. baresip takes line 1702 as a third-party client
 * (digest with the DN and the line's password), speaks G.711 (its g711 module: PCMU, and
 * telephone-event), answers by itself (`answermode=auto`) and is driven through its ctrl_tcp
 * module (netstring JSON commands sent from inside its namespace).
 *  (a) the phone calls 1702 with `--call --hangup-after 3 --until call-ended`: it exits 0, and
 *      tshark's RTP stream analysis of a capture on the LAN finds one stream each way between the
 *      phone's and baresip's RTP ports with nothing lost;
 *  (b) baresip dials the phone's DN and hangs up a few seconds later; the phone, with
 *      `--auto-answer --until call-ended`, exits 0 having reported connected, then ended.
 * Real time: deadlines only stop a broken build from hanging.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Lab } from '../support/lab.ts';
import { Proc, needs } from '../support/proc.ts';
import { rtpStreams } from '../support/rtp-streams.ts';
import { cmJson, isCall, startCompanion, startPhone, tempDir } from '../support/sepi.ts';

const NET = '10.98.0';
const CM = `${NET}.1`;
const BARESIP = `${NET}.50`;
const CTRL_PORT = 4444;
const calls = suite('a sepi phone and baresip call each other through the companion');
let lab: Lab;
let dir = '';

calls.before(async () => {
  await needs('tshark', 'baresip');
  lab = await Lab.create(NET);
  dir = await tempDir('call-baresip');
});

calls.after.each(async () => {
  await lab.dropHosts();
});

calls.after(async () => {
  await lab?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});


async function until(what: string, cond: () => boolean | Promise<boolean>, ms: number, more = () => ''): Promise<void> {
  for (let waited = 0; waited < ms; waited += 200) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`never: ${what}\n${more()}`);
}

/** The companion with the phone's device (DN 1701) and baresip's line (DN 1702, digest). */
async function companion(name: string): Promise<{ data: string; cm: Proc }> {
  const data = join(dir, name);
  await mkdir(data);
  const cm = await startCompanion(lab, data, {
    security: { mode: 'none' }, autoRegistration: { enabled: false },
    phones: [{ mac: '001122334701', model: '8841', dn: '1701' }, { mac: '0011223347B2', model: '8841', dn: '1702', password: 'line-secret' }],
  });
  return { data, cm };
}

/** baresip in a namespace of its own, registered on line 1702 when this resolves. */
async function baresip(data: string, name: string): Promise<{ ns: string; proc: Proc }> {
  const cfg = join(dir, `baresip-${name}`);
  await mkdir(cfg);
  // Headless: a 440 Hz sine as the microphone (ausine makes 48 kHz stereo), a WAV file as the speaker.
  await writeFile(join(cfg, 'config'), [
    'poll_method epoll', `sip_listen ${BARESIP}:5060`, 'sip_transports tcp',
    'audio_source ausine,440', `audio_player aufile,${join(cfg, 'heard.wav')}`, 'audio_alert aufile,/dev/null',
    'ausrc_srate 48000', 'auplay_srate 48000', 'ausrc_channels 2', 'auplay_channels 2',
    'rtp_ports 20000-20100',
    'module_path /usr/lib/baresip/modules', 'module g711.so', 'module ausine.so', 'module aufile.so', 'module ctrl_tcp.so',
    'module_app account.so', 'module_app menu.so', `ctrl_tcp_listen 127.0.0.1:${CTRL_PORT}`, '',
  ].join('\n'));
  await writeFile(join(cfg, 'accounts'), `<sip:1702@${CM}:5060;transport=tcp>;auth_pass=line-secret;answermode=auto;audio_codecs=PCMU;regint=60\n`);
  const ns = await lab.addHost(`bs-${name}`, { address: `${BARESIP}/24`, mac: '00:11:22:33:47:b2' });
  const proc = lab.spawn('baresip', ns, 'baresip', ['-f', cfg]);
  await until('baresip registered line 1702', async () => (await cmJson<{ registered: boolean }>(data, 'phone', 'show', 'SEP0011223347B2')).registered, 60_000, () => proc.tail());
  await lab.waitForTcp(ns, '127.0.0.1', CTRL_PORT);
  return { ns, proc };
}

/** One ctrl_tcp command (a netstring of JSON), sent from inside baresip's namespace. */
async function command(ns: string, cmd: string, params = ''): Promise<void> {
  const j = JSON.stringify({ command: cmd, params, token: cmd });
  await lab.ns(ns, 'bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${CTRL_PORT}; printf '%s' "$1" >&3; sleep 0.5`, 'ctrl', `${Buffer.byteLength(j)}:${j},`);
}

calls('the phone calls baresip (PCMU, auto-answer): it exits 0, tshark sees RTP each way with none lost', async () => {
  const { data, cm } = await companion('cm-a');
  const pcap = join(dir, 'a.pcap');
  const capture = lab.spawn('tshark', lab.server, 'tshark', ['-i', 'br0', '-w', pcap]);
  await capture.waitForLine(/Capturing on/, 30_000);
  const bs = await baresip(data, 'a');
  const ns = await lab.addHost('caller', { mac: '00:11:22:33:47:01' });
  const phone = startPhone(lab, ns, '001122334701', join(dir, 'nv-a'), ['--call', '1702', '--hangup-after', '3', '--until', 'call-ended', '--timeout', '120']);
  const code = await phone.exit(150_000);
  await new Promise((r) => setTimeout(r, 500));
  await capture.stop();
  assert.is(code, 0, `phone:\n${phone.tail()}\ncompanion:\n${cm.tail(15)}\nbaresip:\n${bs.proc.tail(15)}`);

  const connected = phone.events().find(isCall('connected'))!;
  assert.is(connected['codec'], 'PCMU');
  assert.is(connected['dtmf'], true, 'telephone-event agreed with baresip');
  assert.match(String(connected['remote']), new RegExp(`^${BARESIP.replaceAll('.', '\\.')}:\\d+$`), 'media goes to baresip itself');
  const end = phone.events().find(isCall('ended'))!;
  assert.equal([end['state'], end['reason']], ['done', 'local-hangup']);

  const [mine, theirs] = [String(connected['local']), String(connected['remote'])];
  const streams = (await rtpStreams(pcap)).filter((s) => [mine, theirs].includes(s.src));
  assert.equal(streams.map((s) => `${s.src}>${s.dst}`).sort(), [`${mine}>${theirs}`, `${theirs}>${mine}`].sort(), JSON.stringify(streams));
  for (const s of streams) {
    assert.ok(s.pkts >= 100, `${s.src}: ${s.pkts} packets in 3 s`);
    assert.is(s.lost, 0, `${s.src} lost ${s.lost}`);
  }
});

calls('baresip calls the phone and hangs up: the phone (--auto-answer) exits 0, connected then ended', async () => {
  const { data, cm } = await companion('cm-b');
  const ns = await lab.addHost('callee', { mac: '00:11:22:33:47:01' });
  const phone = startPhone(lab, ns, '001122334701', join(dir, 'nv-b'), ['--auto-answer', '--until', 'call-ended', '--timeout', '120']);
  await phone.waitForEvent('the phone registered', (e) => e['step'] === 'register' && e['state'] === 'done', 90_000);
  const bs = await baresip(data, 'b');
  await command(bs.ns, 'dial', `sip:1701@${CM}:5060;transport=tcp`);
  await phone.waitForEvent('the phone connected', isCall('connected'), 30_000);
  await new Promise((r) => setTimeout(r, 3000));
  await command(bs.ns, 'hangup');
  const code = await phone.exit(60_000);
  assert.is(code, 0, `phone:\n${phone.tail()}\ncompanion:\n${cm.tail(15)}\nbaresip:\n${bs.proc.tail(15)}`);
  const kinds = phone.events().filter((e) => e['step'] === 'call').map((e) => e['call']);
  assert.ok(kinds.indexOf('connected') >= 0 && kinds.indexOf('connected') < kinds.indexOf('ended'), JSON.stringify(kinds));
  const connected = phone.events().find(isCall('connected'))!;
  assert.equal([connected['direction'], connected['number'], connected['codec']], ['incoming', '1702', 'PCMU']);
  const end = phone.events().find(isCall('ended'))!;
  assert.equal([end['state'], end['reason']], ['done', 'remote-hangup']);
});

calls.run();
