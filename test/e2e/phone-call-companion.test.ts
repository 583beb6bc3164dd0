/**
 * Two `sepi phone` processes call each other through the companion, each in its own network
 * namespace, through the command-line contract only: the caller `--call DN --dtmf --hangup-after
 * --until call-ended`, the callee `--auto-answer --dtmf --record --until call-ended`. Both must
 * exit 0; tshark's RTP stream analysis of a capture on the LAN must find one stream each way
 * between the two phones' RTP ports with nothing lost; the digits each side sent must arrive
 * at the other as RFC 4733 events. A call to a DN nobody has makes the caller exit 1 with 404.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Lab } from '../support/lab.ts';
import { needs } from '../support/proc.ts';
import { rtpStreams } from '../support/rtp-streams.ts';
import { isCall, startCompanion, startPhone, tempDir } from '../support/sepi.ts';
import { parseWav } from '../../src/wire/wav.ts';
import { tonePower } from '../../src/media/audio.ts';

const calls = suite('two sepi phones call through the companion');
let lab: Lab;
let dir = '';

calls.before(async () => {
  await needs('tshark');
  lab = await Lab.create('10.97.0');
  dir = await tempDir('call-cm');
});

calls.after.each(async () => {
  await lab.dropHosts();
});

calls.after(async () => {
  await lab?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});


calls('--call, --auto-answer, --dtmf both ways, --hangup-after, --until call-ended: both exit 0, tshark sees RTP each way with none lost', async () => {
  const data = join(dir, 'cm');
  await mkdir(data);
  const cm = await startCompanion(lab, data, {
    security: { mode: 'none' }, autoRegistration: { enabled: false },
    phones: [{ mac: '001122334601', model: '8841', dn: '1601' }, { mac: '001122334602', model: '8841', dn: '1602' }],
  });
  const pcap = join(dir, 'call.pcap');
  const capture = lab.spawn('tshark', lab.server, 'tshark', ['-i', 'br0', '-w', pcap]);
  await capture.waitForLine(/Capturing on/, 30_000);
  const nsB = await lab.addHost('callee', { mac: '00:11:22:33:46:02' });
  const heard = join(dir, 'callee.wav');
  const callee = startPhone(lab, nsB, '001122334602', join(dir, 'nv-b'), ['--auto-answer', '--dtmf', '9*', '--record', heard, '--until', 'call-ended', '--timeout', '120']);
  await callee.waitForEvent('the callee registered', (e) => e['step'] === 'register' && e['state'] === 'done', 90_000);
  const nsA = await lab.addHost('caller', { mac: '00:11:22:33:46:01' });
  const caller = startPhone(lab, nsA, '001122334601', join(dir, 'nv-a'), ['--call', '1602', '--dtmf', '123#', '--hangup-after', '4', '--until', 'call-ended', '--timeout', '120']);
  const [codeA, codeB] = await Promise.all([caller.exit(150_000), callee.exit(150_000)]);
  await capture.stop();
  assert.is(codeA, 0, `caller:\n${caller.tail()}\ncompanion:\n${cm.tail(15)}`);
  assert.is(codeB, 0, `callee:\n${callee.tail()}`);

  assert.is(callee.events().find(isCall('ringing'))!['number'], '1601', "the callee's screen names the caller's DN");
  const endA = caller.events().find(isCall('ended'))!;
  const endB = callee.events().find(isCall('ended'))!;
  assert.equal([endA['state'], endA['reason'], endB['state'], endB['reason']], ['done', 'local-hangup', 'done', 'remote-hangup']);
  const digits = (p: typeof caller, way: string) => p.events().filter((e) => isCall('dtmf')(e) && e['dtmf'] === way).map((e) => e['digit']).join('');
  assert.is(digits(callee, 'received'), '123#', 'the caller\'s digits arrived');
  assert.is(digits(caller, 'received'), '9*', 'and the callee\'s');

  const a = caller.events().find(isCall('connected'))!;
  const b = callee.events().find(isCall('connected'))!;
  const streams = (await rtpStreams(pcap)).filter((s) => [a['local'], b['local']].includes(s.src));
  assert.equal(streams.map((s) => `${s.src}>${s.dst}`).sort(), [`${a['local']}>${b['local']}`, `${b['local']}>${a['local']}`].sort(), JSON.stringify(streams));
  for (const s of streams) {
    assert.ok(s.pkts >= 150, `${s.src}: ${s.pkts} packets in 4 s`);
    assert.is(s.lost, 0, `${s.src} lost ${s.lost}`);
  }
  // What the callee recorded is the caller's 1004 Hz tone.
  const wav = parseWav(await readFile(heard));
  assert.ok(wav.ok && wav.value.samples.length >= 3 * 8000, 'at least 3 s recorded');
  if (wav.ok) assert.ok(tonePower(wav.value.samples, 1004) > 50 * tonePower(wav.value.samples, 1500), 'the recording is the 1004 Hz tone');
});

calls('a DN nobody has: the caller exits 1 with the 404', async () => {
  const data = join(dir, 'cm2');
  await mkdir(data);
  await startCompanion(lab, data, { security: { mode: 'none' }, autoRegistration: { enabled: false }, phones: [{ mac: '001122334603', model: '8841', dn: '1603' }] });
  const ns = await lab.addHost('lonely', { mac: '00:11:22:33:46:03' });
  const phone = startPhone(lab, ns, '001122334603', join(dir, 'nv-c'), ['--call', '1699', '--until', 'call-ended', '--timeout', '120']);
  assert.is(await phone.exit(150_000), 1, phone.tail());
  const end = phone.events().find(isCall('ended'))!;
  assert.equal([end['state'], end['reason'], end['status']], ['fail', 'rejected', 404]);
  assert.match(phone.tail(), /call to 1699 failed: rejected \(404\)/);
});

calls.run();
