/**
 * Lines 2 to 10 of a Multiplatform phone (src/phone/flows/mpp.ts `keepLine`), in virtual time
 * against the in-process companion: the profile enables line 2 beside line 1, both pointed at the
 * companion. Line 1 registers and is the phone's registration; line 2 is its own registration,
 * reported as `line` events: the companion keeps one line a device and refuses it (404), so it
 * backs off and tries again — without unregistering the phone, and without the restart a
 * rebinding would send, over and over. (A line 2 that registers: test/e2e/mpp-lan.test.ts, with
 * kamailio.) The status and the screen say each line's state.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import type { PhoneStatus, StepEvent } from '../../src/phone/events.ts';
import { LCD_160x128, renderScreen } from '../../src/phone/screen.ts';
import { applyEvent, initialStatus } from '../../src/phone/status.ts';
import { Harness } from '../support/harness.ts';

type LineEvent = Extract<StepEvent, { step: 'line' }>;

test('line 2 refused by the companion (one line a device): line events with a back-off, line 1 stays registered, no restart', async () => {
  const h = await Harness.start({ companion: false });
  try {
    h.dhcp.tftpServer = '';
    const c = await h.startCompanion({ phones: [{ mac: '0022905c1a51', model: '8841', dn: '1501' }] });
    const profile = `<flat-profile>
  <Line_Enable_2_>Yes</Line_Enable_2_>
  <Proxy_2_>127.0.0.1</Proxy_2_>
  <SIP_Port_2_>${c.endpoints.sip}</SIP_Port_2_>
  <SIP_Transport_2_>TCP</SIP_Transport_2_>
  <User_ID_2_>1502</User_ID_2_>
</flat-profile>`;
    expectOk(c.mpp.setProfile('00:22:90:5c:1a:51', { profile: Buffer.from(profile).toString('base64') }));
    h.dhcp.extraOptions.set(160, Buffer.from(`http://127.0.0.1:${c.endpoints.http}/mpp/$PSN/$MA.xml`));
    const p = h.phone('0022905c1a51', { persona: 'mpp' });
    const registered = await h.event(p, 'line 1 registered', (e) => e.step === 'register' && e.state === 'done');
    const first = await h.event(p, 'line 2 refused', (e) => e.step === 'line' && e.state === 'retry');
    assert.ok(first.step === 'line' && first.lineIndex === 2 && first.user === '1502' && /has one line here: 1501/.test(first.reason), JSON.stringify(first));
    await h.event(p, 'line 2 tried again', (e) => e.step === 'line' && e.state === 'retry', p.steps().findIndex((e) => e.step === 'line' && e.state === 'retry') + 1, 600_000);
    const lines = p.steps().filter((e): e is LineEvent & { at: number } => e.step === 'line');
    assert.ok(lines.some((e) => e.state === 'start' && e.proxy === '127.0.0.1'), 'line 2 started with its proxy');
    assert.ok(lines[0]!.at >= registered.at, 'line 2 starts once line 1 has its answer');
    assert.is(p.steps().filter((e) => e.step === 'power' && e.state === 'start').length, 1, 'no restart, no reboot');
    assert.not.ok(p.steps().some((e) => e.step === 'register' && (e.state === 'fail' || e.state === 'retry')), 'line 1 untouched');
    assert.ok(p.handset.frame().rows.some((r) => /^L2 1502 not reg\./.test(r)), p.handset.frame().rows.join('\n'));
    assert.ok(h.companionLog.some((l) => /404 no line 1502 on SEP0022905C1A51 \(its line is 1501\)/.test(l)), 'the companion says why');
    assert.ok(p.handset.frame().rows.some((r) => /Registered/.test(r)), 'the phone is Registered (line 1)');
  } finally {
    await h.stop();
  }
});

test('status: line events set each line\'s state and never the phone\'s phase or problem; the screen lists them', () => {
  let s: PhoneStatus = { ...initialStatus('8841', 'SEP0022905C1A51'), registered: true, phase: 'Registered', line: '1501', callManager: '10.0.0.1' };
  const ev = (e: Record<string, unknown>) => (s = applyEvent(s, { type: 'event', t: 1, ms: 0, message: 'x', ...e } as LineEvent));
  ev({ step: 'line', state: 'start', lineIndex: 3, user: '1503', proxy: 'p3' });
  ev({ step: 'line', state: 'start', lineIndex: 2, user: '1502', proxy: 'p2' });
  ev({ step: 'line', state: 'done', lineIndex: 2, user: '1502', cm: '10.0.0.2', expires: 3600 });
  ev({ step: 'line', state: 'retry', lineIndex: 3, user: '1503', reason: '403 Forbidden', inSecs: 60 });
  assert.equal(s.lines, [{ index: 2, user: '1502', registered: true }, { index: 3, user: '1503', registered: false, problem: '403 Forbidden' }]);
  assert.equal([s.registered, s.phase, s.problem], [true, 'Registered', undefined], 'the phone is still line 1\'s');
  ev({ step: 'line', state: 'progress', lineIndex: 2, user: '1502', registration: 'refreshed' });
  assert.is(s.lines?.[0]?.registered, true, 'a refresh keeps it registered');
  ev({ step: 'line', state: 'fail', lineIndex: 2, user: '1502', reason: 'connection closed' });
  assert.equal(s.lines?.[0], { index: 2, user: '1502', registered: false, problem: 'connection closed' });
  const rows = renderScreen(s, LCD_160x128).rows.map((r) => r.trim());
  assert.ok(rows.includes('L2 1502 not reg.') && rows.includes('L3 1503 not reg.'), rows.join('\n'));
});

test.run();
