/**
 * The companion's time comes from its Clock: on a VirtualClock a digest nonce goes stale, a
 * registration expires and an unanswered service-control NOTIFY gives up — in milliseconds of
 * real time, over a real TCP connection to the registrar.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from '../../src/common/clock.ts';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import { Companion } from '../../src/cm/companion.ts';
import { loopbackConfig } from '../../src/cm/config.ts';
import { buildCiscoContact } from '../../src/wire/cisco-sip.ts';
import { MacAddress } from '../../src/wire/mac.ts';
import { answerChallenge, parseDigestChallenge } from '../../src/wire/sip-digest.ts';
import { type SipMessage, type SipRequest, type SipResponse, SipStreamDecoder, encodeSip, header } from '../../src/wire/sip.ts';

const START = Date.UTC(2026, 10, 25, 12);
const MAC = MacAddress.parse('001122334455')!;
let dir = '';
let clock: VirtualClock;
let companion: Companion;

/** A phone's SIP connection, just enough of one: sends requests, collects what arrives. */
class SipLine {
  private readonly socket: net.Socket;
  private readonly decoder = new SipStreamDecoder();
  readonly received: SipMessage[] = [];
  private cseq = 0;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk) => {
      const r = this.decoder.push(chunk);
      if (r.ok) this.received.push(...r.value);
    });
  }

  static open(port: number): Promise<SipLine> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new SipLine(s)));
      s.once('error', reject);
    });
  }

  async register(authorization?: string): Promise<SipResponse> {
    const seq = ++this.cseq;
    const req: SipRequest = {
      kind: 'request', method: 'REGISTER', uri: 'sip:127.0.0.1', body: new Uint8Array(),
      headers: [
        ['Via', `SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK${seq}x`],
        ['From', '<sip:1001@127.0.0.1>;tag=f1'],
        ['To', '<sip:1001@127.0.0.1>'],
        ['Call-ID', '0011223344550001@127.0.0.1'],
        ['CSeq', `${seq} REGISTER`],
        ['Contact', buildCiscoContact({ user: '1001', host: '127.0.0.1', port: 5070, mac: MAC, modelCode: 683 })],
        ['Expires', '3600'],
        ...(authorization ? [['Authorization', authorization] as [string, string]] : []),
      ],
    };
    this.socket.write(encodeSip(req));
    return (await this.next((m) => m.kind === 'response' && header(m, 'cseq') === `${seq} REGISTER`)) as SipResponse;
  }

  async next(match: (m: SipMessage) => boolean): Promise<SipMessage> {
    for (let i = 0; i < 500; i++) {
      const m = this.received.find(match);
      if (m) return m;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('nothing arrived');
  }

  close(): void {
    this.socket.destroy();
  }
}

const answer = (challenge: SipResponse) => answerChallenge(parseDigestChallenge(header(challenge, 'www-authenticate')!)!, 'REGISTER', 'sip:127.0.0.1', '1001', 'secret', 'c0ffee');

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sepi-cm-clock-'));
  clock = new VirtualClock(START);
  companion = new Companion({ dataDir: dir, config: loopbackConfig({ security: { mode: 'none' } }), clock, log: () => {} });
  await companion.start();
  expectOk(companion.phones.add({ mac: MAC.hex, model: '8841', dn: '1001', password: 'secret' }));
});

test.after(async () => {
  await companion?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a nonce older than five minutes of virtual time is refused; a fresh one lets the phone in', async () => {
  const line = await SipLine.open(companion.endpoints.sip!);
  try {
    const first = await line.register();
    assert.is(first.status, 401);
    assert.is(header(first, 'date'), new Date(START).toUTCString(), 'the Date header is the clock\'s');
    await clock.advance(5 * 60_000 + 1);
    const stale = await line.register(answer(first));
    assert.is(stale.status, 401, 'the old nonce went stale');
    const ok = await line.register(answer(stale));
    assert.is(ok.status, 200);
    assert.is(header(ok, 'expires'), '120');
    const view = expectOk(companion.phones.show('001122334455'));
    assert.is(view.registered, true);
    assert.is(expectOk(companion.status.get()).registered, 1);
  } finally {
    line.close();
  }
});

test('a registration ends when its Expires has passed on the clock, and the uptime is the clock\'s', async () => {
  const line = await SipLine.open(companion.endpoints.sip!);
  try {
    const challenge = await line.register();
    assert.is((await line.register(answer(challenge))).status, 200);
    await clock.advance(119_000);
    assert.is(expectOk(companion.phones.show('SEP001122334455')).registered, true);
    await clock.advance(2_000);
    assert.is(expectOk(companion.phones.show('SEP001122334455')).registered, false);
    const s = expectOk(companion.status.get());
    assert.is(s.registered, 0);
    assert.is(s.uptimeSecs, Math.round((clock.now() - START) / 1000));
  } finally {
    line.close();
  }
});

test('a service-control NOTIFY nobody answers gives up after 10 s of virtual time', async () => {
  const line = await SipLine.open(companion.endpoints.sip!);
  try {
    const challenge = await line.register();
    assert.is((await line.register(answer(challenge))).status, 200);
    const pending = companion.phones.reset('00:11:22:33:44:55', { action: 'restart' });
    const notify = await line.next((m) => m.kind === 'request' && m.method === 'NOTIFY');
    assert.match(Buffer.from(notify.body).toString(), /action=restart/);
    await clock.advance(10_000);
    assert.equal(await pending, { kind: 'unavailable', message: 'SEP001122334455: no answer' });
  } finally {
    line.close();
  }
});

test.run();
