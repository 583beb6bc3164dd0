/**
 * Calls routed by directory number through the companion, between SIP implementations nobody
 * here wrote, on loopback (no root):
 *  - SIPp as a third-party client on line 1103 (digest with the DN and the line's password)
 *    calls SIPp playing a Cisco phone registered on DN 1102: 180, 200, ACK and BYE cross, and
 *    each side's SDP reaches the other byte for byte;
 *  - baresip on line 1104 calls the SIPp phone (dialled through its ctrl_tcp module) and hangs
 *    up; then SIPp on line 1103 calls baresip, which answers by itself.
 * The callee SIPp answers in an out-of-call scenario (the routed INVITE has its own Call-ID),
 * whose failures SIPp reports in its error file, not its exit code: the test reads that file and
 * SIPp's message log. Real time: deadlines only stop a broken build from hanging.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import { Companion } from '../../src/cm/companion.ts';
import { loopbackConfig } from '../../src/cm/config.ts';
import { Proc, freeTcpPort, needs } from '../support/proc.ts';
import { ROOT, tempDir } from '../support/sepi.ts';

const LO = '127.0.0.1';
const FIXTURES = join(ROOT, 'test/fixtures');
const peers = suite('calls through the companion between SIPp and baresip');
let dir = '';
let companion: Companion;
const lines: string[] = [];

peers.before(async () => {
  await needs('sipp');
  dir = await tempDir('cm-calls-peers');
  companion = new Companion({ dataDir: join(dir, 'cm'), config: loopbackConfig({ security: { mode: 'none' }, autoRegistration: { enabled: false } }), log: (l) => lines.push(l) });
  await companion.start();
  expectOk(companion.phones.add({ mac: '0011223344B2', model: '8841', dn: '1102' }));
  expectOk(companion.phones.add({ mac: '0011223344B3', model: '8841', dn: '1103', password: 'line-secret' }));
  expectOk(companion.phones.add({ mac: '0011223344B4', model: '8841', dn: '1104', password: 'line-secret' }));
});

peers.after(async () => {
  await companion?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000, more = () => ''): Promise<void> {
  for (let waited = 0; waited < ms; waited += 50) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never: ${what}\n${lines.slice(-15).join('\n')}\n${more()}`);
}

const registered = (device: string) => expectOk(companion.phones.show(device)).registered;

function sipp(name: string, args: string[]): Proc {
  return new Proc(`sipp-${name}`, 'sipp', [
    ...args, '-i', LO, '-p', '0', '-t', 't1', '-m', '1', '-nostdin',
    '-trace_err', '-error_file', join(dir, `${name}.err`), '-trace_msg', '-message_file', join(dir, `${name}.msg`),
    '-timeout', '60s', '-timeout_error', `${LO}:${companion.endpoints.sip}`,
  ]);
}

interface Logged {
  dir: 'sent' | 'received';
  start: string;
  cseq: string;
  body: string;
}

/** SIPp's message log, message by message. */
async function logged(name: string): Promise<Logged[]> {
  const text = await readFile(join(dir, `${name}.msg`), 'latin1').catch(() => '');
  return text.split(/^-{20,}.*$/m).flatMap((block): Logged[] => {
    const m = /message (sent|received)[^\n]*\n\n([\s\S]*)$/.exec(block);
    if (!m) return [];
    const msg = m[2]!.replace(/\s+$/, '');
    const i = msg.indexOf('\r\n\r\n');
    return [{ dir: m[1] as 'sent' | 'received', start: msg.split(/\r?\n/)[0]!, cseq: /^CSeq:\s*(.*)$/im.exec(msg)?.[1]?.trim() ?? '', body: i < 0 ? '' : msg.slice(i + 4).trim() }];
  });
}

/** What SIPp's error file says beyond its notice that an out-of-call scenario took the INVITE. */
async function sippErrors(name: string): Promise<string[]> {
  const text = await readFile(join(dir, `${name}.err`), 'utf8').catch(() => '');
  return text.split(/(?=\d{4}-\d\d-\d\d\t)/).map((s) => s.trim()).filter((s) => s && !/^The following events occurred:$/.test(s) && !/Received out-of-call INVITE message, using the out-of-call scenario$/.test(s));
}

/** SIPp playing a Cisco phone on DN 1102, answering what the companion routes to it; registered when this resolves. */
async function sippPhone(name: string): Promise<Proc> {
  await rm(join(dir, `${name}.msg`), { force: true });
  const p = sipp(name, ['-sf', join(FIXTURES, 'sipp-dn-callee.xml'), '-oocsf', join(FIXTURES, 'sipp-dn-callee-ooc.xml'), '-d', '60000']);
  await until('SIPp registered DN 1102', () => registered('SEP0011223344B2'));
  return p;
}

/** The callee answered the BYE: the call is over on its side. */
const byeAnswered = async (name: string) => (await logged(name)).some((m) => m.dir === 'sent' && m.start.startsWith('SIP/2.0 200') && / BYE$/.test(m.cseq));

peers('SIPp on line 1103 calls SIPp on DN 1102: 180, 200, ACK, BYE across, each SDP unchanged', async () => {
  const callee = await sippPhone('callee');
  try {
    const caller = sipp('caller', ['-sf', join(FIXTURES, 'sipp-dn-caller.xml'), '-s', '1102']);
    const code = await caller.exit(60_000);
    assert.is(code, 0, `the caller's scenario passed:\n${await readFile(join(dir, 'caller.err'), 'utf8').catch(() => '')}\n${caller.tail()}`);
    await until('the callee answered the BYE', () => byeAnswered('callee'));
    const [a, b] = [await logged('caller'), await logged('callee')];
    const sentInvite = a.find((m) => m.dir === 'sent' && m.start.startsWith('INVITE'))!;
    const gotInvite = b.find((m) => m.dir === 'received' && m.start.startsWith('INVITE'))!;
    assert.ok(gotInvite, 'the callee got an INVITE');
    assert.match(gotInvite.start, /^INVITE sip:1102@/);
    assert.is(gotInvite.body, sentInvite.body, 'the offer reached the callee unchanged');
    const sentAnswer = b.find((m) => m.dir === 'sent' && m.start.startsWith('SIP/2.0 200') && / INVITE$/.test(m.cseq))!;
    const gotAnswer = a.find((m) => m.dir === 'received' && m.start.startsWith('SIP/2.0 200') && / INVITE$/.test(m.cseq))!;
    assert.is(gotAnswer.body, sentAnswer.body, 'the answer reached the caller unchanged');
    assert.ok(a.some((m) => m.dir === 'received' && m.start.startsWith('SIP/2.0 180')), 'the caller heard the callee ring');
    assert.equal(b.filter((m) => m.dir === 'received').map((m) => m.start.split(' ')[0]), ['SIP/2.0', 'INVITE', 'ACK', 'BYE'], 'the callee got the 200 to its REGISTER, the INVITE, the ACK and the BYE');
    assert.equal(await sippErrors('callee'), []);
    assert.ok(lines.some((l) => /sip INVITE SEP0011223344B3 .*: 200 call 1103 → 1102: answered/.test(l)), lines.join('\n'));
    await until('the call is logged as ended', () => lines.some((l) => /call 1103 → 1102 ended: 1103 hung up/.test(l)));
  } finally {
    await callee.kill();
  }
});

/** baresip's ctrl_tcp: JSON commands in netstrings, events back the same way. */
class BaresipControl {
  readonly events: Array<Record<string, unknown>> = [];
  private buf = '';
  private readonly socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d) => {
      this.buf += d.toString('utf8');
      for (;;) {
        const m = /^(\d+):/.exec(this.buf);
        if (!m) break;
        const len = Number(m[1]);
        const start = m[0].length;
        if (this.buf.length < start + len + 1) break;
        this.events.push(JSON.parse(this.buf.slice(start, start + len)) as Record<string, unknown>);
        this.buf = this.buf.slice(start + len + 1);
      }
    });
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<BaresipControl> {
    await until('baresip listens for commands', () => new Promise<boolean>((r) => {
      const s = net.connect(port, LO, () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    }));
    const s = net.connect(port, LO);
    await new Promise((r) => s.once('connect', r));
    return new BaresipControl(s);
  }

  command(command: string, params = ''): void {
    const j = Buffer.from(JSON.stringify({ command, params, token: command }));
    this.socket.write(Buffer.concat([Buffer.from(`${j.length}:`), j, Buffer.from(',')]));
  }

  saw(type: string, direction = 'outgoing'): boolean {
    return this.events.some((e) => e['type'] === type && e['direction'] === direction);
  }

  close(): void {
    this.socket.destroy();
  }
}

peers('baresip on line 1104 calls the SIPp phone and hangs up; SIPp on line 1103 calls baresip, which answers', async () => {
  await needs('baresip');
  const cfg = join(dir, 'baresip');
  const [sipPort, ctrlPort] = [await freeTcpPort(), await freeTcpPort()];
  await rm(cfg, { recursive: true, force: true });
  await mkdir(cfg);
  // Headless: a 440 Hz sine as the microphone (ausine makes 48 kHz stereo), a WAV file as the speaker.
  await writeFile(join(cfg, 'config'), [
    'poll_method epoll', `sip_listen ${LO}:${sipPort}`, 'sip_transports tcp',
    'audio_source ausine,440', `audio_player aufile,${join(cfg, 'heard.wav')}`, 'audio_alert aufile,/dev/null',
    'ausrc_srate 48000', 'auplay_srate 48000', 'ausrc_channels 2', 'auplay_channels 2',
    'module_path /usr/lib/baresip/modules', 'module g711.so', 'module ausine.so', 'module aufile.so', 'module ctrl_tcp.so',
    'module_app account.so', 'module_app menu.so', `ctrl_tcp_listen ${LO}:${ctrlPort}`, '',
  ].join('\n'));
  await writeFile(join(cfg, 'accounts'), `<sip:1104@${LO}:${companion.endpoints.sip};transport=tcp>;auth_pass=line-secret;answermode=auto;regint=60\n`);
  const baresip = new Proc('baresip', 'baresip', ['-f', cfg]);
  const callee = await sippPhone('callee2');
  let ctrl: BaresipControl | undefined;
  try {
    await until('baresip registered line 1104', () => registered('SEP0011223344B4'));
    ctrl = await BaresipControl.connect(ctrlPort);
    ctrl.command('dial', `sip:1102@${LO}:${companion.endpoints.sip}`);
    await until('the SIPp phone got the ACK', async () => (await logged('callee2')).some((m) => m.dir === 'received' && m.start.startsWith('ACK')));
    await until('baresip says the call is established', () => ctrl!.saw('CALL_ESTABLISHED'));
    ctrl.command('hangup');
    await until('the SIPp phone answered the BYE', () => byeAnswered('callee2'));
    const got = (await logged('callee2')).find((m) => m.dir === 'received' && m.start.startsWith('INVITE'))!;
    assert.match(got.body, /m=audio \d+ RTP\/AVP/, 'baresip\'s offer reached the phone');
    // baresip offers its own address (its interface's, not the companion's): media goes phone to phone.
    assert.match(got.body, /^c=IN IP4 [\d.]+$/m, got.body);
    assert.match(got.body, /^a=rtpmap:0 PCMU\/8000$/m, got.body);
    assert.equal(await sippErrors('callee2'), []);
    assert.ok(lines.some((l) => /sip INVITE SEP0011223344B4 .*: 200 call 1104 → 1102: answered/.test(l)), lines.join('\n'));
    await until('the call is logged as ended', () => lines.some((l) => /call 1104 → 1102 ended: 1104 hung up/.test(l)));

    // The other way: SIPp on line 1103 calls 1104, baresip answers by itself.
    const caller = sipp('caller2', ['-sf', join(FIXTURES, 'sipp-dn-caller.xml'), '-s', '1104']);
    assert.is(await caller.exit(60_000), 0, `${await readFile(join(dir, 'caller2.err'), 'utf8').catch(() => '')}\n${caller.tail()}`);
    await until('baresip saw the call come and go', () => ['CALL_ESTABLISHED', 'CALL_CLOSED'].every((t) => ctrl!.events.some((e) => e['type'] === t && e['direction'] === 'incoming')), 20_000, () => JSON.stringify(ctrl!.events.map((e) => e['type'] ?? e)));
    const answer = (await logged('caller2')).find((m) => m.dir === 'received' && m.start.startsWith('SIP/2.0 200') && / INVITE$/.test(m.cseq))!;
    assert.match(answer.body, /m=audio \d+ RTP\/AVP 0/, 'baresip\'s answer reached SIPp (PCMU, as offered)');
    assert.ok(lines.some((l) => /call 1103 → 1104: answered/.test(l)), lines.join('\n'));
  } finally {
    ctrl?.close();
    await callee.kill();
    await baresip.kill();
  }
});

peers.run();
