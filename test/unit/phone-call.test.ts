/**
 * The phone's calls in one process on a VirtualClock: two phones' call controllers, each on its
 * own user agent over in-memory SIP transports, RTP over in-memory datagrams. The keypad is
 * scripted (the keys a person presses, through the UI), the screens read as text; every
 * transition is checked against the call state machine and reported as a call event.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VirtualClock } from '../../src/common/clock.ts';
import { MemoryNetwork, UserAgent } from '../../src/sip/index.ts';
import { tonePower } from '../../src/media/audio.ts';
import { PhoneCalls, type CallOptions } from '../../src/phone/call/phone-calls.ts';
import { CALL_EDGES, type CallState } from '../../src/phone/call/call-state.ts';
import { IllegalTransition, StateMachine } from '../../src/phone/flows/state-machine.ts';
import type { CallEvent, PhoneEvent, StepReport } from '../../src/phone/events.ts';
import { fails, reaches } from '../../src/phone/goals.ts';
import type { NetworkPort, Peer, UdpEndpoint } from '../../src/phone/ports.ts';
import { initialStatus } from '../../src/phone/status.ts';
import { LCD_160x128 } from '../../src/phone/screen.ts';
import { PhoneUi, type PhoneControls } from '../../src/phone/ui.ts';
import type { Key } from '../../src/phone/keys.ts';

/** Datagrams in memory, by port (addresses are only labels here). */
class MemoryUdp {
  private readonly sockets = new Map<number, (d: Buffer, from: Peer) => void>();
  private next = 20000;
  sent = 0;
  /** Return true to lose a datagram. */
  lose: (to: number) => boolean = () => false;

  port(address: string): NetworkPort {
    const udp = async (o: { port?: number }): Promise<UdpEndpoint> => {
      const port = o.port && !this.sockets.has(o.port) ? o.port : this.next++;
      this.sockets.set(port, () => {});
      return {
        port,
        send: async (data, to) => {
          this.sent++;
          if (this.lose(to)) return;
          const h = this.sockets.get(to);
          const copy = Buffer.from(data);
          queueMicrotask(() => h?.(copy, { address, port }));
        },
        onMessage: (h) => void this.sockets.set(port, h),
        close: () => void this.sockets.delete(port),
      };
    };
    const no = async (): Promise<never> => {
      throw new Error('not in this test');
    };
    return { udp, tcp: no, tls: no, httpGet: no, httpsPost: no, resolve4: no, resolveSrv: no, close: async () => {} };
  }
}

interface TestPhone {
  calls: PhoneCalls;
  ua: UserAgent;
  events: Array<Extract<StepReport, { step: 'call' }>>;
  screen(): string;
  press(...keys: Key[]): void;
  recordings: Int16Array[];
  states: CallState[];
}

function world() {
  const clock = new VirtualClock();
  const sip = new MemoryNetwork();
  const udp = new MemoryUdp();
  const phones: TestPhone[] = [];
  const phone = (dn: string, host: string, o: CallOptions = {}): TestPhone => {
    const ua = new UserAgent({ transports: [sip.transport('TCP', host, 5060)], clock, aor: `sip:${dn}@cm`, defaultTransport: 'TCP' });
    const events: TestPhone['events'] = [];
    const recordings: Int16Array[] = [];
    const calls = new PhoneCalls({
      ...o, clock, network: udp.port(host),
      report: (e) => e.step === 'call' && events.push(e),
      ...(o.onRecording ? {} : { onRecording: (s) => recordings.push(s) }),
    });
    const states: CallState[] = [];
    calls.onChange(() => states.at(-1) !== calls.state && states.push(calls.state));
    const status = { ...initialStatus('8841', `SEP00112233440${dn.slice(-1)}`), registered: true, phase: 'Registered', line: dn };
    const controls: PhoneControls = { status, calls, trustSummary: () => [], eraseTrustList: async () => {}, factoryReset: async () => {}, restart: () => {} };
    const ui = new PhoneUi(controls, () => {});
    const p: TestPhone = {
      calls, ua, events, recordings, states,
      screen: () => ui.frame(LCD_160x128).rows.join('\n'),
      press: (...keys) => keys.forEach((k) => ui.press(k)),
    };
    phones.push(p);
    return p;
  };
  /** Each phone's call manager is the other phone: its INVITEs go straight there. */
  const pair = (a: TestPhone, aHost: string, b: TestPhone, bHost: string) => {
    const line = (p: TestPhone, user: string, host: string, peer: string) => ({
      ua: p.ua, member: { name: 'cm', address: peer, port: 5060, priority: 0 }, destination: { transport: 'TCP' as const, host: peer, port: 5060 },
      user, displayName: undefined, domain: 'cm', local: { host, port: 5060 },
    });
    a.calls.setLine(line(a, '1001', aHost, bHost));
    b.calls.setLine(line(b, '1002', bHost, aHost));
  };
  return { clock, sip, udp, phone, pair, settle: () => clock.advance(0) };
}

const kinds = (p: TestPhone) => p.events.map((e) => ('call' in e ? e.call : '?'));
const ended = (p: TestPhone) => p.events.find((e): e is Extract<typeof e, { call: 'ended' }> => e.call === 'ended');

test('digits and Dial call, the callee rings with the number, Answer connects, DTMF goes over RTP, EndCall hangs up both', async () => {
  const w = world();
  const a = w.phone('1001', '10.0.0.1');
  const b = w.phone('1002', '10.0.0.2');
  w.pair(a, '10.0.0.1', b, '10.0.0.2');
  assert.equal(a.calls.frame(LCD_160x128, initialStatus('8841', 'x')), undefined, 'no call, no call screen');
  assert.match(a.screen(), /Setti Resta NewCa/, 'the registered home offers NewCall on softkey 3');
  a.press('1', '0', '0', '2');
  assert.is(a.calls.state, 'dialing');
  assert.match(a.screen(), />1002_/);
  a.press('back');
  assert.match(a.screen(), />100_/);
  a.press('2', 'soft1');
  await w.clock.advance(10);
  assert.is(b.calls.state, 'ringing');
  assert.match(b.screen(), /Incoming call\s+1001/);
  assert.match(b.screen(), /Answer    EndCall/);
  assert.is(a.calls.state, 'ringback');
  assert.match(a.screen(), /Ring out\s+1002/);
  b.press('soft1');
  await w.clock.advance(10);
  assert.is(a.calls.state, 'connected');
  assert.is(b.calls.state, 'connected');
  await w.clock.advance(2000);
  assert.match(a.screen(), /Connected\s+1002\s+00:02 PCMU/);
  a.press('5', '#');
  await w.clock.advance(1000);
  assert.match(a.screen(), /DTMF 5#/);
  const got = b.events.filter((e) => e.call === 'dtmf' && e.dtmf === 'received').map((e) => (e.call === 'dtmf' ? e.digit : ''));
  assert.equal(got, ['5', '#'], 'the callee heard the digits as RFC 4733 events');
  a.press('soft2');
  await w.clock.advance(10);
  assert.is(a.calls.state, 'ended');
  assert.is(b.calls.state, 'ended');
  assert.match(b.screen(), /Far end hung up\s+1001\s+00:03/);
  const ea = ended(a)!;
  const eb = ended(b)!;
  assert.is(ea.state, 'done');
  assert.is(ea.reason, 'local-hangup');
  assert.is(eb.reason, 'remote-hangup');
  assert.ok(ea.rtp && ea.rtp.sent > 100 && ea.rtp.received > 100 && ea.rtp.lost === 0, JSON.stringify(ea.rtp));
  assert.is(ea.dtmfSent, '5#');
  assert.is(eb.dtmfReceived, '5#');
  assert.equal(kinds(a), ['dialing', 'calling', 'ringback', 'connected', 'dtmf', 'dtmf', 'ended']);
  assert.equal(kinds(b), ['ringing', 'connected', 'dtmf', 'dtmf', 'ended']);
  assert.equal(a.states, ['idle', 'dialing', 'calling', 'ringback', 'connected', 'ended']);
  await w.clock.advance(5000);
  assert.is(a.calls.state, 'idle', 'the ended screen goes back home');
  assert.match(a.screen(), /Registered/);
});

test('off hook (NewCall): the digits are dialed after the inter-digit timeout, not before', async () => {
  const w = world();
  const a = w.phone('1001', '10.0.0.1', { interDigitMs: 5000 });
  const b = w.phone('1002', '10.0.0.2', { autoAnswer: true, hangupAfterMs: 1000 });
  w.pair(a, '10.0.0.1', b, '10.0.0.2');
  a.press('soft3');
  assert.match(a.screen(), /Off hook\s+>_/);
  await w.clock.advance(20_000);
  assert.is(a.calls.state, 'dialing', 'no digits: nothing is dialed');
  a.press('1', '0', '0');
  await w.clock.advance(4000);
  a.press('2');
  await w.clock.advance(4900);
  assert.is(a.calls.state, 'dialing', 'each digit restarts the timer');
  await w.clock.advance(200);
  assert.ok(['calling', 'ringback', 'connected'].includes(a.calls.state), a.calls.state);
  await w.clock.advance(2000);
  const e = ended(a)!;
  assert.is(e.reason, 'remote-hangup', 'the auto-answering callee hung up after a second');
  assert.is(e.number, '1002');
  assert.is(e.state, 'done');
  assert.ok(e.connectedMs >= 1000 && e.connectedMs < 1100, String(e.connectedMs));
});

test('auto-answer, --dtmf and --hangup-after: the tone arrives (Goertzel), the digits arrive, the recording is kept', async () => {
  const w = world();
  const a = w.phone('1001', '10.0.0.1', { audio: { kind: 'tone', hz: 1004 }, dtmfOnConnect: '123#', hangupAfterMs: 3000 });
  const b = w.phone('1002', '10.0.0.2', { autoAnswer: true, audio: { kind: 'tone', hz: 697 } });
  w.pair(a, '10.0.0.1', b, '10.0.0.2');
  assert.ok(a.calls.dial('1002'));
  await w.clock.advance(5000);
  const ea = ended(a)!;
  const eb = ended(b)!;
  assert.is(ea.reason, 'local-hangup');
  assert.is(eb.reason, 'remote-hangup');
  assert.is(eb.dtmfReceived, '123#');
  const heard = b.recordings[0]!;
  assert.ok(heard.length > 8000 * 2, `${heard.length} samples recorded`);
  assert.ok(tonePower(heard, 1004) > 50 * tonePower(heard, 697), 'the callee heard the caller\'s 1004 Hz, not its own 697 Hz');
  const back = a.recordings[0]!;
  assert.ok(tonePower(back, 697) > 50 * tonePower(back, 1004), 'and the other way');
  const connected = a.events.find((e) => e.call === 'connected');
  assert.ok(connected && connected.call === 'connected' && connected.codec === 'PCMU' && connected.dtmf && connected.audio === '1004 Hz tone');
});

test('refused, cancelled and busy calls end with their reason and status', async () => {
  const w = world();
  const a = w.phone('1001', '10.0.0.1');
  const b = w.phone('1002', '10.0.0.2');
  w.pair(a, '10.0.0.1', b, '10.0.0.2');
  // Caller cancels while it rings: the callee's ringing ends as the caller's CANCEL.
  a.calls.dial('1002');
  await w.clock.advance(10);
  assert.is(b.calls.state, 'ringing');
  a.press('soft2');
  await w.clock.advance(10);
  assert.is(ended(a)!.reason, 'cancelled');
  assert.is(ended(b)!.reason, 'caller-cancelled');
  assert.is(ended(b)!.status, 487);
  assert.match(b.screen(), /Caller hung up/);
  await w.clock.advance(6000);
  // The callee declines: 486 to the caller.
  a.events.length = 0;
  b.events.length = 0;
  a.calls.dial('1002');
  await w.clock.advance(10);
  b.press('soft2');
  await w.clock.advance(10);
  const refused = ended(a)!;
  assert.equal([refused.reason, refused.status, refused.state], ['rejected', 486, 'fail']);
  assert.match(a.screen(), /Call refused\s+486 Busy Here/);
  assert.is(ended(b)!.reason, 'declined');
  // Busy: a second call to a phone in a call gets 486 without disturbing it.
  await w.clock.advance(6000);
  const c = w.phone('1003', '10.0.0.3');
  c.calls.setLine({ ua: c.ua, member: { name: 'cm', address: '10.0.0.2', port: 5060, priority: 0 }, destination: { transport: 'TCP', host: '10.0.0.2', port: 5060 }, user: '1003', displayName: undefined, domain: 'cm', local: { host: '10.0.0.3', port: 5060 } });
  a.calls.dial('1002');
  await w.clock.advance(10);
  b.press('soft1');
  await w.clock.advance(10);
  assert.is(b.calls.state, 'connected');
  c.calls.dial('1002');
  await w.clock.advance(10);
  assert.equal([ended(c)!.reason, ended(c)!.status], ['rejected', 486]);
  assert.is(b.calls.state, 'connected', 'the call in progress goes on');
  // The line lost mid-call ends it as such.
  b.calls.setLine(undefined);
  assert.is(b.calls.state, 'ended');
  assert.is(b.events.filter((e) => e.call === 'ended').at(-1)!.call === 'ended' && (b.events.at(-1) as { reason?: string }).reason, 'line-lost');
});

test('a callee without a line says 480; an INVITE without G.711 gets 488', async () => {
  const w = world();
  const a = w.phone('1001', '10.0.0.1');
  const b = w.phone('1002', '10.0.0.2');
  a.calls.setLine({ ua: a.ua, member: { name: 'cm', address: '10.0.0.2', port: 5060, priority: 0 }, destination: { transport: 'TCP', host: '10.0.0.2', port: 5060 }, user: '1001', displayName: undefined, domain: 'cm', local: { host: '10.0.0.1', port: 5060 } });
  a.calls.dial('1002');
  await w.clock.advance(10);
  assert.equal([ended(a)!.reason, ended(a)!.status], ['rejected', 480]);
  b.calls.setLine({ ua: b.ua, member: { name: 'cm', address: '10.0.0.1', port: 5060, priority: 0 }, destination: { transport: 'TCP', host: '10.0.0.1', port: 5060 }, user: '1002', displayName: undefined, domain: 'cm', local: { host: '10.0.0.2', port: 5060 } });
  const sdp = 'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n';
  const r = await a.ua.invite({ uri: 'sip:1002@cm', destination: { transport: 'TCP', host: '10.0.0.2', port: 5060 }, body: Buffer.from(sdp), contentType: 'application/sdp' }).result;
  assert.is(r.response.status, 488);
  assert.is(ended(b)!.reason, 'unsupported-media');
});

test('the call states are guarded: an edge not drawn throws', () => {
  const m = new StateMachine<CallState>('call', 'idle', CALL_EDGES);
  assert.throws(() => m.transition('connected'), (e: unknown) => e instanceof IllegalTransition);
  m.transition('ringing');
  assert.throws(() => m.transition('dialing'), (e: unknown) => e instanceof IllegalTransition);
  m.transition('connected');
  m.transition('ended');
  m.transition('idle');
});

test('--until call-ended: reached by a normal end, failed (with the reason) by any other, abandoned dialing ignored', () => {
  const base = { type: 'event' as const, step: 'call' as const, call: 'ended' as const, ms: 0, t: 0, message: 'x', direction: 'outgoing' as const, number: '1002', callId: 'c', connectedMs: 0, dtmfSent: '', dtmfReceived: '' };
  const done = { ...base, state: 'done' as const, reason: 'remote-hangup' as const } satisfies CallEvent;
  const refused = { ...base, state: 'fail' as const, reason: 'rejected' as const, status: 404 } satisfies CallEvent;
  const abandoned = { ...base, state: 'fail' as const, reason: 'abandoned' as const } satisfies CallEvent;
  assert.ok(reaches('call-ended', done as PhoneEvent));
  assert.not.ok(reaches('call-ended', refused as PhoneEvent));
  assert.match(fails('call-ended', refused as PhoneEvent) ?? '', /call to 1002 failed: rejected \(404\)/);
  assert.is(fails('call-ended', abandoned as PhoneEvent), undefined);
  assert.is(fails('registered', refused as PhoneEvent), undefined);
});

test('the menus still work: Settings on the home screen and in a menu digits choose, not dial', () => {
  const w = world();
  const a = w.phone('1001', '10.0.0.1');
  const b = w.phone('1002', '10.0.0.2');
  w.pair(a, '10.0.0.1', b, '10.0.0.2');
  a.press('settings', '5');
  assert.match(a.screen(), /Product info 1\/5/);
  assert.is(a.calls.state, 'idle');
  a.press('back', 'back');
  a.press('soft1');
  assert.match(a.screen(), /Settings\s+-+\s+>1 Trust list/, 'softkey 1 on the home screen is still Settings');
});

test.run();
