/**
 * The self-provisioning IVR end to end (issue 10), in network namespaces through the command-line
 * contract only: a companion with autoregistration (3000–3099), the IVR on 8999 set with
 * `sepi cm ivr set`, user 5001 (PIN 1234, DN 2101) added with `sepi cm user add …
 * --self-provisioning`; a new `sepi phone` autoregisters, dials 8999 with `--call 8999 --dtmf
 * '5001#11234#'`, reports each prompt's words as call events, is hung up on by the IVR, reset by
 * service-control, and registers again on 2101. tshark sees the IVR's RTP stream (its 440 Hz
 * beeps) reach the phone.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Lab } from '../support/lab.ts';
import { needs } from '../support/proc.ts';
import { rtpStreams } from '../support/rtp-streams.ts';
import { SEPI, isCall, isRegistered, startCompanion, startPhone, tempDir } from '../support/sepi.ts';

const t = suite('an autoregistered sepi phone provisions itself through the IVR');
let lab: Lab;
let dir = '';

t.before(async () => {
  await needs('tshark');
  lab = await Lab.create('10.95.0');
  dir = await tempDir('ivr');
});

t.after(async () => {
  await lab?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});


t('--call 8999 --dtmf 5001#11234#: the prompts as events, the IVR hangs up, the phone is reset and registers on 2101', async () => {
  const data = join(dir, 'cm');
  await mkdir(data);
  const cm = await startCompanion(lab, data, { security: { mode: 'none' }, autoRegistration: { enabled: true, dnRange: ['3000', '3099'] } });
  const sepi = (...args: string[]) => promisify(execFile)(SEPI, ['cm', '--data', data, ...args]);
  await sepi('user', 'add', '--id', '5001', '--password', 'correct horse', '--pin', '1234', '--primary-dn', '2101', '--self-provisioning');
  await sepi('ivr', 'set', '--extension', '8999', '--auth', 'users');
  const pcap = join(dir, 'ivr.pcap');
  const capture = lab.spawn('tshark', lab.server, 'tshark', ['-i', 'br0', '-w', pcap]);
  await capture.waitForLine(/Capturing on/, 30_000);

  const ns = await lab.addHost('newphone', { mac: '00:11:22:33:47:01' });
  // No --until: the phone goes on after the call, through the reset, to its new line.
  const phone = startPhone(lab, ns, '001122334701', join(dir, 'nv'), ['--call', '8999', '--dtmf', '5001#11234#', '--timeout', '240']);
  try {
    const first = await phone.waitForEvent('registered on its autoregistered line', isRegistered('device'), 120_000);
    assert.is(first['line'], '3000');
    const connected = await phone.waitForEvent('connected to the IVR', isCall('connected'), 60_000);
    const ended = await phone.waitForEvent('the IVR hung up', isCall('ended'), 90_000);
    assert.equal([ended['state'], ended['reason']], ['done', 'remote-hangup'], JSON.stringify(ended));
    const prompts = phone.events().filter(isCall('prompt')).map((e) => String(e['text']));
    assert.match(prompts[0] ?? '', /Welcome to self-provisioning/, prompts.join('\n'));
    assert.ok(prompts.some((p) => /Enter your PIN/.test(p)), prompts.join('\n'));
    assert.match(prompts.at(-1) ?? '', /provisioned with extension 2 1 0 1/);
    const afterCall = phone.events().length;
    await phone.waitForEvent('reset by service-control', (e) => e['step'] === 'reboot' && e['reason'] === 'reset-reset', 60_000, afterCall);
    const back = await phone.waitForEvent('registered on the user\'s extension', isRegistered('device'), 120_000, afterCall);
    assert.is(back['line'], '2101', phone.tail());
    await capture.stop();
    assert.match(cm.tail(200), /ivr SEP001122334701 \(3000\): provisioned SEP001122334701 for user 5001 on 2101/);
    const shown = JSON.parse((await sepi('user', 'show', '5001', '--json')).stdout) as Record<string, unknown>;
    assert.is(shown['provisioned'], 1);
    // The IVR's RTP (beeps and silence) reached the phone's port, and the phone's came back.
    const local = String(connected['local']);
    const remote = String(connected['remote']);
    const streams = await rtpStreams(pcap);
    assert.ok(streams.some((s) => s.src === remote && s.dst === local && s.pkts >= 50 && s.lost === 0), JSON.stringify(streams));
    assert.ok(streams.some((s) => s.src === local && s.dst === remote && s.pkts >= 50), JSON.stringify(streams));
  } finally {
    await phone.stop();
    await capture.stop().catch(() => {});
  }
});

t.run();
