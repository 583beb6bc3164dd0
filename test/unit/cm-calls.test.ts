/**
 * Calls routed by directory number through the companion (issue 10): two user agents of the
 * SIP core play phones, each registering over its own TCP connection with a Cisco Contact, and
 * one calls the other's DN. The companion is a B2BUA: each side sees its own dialog with the
 * companion, and everything the test checks arrives at the far side: 180, 200 and its SDP,
 * the ACK, BYE from either side, CANCEL (487 on both legs), re-INVITE, INFO, refusals. A third
 * UA takes a line the way a third-party SIP client does (no Cisco Contact, digest with the DN).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemClock } from '../../src/common/clock.ts';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import { Companion } from '../../src/cm/companion.ts';
import { loopbackConfig } from '../../src/cm/config.ts';
import { type Dialog, type DialogEnd, type IncomingInvite, type SipDestination, StreamTransport, UserAgent, nodeTcpSockets, toTag } from '../../src/sip/index.ts';
import { buildCiscoContact } from '../../src/wire/cisco-sip.ts';
import { MacAddress } from '../../src/wire/mac.ts';
import { type SipResponse, header, parseNameAddr } from '../../src/wire/sip.ts';

const clock = new SystemClock();
const calls = suite('calls routed by directory number');
let dir = '';
let companion: Companion;
let cm: SipDestination;
const lines: string[] = [];
const open: TestPhone[] = [];

const offer = (who: string) => new TextEncoder().encode(`v=0\r\no=${who} 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n`);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Resolves with the next value `set` is called with. */
function next<T>(): { promise: Promise<T>; set: (v: T) => void } {
  let set!: (v: T) => void;
  const promise = new Promise<T>((r) => (set = r));
  return { promise, set };
}

/** Waits for a condition the network will make true (bounded; the failure says what never came). */
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never: ${what}`);
}

class TestPhone {
  readonly dn: string;
  readonly ua: UserAgent;
  readonly tcp: StreamTransport;
  readonly invites: IncomingInvite[] = [];
  /** What to do with an INVITE; unset: leave it ringing. */
  onInvite: ((inv: IncomingInvite) => void | Promise<void>) | undefined;

  constructor(dn: string, ua: UserAgent, tcp: StreamTransport) {
    this.dn = dn;
    this.ua = ua;
    this.tcp = tcp;
    ua.onInvite = (inv) => {
      this.invites.push(inv);
      return this.onInvite?.(inv);
    };
  }

  /** A Cisco phone: registers with its device name and MAC in the Contact. */
  static async cisco(mac: string, dn: string): Promise<TestPhone> {
    const m = MacAddress.parse(mac)!;
    const p = await TestPhone.make(dn, (local) => buildCiscoContact({ user: dn, host: local.host, port: local.port, mac: m, modelCode: 683 }));
    const res = await p.register();
    assert.is(res.status, 200, `${dn} registers: ${res.status} ${res.reason}`);
    return p;
  }

  /** A third-party SIP client on a line: a plain Contact, digest with the DN and the line's password. */
  static async line(dn: string, password: string): Promise<TestPhone> {
    return TestPhone.make(dn, undefined, { username: dn, password });
  }

  private static async make(dn: string, contact?: (local: { host: string; port: number }) => string, credentials?: { username: string; password: string }): Promise<TestPhone> {
    const tcp = await StreamTransport.open({ sockets: nodeTcpSockets });
    const ua = new UserAgent({ transports: [tcp], clock, aor: `sip:${dn}@127.0.0.1`, defaultTransport: 'TCP', ...(contact ? { contact } : {}), ...(credentials ? { credentials } : {}) });
    const p = new TestPhone(dn, ua, tcp);
    open.push(p);
    return p;
  }

  register(): Promise<SipResponse> {
    // To is the address of record: the line's DN.
    return this.ua.request({ method: 'REGISTER', uri: 'sip:127.0.0.1', to: `<sip:${this.dn}@127.0.0.1>`, destination: cm, contact: true, headers: [['Expires', '3600']] });
  }

  call(dn: string, o: { onProvisional?: (r: SipResponse) => void } = {}) {
    return this.ua.invite({ uri: `sip:${dn}@127.0.0.1`, destination: cm, body: offer(`caller-of-${dn}`), contentType: 'application/sdp', ...o });
  }

  /** The next dialog end, with why. */
  ended(d: Dialog): Promise<DialogEnd> {
    return new Promise((r) => d.onEnd(r));
  }

  close(): Promise<void> {
    return this.ua.close();
  }
}

/** Answers with 180, then 200 and an SDP answer; resolves the dialog once the ACK came. */
function answering(p: TestPhone): Promise<Dialog> {
  const d = next<Dialog>();
  p.onInvite = async (inv) => {
    await inv.progress(180);
    d.set(await inv.accept({ body: offer('answer'), contentType: 'application/sdp' }));
  };
  return d.promise;
}

calls.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sepi-cm-calls-'));
  companion = new Companion({ dataDir: dir, config: loopbackConfig({ security: { mode: 'none' }, autoRegistration: { enabled: false }, sip: { maxCallsPerDevice: 2 } }), clock, log: (l) => lines.push(l) });
  await companion.start();
  cm = { transport: 'TCP', host: '127.0.0.1', port: companion.endpoints.sip! };
  expectOk(companion.phones.add({ mac: '0011223344A1', model: '8841', dn: '1001' }));
  expectOk(companion.phones.add({ mac: '0011223344A2', model: '8841', dn: '1002' }));
  expectOk(companion.phones.add({ mac: '0011223344A3', model: '8841', dn: '1003', password: 'line-secret' }));
  expectOk(companion.phones.add({ mac: '0011223344A4', model: '8841', dn: '1004' }));
  expectOk(companion.phones.add({ mac: '0011223344A5', model: '8841', dn: '1005' }));
});

calls.after.each(async () => {
  for (const p of open.splice(0)) await p.close();
  // The companion notices the connections went before the next test registers again.
  await until('the connections are gone', () => expectOk(companion.status.get()).registered === 0);
});

calls.after(async () => {
  await companion?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

calls('1001 calls 1002: 180, 200 with the callee\'s SDP, ACK at the callee, BYE from the caller ends both sides', async () => {
  const a = await TestPhone.cisco('0011223344A1', '1001');
  const b = await TestPhone.cisco('0011223344A2', '1002');
  const answered = answering(b);
  const provisional: number[] = [];
  const out = a.call('1002', { onProvisional: (r) => provisional.push(r.status) });
  const { response, dialog } = await out.result;
  assert.is(response.status, 200);
  assert.ok(provisional.includes(180), `the caller heard ringing: ${provisional}`);
  assert.is(text(response.body), text(offer('answer')), 'the callee\'s SDP reaches the caller unchanged');
  const inv = b.invites[0]!;
  assert.is(text(inv.request.body), text(offer('caller-of-1002')), 'the caller\'s SDP reaches the callee unchanged');
  assert.is(header(inv.request, 'content-type'), 'application/sdp');
  assert.is(parseNameAddr(header(inv.request, 'from')!)!.uri, 'sip:1001@127.0.0.1', 'the callee sees the caller\'s DN');
  assert.match(inv.request.uri, /^sip:1002@127\.0\.0\.1:\d+;transport=tcp$/, 'the INVITE goes to the callee\'s registered Contact');
  assert.is.not(header(inv.request, 'call-id'), header(out.request!, 'call-id'), 'a B2BUA: each leg has its own Call-ID');
  const bDialog = await answered; // accept() resolved: the ACK reached the callee
  assert.is(bDialog.state, 'confirmed');
  const bEnd = b.ended(bDialog);
  const bye = await a.ua.bye(dialog!);
  assert.is(bye.status, 200);
  assert.is(await bEnd, 'bye-received');
  await until('the call is logged as ended', () => lines.some((l) => /sip BYE SEP0011223344A1 .*call 1001 → 1002 ended: 1001 hung up/.test(l)));
});

calls('the callee hangs up: the caller gets the BYE', async () => {
  const a = await TestPhone.cisco('0011223344A1', '1001');
  const b = await TestPhone.cisco('0011223344A2', '1002');
  const answered = answering(b);
  const { response, dialog } = await a.call('1002').result;
  assert.is(response.status, 200);
  const aEnd = a.ended(dialog!);
  const bDialog = await answered;
  assert.is((await b.ua.bye(bDialog)).status, 200);
  assert.is(await aEnd, 'bye-received');
});

calls('unknown DN 404, a DN registered nowhere 480, a caller that did not register 403', async () => {
  const a = await TestPhone.cisco('0011223344A1', '1001');
  assert.is((await a.call('7777').result).response.status, 404);
  assert.is((await a.call('1004').result).response.status, 480);
  const stranger = await TestPhone.line('1005', 'nothing');
  const r = (await stranger.call('1001').result).response;
  assert.is(r.status, 403);
  assert.match(header(r, 'warning') ?? '', /Register before calling/);
  assert.is(a.invites.length, 0, 'nothing rang');
});

calls('the callee refuses: its status reaches the caller (486 Busy Here)', async () => {
  const a = await TestPhone.cisco('0011223344A1', '1001');
  const b = await TestPhone.cisco('0011223344A2', '1002');
  b.onInvite = (inv) => inv.reject(486);
  assert.is((await a.call('1002').result).response.status, 486);
});

calls('a device already in sip.maxCallsPerDevice calls (2 here) is busy: 486, and the calls that ring are untouched', async () => {
  const a = await TestPhone.cisco('0011223344A1', '1001');
  const b = await TestPhone.cisco('0011223344A2', '1002');
  b.onInvite = (inv) => inv.progress(180);
  const logged = lines.length;
  const ringing: Array<ReturnType<TestPhone['call']>> = [];
  for (let i = 0; i < 2; i++) {
    const rang = next<void>();
    ringing.push(a.call('1002', { onProvisional: (r) => r.status === 180 && rang.set() }));
    await rang.promise;
  }
  assert.is((await a.call('1002').result).response.status, 486);
  assert.is(b.invites.length, 2, 'the third call never reached the callee');
  for (const c of ringing) c.cancel();
  for (const c of ringing) assert.is((await c.result).response.status, 487);
  // The calls ended, so the device may call again.
  b.onInvite = (inv) => inv.reject(486);
  // Each call is over once the callee's leg has ended too (its 487 came back).
  await until('the companion counted the calls down', () => lines.slice(logged).filter((l) => /: 487 call 1001 → 1002: 487 Request Terminated/.test(l)).length >= 2);
  assert.is((await a.call('1002').result).response.status, 486);
  assert.is(b.invites.length, 3, 'this one reached the callee (and the callee said busy)');
});

calls('the caller cancels while it rings: 487 on both legs', async () => {
  const a = await TestPhone.cisco('0011223344A1', '1001');
  const b = await TestPhone.cisco('0011223344A2', '1002');
  const rang = next<IncomingInvite>();
  const cancelled = next<void>();
  b.onInvite = async (inv) => {
    inv.oncancel = () => cancelled.set();
    await inv.progress(180);
    rang.set(inv);
  };
  const ringing = next<void>();
  const out = a.call('1002', { onProvisional: (r) => r.status === 180 && ringing.set() });
  await ringing.promise;
  out.cancel();
  const { response } = await out.result;
  assert.is(response.status, 487, 'the caller\'s INVITE ends 487');
  await cancelled.promise;
  assert.is((await rang.promise).state, 'cancelled', 'the callee got a CANCEL and answered its INVITE 487');
  assert.is(b.invites[0]!.tx.lastResponse?.status, 487);
});

calls('a re-INVITE and an INFO cross to the other side and their answers come back', async () => {
  const a = await TestPhone.cisco('0011223344A1', '1001');
  const b = await TestPhone.cisco('0011223344A2', '1002');
  const answered = answering(b);
  const { dialog } = await a.call('1002').result;
  await answered;
  const reoffer = next<string>();
  b.ua.onReinvite = async (inv) => {
    reoffer.set(text(inv.request.body));
    await inv.accept({ body: offer('re-answer'), contentType: 'application/sdp' });
  };
  const infos: string[] = [];
  b.ua.onDialogRequest = (req) => {
    infos.push(`${req.request.method} ${header(req.request, 'content-type')} ${text(req.request.body)}`);
    req.respond(200);
  };
  const re = await a.ua.reinvite(dialog!, { body: offer('hold'), contentType: 'application/sdp' });
  assert.is(re.status, 200);
  assert.is(await reoffer.promise, text(offer('hold')));
  assert.is(text(re.body), text(offer('re-answer')));
  const info = await a.ua.requestInDialog(dialog!, 'INFO', { body: new TextEncoder().encode('Signal=5\r\nDuration=160\r\n'), contentType: 'application/dtmf-relay' });
  assert.is(info.status, 200);
  assert.equal(infos, ['INFO application/dtmf-relay Signal=5\r\nDuration=160\r\n']);
  await a.ua.bye(dialog!);
});

calls('the callee\'s connection drops mid-call: the caller gets a BYE, and a call on other connections goes on', async () => {
  const a = await TestPhone.cisco('0011223344A1', '1001');
  const b = await TestPhone.cisco('0011223344A2', '1002');
  const c = await TestPhone.cisco('0011223344A4', '1004');
  const d = await TestPhone.cisco('0011223344A5', '1005');
  const answered = answering(b);
  const { dialog } = await a.call('1002').result;
  await answered;
  const otherAnswered = answering(d);
  const other = await c.call('1005').result;
  const dDialog = await otherAnswered;
  const aEnd = a.ended(dialog!);
  await b.close();
  assert.is(await aEnd, 'bye-received');
  d.ua.onDialogRequest = (req) => req.respond(200);
  const info = await c.ua.requestInDialog(other.dialog!, 'INFO', { body: new TextEncoder().encode('Signal=1\r\nDuration=160\r\n'), contentType: 'application/dtmf-relay' });
  assert.is(info.status, 200, 'the other call still crosses the companion');
  const dEnd = d.ended(dDialog);
  assert.is((await c.ua.bye(other.dialog!)).status, 200);
  assert.is(await dEnd, 'bye-received', 'and ends by its own BYE');
});

calls('a third-party client takes a line with digest (DN and the line\'s password), and calls and is called on it', async () => {
  const wrong = await TestPhone.line('1003', 'not-it');
  assert.is((await wrong.register()).status, 401, 'a wrong password is refused');
  const nopass = await TestPhone.line('1001', '');
  assert.is((await nopass.register()).status, 401, 'a line without a password is never given to a third-party client');
  const soft = await TestPhone.line('1003', 'line-secret');
  const reg = await soft.register();
  assert.is(reg.status, 200);
  assert.is(header(reg, 'expires'), '120');
  const phone = await TestPhone.cisco('0011223344A1', '1001');
  const answered = answering(soft);
  const { response, dialog } = await phone.call('1003').result;
  assert.is(response.status, 200);
  assert.ok(toTag(response));
  await answered;
  await phone.ua.bye(dialog!);
  const back = answering(phone);
  const { response: r2, dialog: d2 } = await soft.call('1001').result;
  assert.is(r2.status, 200, 'and the other way');
  await back;
  await soft.ua.bye(d2!);
  assert.ok(lines.some((l) => /sip REGISTER SEP0011223344A3 .*: 200 1003 line registered/.test(l)), lines.join('\n'));
});

calls.run();
