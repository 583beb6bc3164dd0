/**
 * The self-provisioning IVR end to end (issue 10), in network namespaces through the command-line
 * contract only: a companion with autoregistration (3000–3099), the IVR on 8999 set with
 * `sepi cm ivr set`, user 5001 (PIN 1234, DN 2101) added with `sepi cm user add …
 * --self-provisioning`; a new `sepi phone` autoregisters, dials 8999 with `--call 8999 --dtmf
 * '5001#11234#'`, reports each prompt's words as call events, is hung up on by the IVR, reset by
 * service-control, and registers again on 2101. tshark sees the IVR's RTP stream (its 440 Hz
 * beeps) reach the phone. The templates through the same commands: autoregistration names a
 * universal device template (device pool, a speed dial to the IVR) and line template, user 5001
 * has user profile "staff" with others; the phone's cnf.xml, fetched from its namespace, and
 * `sepi cm phone show` carry autoregistration's before the call and the profile's after.
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
import { parsePhoneConfig, type DeviceConfig } from '../../src/wire/cnf-xml.ts';

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


/** The phone's cnf.xml as the phone would fetch it: HTTP 6970 from its own namespace. */
async function cnfXml(ns: string, device: string): Promise<DeviceConfig> {
  const r = parsePhoneConfig(await lab.ns(ns, 'curl', '-sf', `http://${lab.subnet}.1:6970/${device}.cnf.xml`));
  if (!r.ok || r.value.kind !== 'device') throw new Error(`${device}.cnf.xml is not a device file`);
  return r.value;
}

t('--call 8999 --dtmf 5001#11234#: the prompts as events, the IVR hangs up, the phone is reset and registers on 2101', async () => {
  const data = join(dir, 'cm');
  await mkdir(data);
  const cm = await startCompanion(lab, data, { security: { mode: 'none' }, autoRegistration: { enabled: true, dnRange: ['3000', '3099'] } });
  const sepi = (...args: string[]) => promisify(execFile)(SEPI, ['cm', '--data', data, ...args]);
  await sepi('udt', 'add', 'lobby', '--description', 'Lobby #DN# (#Product#)', '--device-pool', 'Lobby', '--speed-dial', '8999=Self-provisioning');
  await sepi('ult', 'add', 'lobby-line', '--display-name', 'Lobby #DN#', '--label', 'Dial 8999');
  await sepi('autoregistration', 'set', '--device-template', 'lobby', '--line-template', 'lobby-line');
  await sepi('udt', 'add', 'desk', '--description', '#FirstName# #LastName# (#Product#)', '--device-pool', 'Floor 3');
  await sepi('ult', 'add', 'desk-line', '--display-name', '#FirstName# #LastName#', '--label', '#LastName# #DN#', '--external-mask', '408555XXXX');
  await sepi('user-profile', 'add', 'staff', '--device-template', 'desk', '--line-template', 'desk-line', '--self-provisioning', '--limit', '10');
  await sepi('user', 'add', '--id', '5001', '--name', 'Ada Lovelace', '--password', 'correct horse', '--pin', '1234', '--primary-dn', '2101', '--profile', 'staff');
  // The per-user flag stays for users without a profile; with one, the profile's wins and the flag is refused.
  const refused = await sepi('user', 'set', '5001', '--self-provisioning', 'off').then(() => '', (e: { stderr?: string }) => e.stderr ?? 'failed');
  assert.match(refused, /takes self-provisioning and its limit from user profile staff/);
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
    let file = await cnfXml(ns, 'SEP001122334701');
    assert.equal([file.devicePoolName, file.lines[0]?.displayName, file.lines[0]?.label, file.speedDials], ['Lobby', 'Lobby 3000', 'Dial 8999', [{ button: 2, number: '8999', label: 'Self-provisioning' }]]);
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
    assert.equal([shown['provisioned'], shown['profile'], shown['deviceTemplate']], [1, 'staff', 'desk']);
    const record = JSON.parse((await sepi('phone', 'show', 'SEP001122334701', '--json')).stdout) as Record<string, unknown>;
    assert.is(record['description'], 'Ada Lovelace (Cisco 8841)');
    assert.equal(record['templates'], { deviceTemplate: 'desk', lineTemplate: 'desk-line', devicePool: 'Floor 3', speedDials: [], displayName: 'Ada Lovelace', label: 'Lovelace 2101', externalNumber: '4085552101' });
    file = await cnfXml(ns, 'SEP001122334701');
    assert.equal([file.devicePoolName, file.lines[0]?.dn, file.lines[0]?.displayName, file.lines[0]?.label, file.speedDials], ['Floor 3', '2101', 'Ada Lovelace', 'Lovelace 2101', undefined]);
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
