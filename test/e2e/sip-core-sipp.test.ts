/**
 * The SIP core against SIPp, an implementation nobody here wrote, on loopback:
 *  - SIPp's built-in `-sn uas` answers our UAC's INVITE/ACK/BYE, over UDP and over TCP;
 *  - SIPp's built-in `-sn uac` calls our UAS (180, 200 with SDP, its ACK, its BYE), UDP and TCP;
 *  - a SIPp UAS challenges our INVITE with 401 and checks our digest answer (`verifyauth`);
 *  - a SIPp UAC cancels after the 180: our 200 to the CANCEL, 487 to the INVITE, its ACK.
 * SIPp exits 0 only when every message it expected came, in order, with nothing unexpected;
 * our side checks what it saw. Real time (SystemClock): the deadlines only stop a broken build
 * from hanging, nothing asserts how long anything took.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SystemClock } from '../../src/common/clock.ts';
import { type Dialog, type DialogEnd, type IncomingInvite, StreamTransport, type Transport, UdpTransport, UserAgent, isLocalResponse, nodeTcpSockets, nodeUdpSockets } from '../../src/sip/index.ts';
import { header } from '../../src/wire/sip.ts';
import { Proc, freeTcpPort, freeUdpPort, needs } from '../support/proc.ts';
import { tempDir } from '../support/sepi.ts';

const LO = '127.0.0.1';
const SDP = Buffer.from('v=0\r\no=sepi 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n');

type Kind = 'udp' | 'tcp';

async function freePort(kind: Kind): Promise<number> {
  return kind === 'udp' ? freeUdpPort() : freeTcpPort();
}

/** Runs SIPp with logs in `dir`; `args` after the common ones. */
function sipp(dir: string, name: string, kind: Kind, port: number, args: string[]): Proc {
  return new Proc(`sipp-${name}`, 'sipp', [
    ...args, '-i', LO, '-p', String(port), '-t', kind === 'udp' ? 'u1' : 't1', '-m', '1', '-nostdin',
    '-trace_err', '-error_file', join(dir, `${name}.err`), '-trace_msg', '-message_file', join(dir, `${name}.msg`),
    '-timeout', '30s', '-timeout_error',
  ]);
}

async function sippReport(dir: string, name: string, p: Proc): Promise<string> {
  const err = await readFile(join(dir, `${name}.err`), 'utf8').catch(() => '');
  const msg = await readFile(join(dir, `${name}.msg`), 'utf8').catch(() => '');
  return `sipp errors:\n${err}\nsipp messages:\n${msg.slice(-4000)}\n${p.tail(10)}`;
}

/** The first lines (and CSeq) of what SIPp logged as received, in order: SIPp's uas takes the ACK as optional, so we look. */
async function sippReceived(dir: string, name: string): Promise<Array<{ start: string; cseq: string }>> {
  const log = await readFile(join(dir, `${name}.msg`), 'utf8').catch(() => '');
  return log.split(/message received \[\d+\] bytes :\r?\n\r?\n/).slice(1).map((m) => ({ start: m.split(/\r?\n/)[0]!, cseq: /^CSeq:\s*(.*)$/im.exec(m)?.[1]?.trim() ?? '' }));
}

async function ua(kind: Kind, o: { listen?: number; credentials?: { username: string; password: string } } = {}): Promise<UserAgent> {
  const t: Transport = kind === 'udp'
    ? await UdpTransport.bind(nodeUdpSockets, LO, o.listen ?? 0)
    : await StreamTransport.open({ sockets: nodeTcpSockets, ...(o.listen !== undefined ? { listen: { host: LO, port: o.listen } } : {}) });
  return new UserAgent({ transports: [t], clock: new SystemClock(), aor: `sip:sepi@${LO}`, userAgent: 'sepi-sip-core', ...(o.credentials ? { credentials: o.credentials } : {}) });
}

/** Over TCP SIPp may not listen yet when we call: a refused connection (local 503) is tried again. */
async function callUntilListening(u: UserAgent, uri: string, provisional: number[]) {
  for (let i = 0; ; i++) {
    const call = u.invite({ uri, onProvisional: (r) => provisional.push(r.status) });
    const r = await call.result;
    if (!(isLocalResponse(r.response) && r.response.status === 503) || i >= 50) return { call, ...r };
    await sleep(100);
  }
}

for (const kind of ['udp', 'tcp'] as const) {
  test(`our UAC calls SIPp -sn uas over ${kind.toUpperCase()}: 180, 200, our ACK, our BYE answered`, async () => {
    await needs('sipp');
    const dir = await tempDir('sip-core-sipp');
    const port = await freePort(kind);
    const peer = sipp(dir, 'uas', kind, port, ['-sn', 'uas']);
    const u = await ua(kind);
    try {
      const provisional: number[] = [];
      const { call, response, dialog } = await callUntilListening(u, `sip:service@${LO}:${port}${kind === 'tcp' ? ';transport=tcp' : ''}`, provisional);
      assert.is(response.status, 200, `${response.status} ${response.reason}\n${await sippReport(dir, 'uas', peer)}`);
      assert.equal(provisional.filter((s) => s > 100), [180]);
      assert.ok(dialog);
      assert.is(dialog.remoteTag, /tag=([^;>\s]+)/.exec(header(response, 'to')!)![1]);
      assert.match(dialog.remoteTarget, new RegExp(`^sip:${LO.replace(/\./g, '\\.')}:${port};transport=${kind}$`, 'i'));
      assert.match(header(call.request!, 'via')!, new RegExp(`^SIP/2\\.0/${kind.toUpperCase()} 127\\.0\\.0\\.1:\\d+;branch=z9hG4bK`));
      const bye = await u.bye(dialog);
      assert.is(bye.status, 200);
      assert.is(await peer.exit(30_000), 0, await sippReport(dir, 'uas', peer));
      const seq = /^(\d+)/.exec(header(call.request!, 'cseq')!)![1];
      assert.equal((await sippReceived(dir, 'uas')).map((m) => `${m.start.split(' ')[0]} ${m.cseq}`), [`INVITE ${seq} INVITE`, `ACK ${seq} ACK`, `BYE ${Number(seq) + 1} BYE`]);
      assert.is((await sippReceived(dir, 'uas'))[1]!.start, `ACK ${dialog.remoteTarget} SIP/2.0`, 'the ACK goes to the remote target');
    } finally {
      await peer.stop();
      await u.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test(`SIPp -sn uac calls our UAS over ${kind.toUpperCase()}: we ring, answer with SDP, get its ACK and its BYE`, async () => {
    await needs('sipp');
    const dir = await tempDir('sip-core-sipp');
    const ourPort = await freePort(kind);
    const u = await ua(kind, { listen: ourPort });
    let inv: IncomingInvite | undefined;
    const ended = new Promise<{ dialog: Dialog; why: DialogEnd }>((resolve, reject) => {
      u.onInvite = async (i) => {
        inv = i;
        try {
          await i.progress(180);
          const d = await i.accept({ body: SDP, contentType: 'application/sdp' });
          d.onEnd((why) => resolve({ dialog: d, why }));
        } catch (e) {
          reject(e);
        }
      };
    });
    const peer = sipp(dir, 'uac', kind, await freePort(kind), ['-sn', 'uac', `${LO}:${ourPort}`]);
    try {
      const { dialog, why } = await Promise.race([ended, peer.exit(30_000).then(async (c) => assert.unreachable(`sipp ended (${c}) before the BYE\n${await sippReport(dir, 'uac', peer)}`))]) as { dialog: Dialog; why: DialogEnd };
      assert.is(why, 'bye-received');
      assert.is(inv!.state, 'confirmed', 'the ACK came');
      assert.is(inv!.source.transport, kind.toUpperCase());
      assert.match(header(inv!.request, 'content-type') ?? '', /application\/sdp/);
      assert.is(dialog.remoteTarget, `sip:sipp@${LO}:${inv!.source.port}`, 'remote target from SIPp\'s Contact');
      assert.is(await peer.exit(30_000), 0, await sippReport(dir, 'uac', peer));
      assert.equal(u.dialogs, []);
    } finally {
      await peer.stop();
      await u.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
}

// A UAS that challenges the INVITE and checks the answer with SIPp's own digest code. A wrong
// answer takes the "bad" branch, which waits for a message that never comes: the call fails
// and SIPp exits non-zero.
const DIGEST_UAS = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="digest uas">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[
SIP/2.0 401 Unauthorized
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
WWW-Authenticate: Digest realm="sipp.test", nonce="[pid]n[call_number]x", algorithm=MD5
Content-Length: 0

]]></send>
  <recv request="ACK"/>
  <recv request="INVITE">
    <action>
      <verifyauth assign_to="authvalid" username="alice" password="s3cret"/>
    </action>
  </recv>
  <nop hide="true" test="authvalid" next="good"/>
  <send><![CDATA[
SIP/2.0 403 Forbidden
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <recv request="ACK"/>
  <recv request="MESSAGE" timeout="300"/>
  <label id="good"/>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
</scenario>
`;

for (const password of ['s3cret', 'wrong'] as const) {
  test(`SIPp challenges our INVITE with 401 and verifies the digest answer (${password === 's3cret' ? 'right' : 'wrong'} password)`, async () => {
    await needs('sipp');
    const dir = await tempDir('sip-core-sipp');
    await writeFile(join(dir, 'digest-uas.xml'), DIGEST_UAS);
    const port = await freePort('udp');
    const peer = sipp(dir, 'digest', 'udp', port, ['-sf', join(dir, 'digest-uas.xml')]);
    const u = await ua('udp', { credentials: { username: 'alice', password } });
    try {
      const { call, response, dialog } = await callUntilListening(u, `sip:service@${LO}:${port}`, []);
      if (password === 'wrong') {
        assert.is(response.status, 403, 'SIPp refused the wrong answer');
        assert.is(await peer.exit(30_000), 1, 'and counted the call as failed');
        return;
      }
      assert.is(response.status, 200, `${response.status} ${response.reason}\n${await sippReport(dir, 'digest', peer)}`);
      assert.match(header(call.request!, 'authorization') ?? '', /^Digest username="alice", realm="sipp\.test"/);
      await u.bye(dialog!);
      assert.is(await peer.exit(30_000), 0, await sippReport(dir, 'digest', peer));
    } finally {
      await peer.stop();
      await u.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
}

const CANCEL_UAC = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="cancel after ringing">
  <send retrans="500"><![CDATA[
INVITE sip:service@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:service@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:sipp@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <send><![CDATA[
CANCEL sip:service@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:service@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 CANCEL
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
  <recv response="487"/>
  <send><![CDATA[
ACK sip:service@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:service@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
  <pause milliseconds="200"/>
</scenario>
`;

test('a SIPp UAC cancels after our 180: 200 to the CANCEL, 487 to the INVITE, its ACK taken by our transaction', async () => {
  await needs('sipp');
  const dir = await tempDir('sip-core-sipp');
  await writeFile(join(dir, 'cancel-uac.xml'), CANCEL_UAC);
  const ourPort = await freePort('udp');
  const u = await ua('udp', { listen: ourPort });
  const cancelled = new Promise<IncomingInvite>((resolve) => {
    u.onInvite = (i) => {
      i.oncancel = () => resolve(i);
      void i.progress(180);
    };
  });
  const peer = sipp(dir, 'cancel', 'udp', await freePort('udp'), ['-sf', join(dir, 'cancel-uac.xml'), `${LO}:${ourPort}`]);
  try {
    const inv = await Promise.race([cancelled, peer.exit(30_000).then(async (c) => assert.unreachable(`sipp ended (${c}) first\n${await sippReport(dir, 'cancel', peer)}`))]) as IncomingInvite;
    assert.is(inv.state, 'cancelled');
    assert.is(await peer.exit(30_000), 0, await sippReport(dir, 'cancel', peer));
    // The ACK for the 487 moved the INVITE transaction to Confirmed (it ends after Timer I).
    assert.is(inv.tx.state, 'confirmed');
    assert.equal(u.dialogs, [], 'the early dialog is gone');
  } finally {
    await peer.stop();
    await u.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
