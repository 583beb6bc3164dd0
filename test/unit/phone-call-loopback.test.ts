/**
 * Whole phones (Handset, Firmware) calling through the companion on 127.0.0.1, on the in-process
 * harness (VirtualClock, real TCP and UDP): what the phone's side of a call does beyond the
 * plain dial-answer-hang-up of test/unit/cm-calls-phones.test.ts — off hook with the inter-digit
 * timeout, auto-answer with a scripted hang-up, each side's tone heard by the other (Goertzel on
 * the recordings), a callee that declines, a caller that cancels while it rings, a busy callee.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tonePower } from '../../src/media/audio.ts';
import type { CallOptions } from '../../src/phone/call/phone-calls.ts';
import type { StepEvent } from '../../src/phone/events.ts';
import { Harness, type HarnessPhone, isCall, type CallStep } from '../support/harness.ts';

const calls = suite('phones call through the companion on loopback');
let h: Harness;

calls.after.each(async () => {
  await h?.stop();
});

type Ended = Extract<CallStep, { call: 'ended' }>;
const isEnded = (e: StepEvent): e is Ended => e.step === 'call' && e.call === 'ended';
const screen = (p: HarnessPhone) => p.handset.frame().rows.join('\n');

async function phones(options: CallOptions[]): Promise<HarnessPhone[]> {
  h = new Harness();
  await h.dhcp.start();
  const macs = options.map((_, i) => `0011223344e${i + 1}`);
  await h.startCompanion({ security: { mode: 'none' }, autoRegistration: { enabled: false }, phones: macs.map((mac, i) => ({ mac, model: '8841', dn: `150${i + 1}` })) });
  const out = options.map((calls, i) => h.phone(macs[i]!.replace(/(..)(?!$)/g, '$1:'), { calls }));
  for (const p of out) await h.event(p, `${p.handset.deviceName} registered`, (e) => e.step === 'register' && e.state === 'done');
  return out;
}

calls('NewCall off hook: the number goes after 5 s without a digit; the auto-answering callee hangs up after 2 s; each heard the other\'s tone', async () => {
  const heardByA: Int16Array[] = [];
  const heardByB: Int16Array[] = [];
  const [a, b] = await phones([
    { audio: { kind: 'tone', hz: 1004 }, onRecording: (s) => heardByA.push(s) },
    { autoAnswer: true, hangupAfterMs: 2000, audio: { kind: 'tone', hz: 697 }, onRecording: (s) => heardByB.push(s) },
  ]);
  a!.keypad.press('soft3', '1', '5', '0', '2');
  const typed = h.clock.now();
  assert.match(screen(a!), /Off hook\s+>1502_/);
  const calling = await h.event(a!, 'A calls', isCall('calling'));
  assert.ok(calling.at - typed >= 5000 && calling.at - typed < 5100, `dialed ${calling.at - typed} ms after the last digit`);
  const endA = await h.event(a!, 'A ended', isEnded);
  const endB = await h.event(b!, 'B ended', isEnded);
  assert.equal([endA.reason, endB.reason, endA.state], ['remote-hangup', 'local-hangup', 'done']);
  assert.ok(endB.connectedMs >= 2000 && endB.connectedMs < 2100, String(endB.connectedMs));
  const atB = heardByB[0]!;
  const atA = heardByA[0]!;
  assert.ok(atB.length >= 8000 && atA.length >= 8000, `${atA.length} and ${atB.length} samples recorded`);
  assert.ok(tonePower(atB, 1004) > 50 * tonePower(atB, 697), 'B heard A\'s 1004 Hz');
  assert.ok(tonePower(atA, 697) > 50 * tonePower(atA, 1004), 'A heard B\'s 697 Hz');
});

calls('the callee declines (486 on the caller\'s screen); the caller cancels while it rings (the callee sees the caller hang up); a busy callee is 486', async () => {
  const [a, b, c] = await phones([{}, {}, {}]);
  a!.keypad.press('1', '5', '0', '2', 'soft1');
  await h.event(b!, 'B rings', isCall('ringing'));
  b!.keypad.press('soft2');
  const declined = await h.event(a!, 'A refused', isEnded);
  assert.equal([declined.reason, declined.status], ['rejected', 486]);
  assert.match(screen(a!), /Call refused\s+486 Busy Here/);
  assert.is((await h.event(b!, 'B declined', isEnded)).reason, 'declined');

  const seenA = a!.steps().length;
  const seenB = b!.steps().length;
  // A digit on the ended screen (or the home screen it went back to) starts the next call.
  a!.keypad.press('1', '5', '0', '2', 'soft1');
  await h.event(b!, 'B rings again', isCall('ringing'), seenB);
  await h.event(a!, 'A hears it ring', isCall('ringback'), seenA);
  a!.keypad.press('soft2');
  assert.is((await h.event(a!, 'A cancelled', isEnded, seenA)).reason, 'cancelled');
  const gone = await h.event(b!, 'B sees the caller hang up', isEnded, seenB);
  assert.equal([gone.reason, gone.status], ['caller-cancelled', 487]);
  assert.match(screen(b!), /Caller hung up/);

  // B in a call with C; A's call to B is busy, and B's call goes on.
  const seenB1 = b!.steps().length;
  c!.keypad.press('1', '5', '0', '2', 'soft1');
  await h.event(b!, 'B rings for C', isCall('ringing'), seenB1);
  b!.keypad.press('soft1');
  await h.event(b!, 'B in a call with C', isCall('connected'), seenB1);
  const seenB2 = b!.steps().length;
  const seenA2 = a!.steps().length;
  a!.keypad.press('1', '5', '0', '2', 'soft1');
  const busy = await h.event(a!, 'A gets busy', isEnded, seenA2);
  assert.equal([busy.reason, busy.status], ['rejected', 486]);
  assert.is(b!.handset.firmware.calls.state, 'connected', 'the call in progress goes on');
  assert.not.ok(b!.steps().slice(seenB2).some(isEnded), 'B\'s call did not end');
});

calls.run();
