/**
 * Both halves of issue 10 together: two whole phones (Handset, Firmware) on the in-process
 * harness (VirtualClock, real sockets) boot from the companion, register on its registrar over
 * TCP, and call each other through the companion's own routing by directory number (the B2BUA of
 * src/cm/sip/calls.ts): dialed and answered on the keypad, DTMF across, RTP both ways phone to
 * phone, hung up by the caller; a DN nobody has is 404, a DN whose phone is not registered 480,
 * each on the caller's screen.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { StepEvent } from '../../src/phone/events.ts';
import { Harness, type HarnessPhone, isCall, type CallStep } from '../support/harness.ts';

const calls = suite('two phones call each other through the companion');
let h: Harness;

calls.after.each(async () => {
  await h?.stop();
});

const callEvents = (p: HarnessPhone): CallStep[] => p.steps().filter((e): e is CallStep & { at: number } => e.step === 'call');
const screen = (p: HarnessPhone) => p.handset.frame().rows.join('\n');

async function twoPhones(): Promise<[HarnessPhone, HarnessPhone]> {
  h = new Harness();
  await h.dhcp.start();
  // No callManagers: the phones' files name the companion itself.
  await h.startCompanion({
    security: { mode: 'none' }, autoRegistration: { enabled: false },
    phones: [{ mac: '0011223344d1', model: '8841', dn: '1301' }, { mac: '0011223344d2', model: '8841', dn: '1302' }, { mac: '0011223344d3', model: '8841', dn: '1303' }],
  });
  const a = h.phone('00:11:22:33:44:d1');
  const b = h.phone('00:11:22:33:44:d2');
  const registered = (e: StepEvent) => e.step === 'register' && e.state === 'done';
  await h.event(a, 'A registered', registered);
  await h.event(b, 'B registered', registered);
  return [a, b];
}

calls('dialed and answered on the keypad, DTMF across, hung up by the caller: RTP both ways, nothing lost', async () => {
  const [a, b] = await twoPhones();
  a.keypad.press('1', '3', '0', '2', 'soft1');
  await h.event(b, 'B rings', isCall('ringing'));
  assert.match(screen(b), /Incoming call\s+1301/, 'the callee sees the caller\'s DN the companion presents');
  await h.event(a, 'A hears it ring', isCall('ringback'));
  b.keypad.press('soft1');
  const connected = await h.event(a, 'A connected', isCall('connected'));
  await h.event(b, 'B connected', isCall('connected'));
  assert.ok(connected.call === 'connected' && connected.codec === 'PCMU' && connected.dtmf);
  await h.until('two seconds of call', () => h.clock.now() >= connected.at + 2000 || undefined);
  a.keypad.press('4', '2');
  await h.until('both digits at B', () => callEvents(b).filter((e) => e.call === 'dtmf' && e.dtmf === 'received').length === 2 || undefined);
  a.keypad.press('soft2');
  const endA = await h.event(a, 'A ended', isCall('ended'));
  const endB = await h.event(b, 'B ended', isCall('ended'));
  if (endA.call !== 'ended' || endB.call !== 'ended') return assert.unreachable('both calls ended');
  assert.equal([endA.state, endA.reason, endB.state, endB.reason], ['done', 'local-hangup', 'done', 'remote-hangup']);
  assert.is(endB.dtmfReceived, '42');
  for (const e of [endA, endB]) {
    assert.ok(e.rtp && e.rtp.sent >= 100 && e.rtp.received >= 100, JSON.stringify(e.rtp));
    assert.is(e.rtp?.lost, 0);
  }
  assert.ok(h.companionLog.some((l) => /sip INVITE SEP0011223344D1 .*: 200 call 1301 → 1302: answered/.test(l)), h.companionLog.join('\n'));
  assert.ok(h.companionLog.some((l) => /call 1301 → 1302 ended: 1301 hung up/.test(l)));
  assert.ok(a.handset.status.registered && b.handset.status.registered, 'both still registered');
});

calls('a DN nobody has is 404 and a DN whose phone is not registered 480, on the caller\'s screen', async () => {
  const [a] = await twoPhones();
  a.keypad.press('1', '9', '9', '9', 'soft1');
  const end = await h.event(a, 'A refused', isCall('ended'));
  assert.ok(end.call === 'ended' && end.state === 'fail' && end.status === 404, JSON.stringify(end));
  assert.match(screen(a), /404/);
  const seen = a.steps().length;
  a.keypad.press('1', '3', '0', '3', 'soft1');
  const end2 = await h.event(a, 'A refused again', isCall('ended'), seen);
  assert.ok(end2.call === 'ended' && end2.state === 'fail' && end2.status === 480, JSON.stringify(end2));
});

calls.run();
