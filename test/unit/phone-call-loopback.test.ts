/**
 * Two whole phones (Handset, Firmware) call each other on 127.0.0.1 on the in-process harness
 * (VirtualClock, real sockets): they boot from the companion's files, register over TCP with a
 * call manager, and the call goes over those same connections. The call manager here is a
 * minimal B2BUA built in this test from src/sip (the registrar's REGISTER answered, an INVITE
 * routed by DN to the connection its phone registered from, bodies passed across, BYE and
 * CANCEL relayed): the companion's own routing is tested end to end in test/e2e/phone-call.
 * RTP runs over real UDP; the keypad is scripted, the screens read as text.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Clock } from '../../src/common/clock.ts';
import { type Dialog, type IncomingInvite, type SipSource, StreamTransport, UserAgent, nodeTcpSockets, uriOf } from '../../src/sip/index.ts';
import { header, parseSipUri } from '../../src/wire/sip.ts';
import type { StepEvent } from '../../src/phone/events.ts';
import { Harness, type HarnessPhone } from '../support/harness.ts';

/** The smallest call manager that routes: REGISTER binds a DN to its connection, INVITE goes there. */
class MiniB2bua {
  readonly bindings = new Map<string, SipSource>();
  readonly invites: string[] = [];
  readonly ua: UserAgent;
  readonly port: number;

  private constructor(ua: UserAgent, port: number) {
    this.ua = ua;
    this.port = port;
  }

  static async start(clock: Clock): Promise<MiniB2bua> {
    const tcp = await StreamTransport.open({ sockets: nodeTcpSockets, listen: { host: '127.0.0.1', port: 0 } });
    const ua = new UserAgent({ transports: [tcp], clock, aor: 'sip:cm@127.0.0.1', defaultTransport: 'TCP', userAgent: 'test-b2bua' });
    const b = new MiniB2bua(ua, tcp.listening!.port);
    ua.onRequest = (req) => {
      if (req.request.method !== 'REGISTER') return req.respond(req.request.method === 'OPTIONS' ? 200 : 405);
      const user = parseSipUri(uriOf(header(req.request, 'to')) ?? '')?.user ?? '';
      const keepAlive = header(req.request, 'expires') === '0';
      if (!keepAlive) b.bindings.set(user, req.source);
      req.respond(200, { headers: [['Contact', header(req.request, 'contact') ?? ''], ['Expires', keepAlive ? '0' : '3600']] });
    };
    ua.onInvite = (inv) => b.route(inv);
    return b;
  }

  private async route(inv: IncomingInvite): Promise<void> {
    const dn = parseSipUri(inv.request.uri)?.user ?? '';
    const caller = parseSipUri(uriOf(header(inv.request, 'from')) ?? '')?.user ?? 'unknown';
    this.invites.push(`${caller}->${dn}`);
    const to = this.bindings.get(dn);
    if (!to) return inv.reject(404);
    const out = this.ua.invite({
      uri: `sip:${dn}@127.0.0.1`, from: `<sip:${caller}@127.0.0.1>`, destination: { transport: 'TCP', host: to.host, port: to.port },
      body: inv.request.body, contentType: 'application/sdp',
      onProvisional: (r) => (r.status === 180 || r.status === 183) && void inv.progress(r.status).catch(() => {}),
    });
    inv.oncancel = () => out.cancel();
    const { response, dialog } = await out.result;
    if (!dialog) return inv.reject(response.status >= 300 ? response.status : 500);
    let inside: Dialog;
    try {
      inside = await inv.accept({ body: response.body, contentType: 'application/sdp' });
    } catch {
      return void this.ua.bye(dialog).catch(() => {});
    }
    // A BYE on either side ends the other.
    const relay = (from: Dialog, other: Dialog) => from.onEnd((why) => why === 'bye-received' && other.state !== 'terminated' && void this.ua.bye(other).catch(() => {}));
    relay(inside, dialog);
    relay(dialog, inside);
  }

  close(): Promise<void> {
    return this.ua.close();
  }
}

const calls = suite('two phones call each other through a call manager on loopback');
let h: Harness;
let cm: MiniB2bua;

calls.after.each(async () => {
  await h?.stop();
  await cm?.close();
});

type CallStep = Extract<StepEvent, { step: 'call' }>;
const callEvents = (p: HarnessPhone): CallStep[] => p.steps().filter((e): e is CallStep & { at: number } => e.step === 'call');
const isCall = (kind: string) => (e: StepEvent): e is CallStep => e.step === 'call' && e.call === kind;
const screen = (p: HarnessPhone) => p.handset.frame().rows.join('\n');

async function twoPhones(): Promise<[HarnessPhone, HarnessPhone]> {
  h = new Harness();
  cm = await MiniB2bua.start(h.clock);
  await h.dhcp.start();
  await h.startCompanion({
    security: { mode: 'none' }, callManagers: [{ host: '127.0.0.1', sipPort: cm.port, priority: 0 }],
    phones: [{ mac: '0011223344c1', model: '8841', dn: '1201' }, { mac: '0011223344c2', model: '8841', dn: '1202' }],
  });
  const a = h.phone('00:11:22:33:44:c1');
  const b = h.phone('00:11:22:33:44:c2');
  const registered = (e: StepEvent) => e.step === 'register' && e.state === 'done';
  await h.event(a, 'A registered', registered);
  await h.event(b, 'B registered', registered);
  return [a, b];
}

calls('dialed on the keypad, answered on the keypad, DTMF across, hung up by the caller: RTP both ways, nothing lost', async () => {
  const [a, b] = await twoPhones();
  assert.match(screen(a), /NewCa/, 'a registered phone offers NewCall');
  a.keypad.press('1', '2', '0', '2', 'soft1');
  await h.event(b, 'B rings', isCall('ringing'));
  assert.match(screen(b), /Incoming call\s+1201/);
  await h.event(a, 'A hears it ring', isCall('ringback'));
  assert.equal(cm.invites, ['1201->1202']);
  b.keypad.press('soft1');
  const connected = await h.event(a, 'A connected', isCall('connected'));
  await h.event(b, 'B connected', isCall('connected'));
  assert.ok(connected.call === 'connected' && connected.codec === 'PCMU' && connected.dtmf);
  await h.until('two seconds of call', () => h.clock.now() >= connected.at + 2000 || undefined);
  assert.match(screen(a), /Connected\s+1202\s+00:0[23] PCMU/);
  a.keypad.press('4', '2');
  await h.until('both digits at B', () => callEvents(b).filter((e) => e.call === 'dtmf' && e.dtmf === 'received').length === 2 || undefined);
  a.keypad.press('soft2');
  const endA = await h.event(a, 'A ended', isCall('ended'));
  const endB = await h.event(b, 'B ended', isCall('ended'));
  assert.ok(endA.call === 'ended' && endB.call === 'ended');
  if (endA.call !== 'ended' || endB.call !== 'ended') return;
  assert.equal([endA.state, endA.reason, endB.state, endB.reason], ['done', 'local-hangup', 'done', 'remote-hangup']);
  assert.is(endB.dtmfReceived, '42');
  for (const e of [endA, endB]) {
    assert.ok(e.rtp && e.rtp.sent >= 100 && e.rtp.received >= 100, JSON.stringify(e.rtp));
    assert.is(e.rtp?.lost, 0);
  }
  assert.match(screen(b), /Far end hung up\s+1201/);
  assert.ok(a.handset.status.registered && b.handset.status.registered, 'both still registered');
});

calls('a number nobody registered is refused, and the caller\'s screen says so', async () => {
  const [a] = await twoPhones();
  a.keypad.press('1', '9', '9', '9', 'soft1');
  const end = await h.event(a, 'A refused', isCall('ended'));
  assert.ok(end.call === 'ended' && end.state === 'fail' && end.reason === 'rejected' && end.status === 404);
  assert.match(screen(a), /Call refused\s+404 Not Found/);
});

calls.run();
