/**
 * Hostile input, continuously (issue 7): every decoder of src/wire fed random bytes and mutated
 * valid messages (bit flips, truncation, insertion, repetition), and it must answer with a
 * value or a typed error — never throw anything else, never hang.
 *
 * In `make test` each codec gets a fixed number of runs from a fixed seed, so a failure
 * reproduces exactly (fast-check prints the seed and the path to the shrunk case). `make fuzz`
 * runs the same properties for SEPI_FUZZ_SECONDS each with a fresh seed, printed first.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { CapfCommand, CapfElement, byteValue, capfMessage, certificateValue, cstringValue, decodeCapf, encodeCapf, readCertificate, readCstring, readElements, readSha2Signed, readU16, sha2SignedValue } from '../../src/wire/capf.ts';
import { buildEncryptedConfig, openEncryptedConfig, parseEncryptedConfig } from '../../src/wire/enc-config.ts';
import { decodeRtp, decodeTelephoneEvent, encodeRtp, encodeTelephoneEvent } from '../../src/wire/rtp.ts';
import { answerAudio, parseSdp } from '../../src/wire/sdp.ts';
import { normalizeCode } from '../../src/wire/activation-code.ts';
import { parseFlatProfile, writeFlatProfile } from '../../src/wire/flat-profile.ts';
import { chooseAlternative, parseProfileRule, resolveUrl } from '../../src/wire/profile-rule.ts';
import { readTable } from '../../src/cm/bulk/csv.ts';
import { parseAlarmReason, parseCiscoContacts, parseServiceControl } from '../../src/wire/cisco-sip.ts';
import { parsePhoneConfig, writeXmlDefault } from '../../src/wire/cnf-xml.ts';
import { decodeDhcp, encodeDhcp, readIpList, readMessageType, readText, readU32 } from '../../src/wire/dhcp.ts';
import { WireError } from '../../src/wire/result.ts';
import { parseDigestAnswer, parseDigestChallenge } from '../../src/wire/sip-digest.ts';
import { SipStreamDecoder, decodeSip, encodeSip } from '../../src/wire/sip.ts';
import { decodeTftp, encodeTftp } from '../../src/wire/tftp.ts';
import { Role, parseSignedFile, parseTrustList } from '../../src/wire/tlv.ts';
import { readTar, writeTar } from '../../src/wire/tar.ts';
import { decodeTvs, encodeTvs } from '../../src/wire/tvs.ts';
import { makeCert, record, signedBy } from '../support/certs.ts';

const SECONDS = Number(process.env['SEPI_FUZZ_SECONDS'] ?? 0);
const SEED = process.env['SEPI_FUZZ_SEED'] !== undefined ? Number(process.env['SEPI_FUZZ_SEED']) : SECONDS ? Date.now() % 2 ** 31 : 0x5e91;
const RUNS = Number(process.env['SEPI_FUZZ_RUNS'] ?? 5000);
if (SECONDS) process.stdout.write(`fuzz: seed ${SEED}, ${SECONDS} s per codec\n`);

const settings = (): fc.Parameters<[Uint8Array]> =>
  SECONDS ? { seed: SEED, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: SECONDS * 1000, markInterruptAsFailure: false } : { seed: SEED, numRuns: RUNS };

/** Random bytes, and valid samples damaged the ways a wire damages them. */
function hostile(samples: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const sample = fc.constantFrom(...samples);
  const flip = fc.tuple(sample, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 })).map(([s, edits]) => {
    const b = Uint8Array.from(s);
    for (const [i, v] of edits) if (b.length) b[i % b.length] = v;
    return b;
  });
  const cut = fc.tuple(sample, fc.nat()).map(([s, n]) => s.subarray(0, s.length ? n % s.length : 0));
  const insert = fc.tuple(sample, fc.nat(), fc.uint8Array({ maxLength: 64 })).map(([s, at, junk]) => {
    const i = s.length ? at % s.length : 0;
    return Uint8Array.from([...s.subarray(0, i), ...junk, ...s.subarray(i)]);
  });
  const repeat = fc.tuple(sample, fc.integer({ min: 2, max: 4 })).map(([s, n]) => Uint8Array.from(Array.from({ length: n }, () => [...s]).flat()));
  return fc.oneof(fc.uint8Array({ maxLength: 1500 }), flip, cut, insert, repeat);
}

/** Runs `decode` on hostile input: a WireError or a value is fine, anything else is a bug. */
function survives(name: string, samples: Uint8Array[], decode: (b: Uint8Array) => unknown): void {
  test(`${name}: random and damaged input gives a value or a typed error`, () => {
    for (const s of samples) decode(s); // the samples themselves are fine
    fc.assert(
      fc.property(hostile(samples), (b) => {
        try {
          decode(b);
        } catch (e) {
          if (e instanceof WireError) return;
          throw e;
        }
      }),
      settings(),
    );
  });
}

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');
const dhcpSample = encodeDhcp({
  op: 1, htype: 1, hlen: 6, hops: 0, xid: 0x1234, secs: 0, flags: 0x8000, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
  chaddr: Uint8Array.of(0, 0x11, 0x22, 0x33, 0x44, 0x55), sname: '', file: '',
  options: new Map<number, Uint8Array>([[53, Uint8Array.of(1)], [55, Uint8Array.of(1, 3, 6, 15, 66, 150, 50, 52, 53, 55, 56, 60, 61, 80, 116, 145)], [60, Buffer.from('Cisco Systems, Inc. IP Phone CP-8841')]]),
});
survives('DHCP', [dhcpSample], (b) => {
  const d = decodeDhcp(b);
  if (d.ok) for (const read of [readMessageType, (m: typeof d.value) => readIpList(m, 150), (m: typeof d.value) => readText(m, 66), (m: typeof d.value) => readU32(m, 51)]) read(d.value);
});

survives('TFTP', [
  encodeTftp({ op: 'RRQ', filename: 'SEP001122334455.cnf.xml', mode: 'octet', options: { blksize: '1428', tsize: '0', windowsize: '4' } }),
  encodeTftp({ op: 'DATA', block: 1, data: Buffer.alloc(512, 0x41) }),
  encodeTftp({ op: 'ERROR', code: 1, message: 'File not found' }),
], (b) => decodeTftp(b));

const register = encodeSip({
  kind: 'request', method: 'REGISTER', uri: 'sip:10.0.0.1', body: Buffer.from('hello'),
  headers: [['Via', 'SIP/2.0/TCP 10.0.0.9:5060;branch=z9hG4bK1'], ['From', '<sip:1001@10.0.0.1>;tag=1'], ['To', '<sip:1001@10.0.0.1>'], ['Call-ID', 'a@b'], ['CSeq', '1 REGISTER'],
    ['Contact', '<sip:x@10.0.0.9:5060;transport=tcp>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-001122334455>";+u.sip!devicename.ccm.cisco.com="SEP001122334455";expires=3600'],
    ['Authorization', 'Digest username="1001", realm="sepi", nonce="n", uri="sip:10.0.0.1", response="0123456789abcdef0123456789abcdef", qop=auth, nc=00000001, cnonce="c"'],
    ['Reason', 'SIP;cause=200;text="cisco-alarm:23 Name=SEP001122334455 ActiveLoad=x Last=power-on"'], ['Content-Length', '5']],
});
survives('SIP message', [register], (b) => {
  const d = decodeSip(b);
  if (d.ok) for (const [, v] of d.value.headers) (parseCiscoContacts(v), parseDigestAnswer(v), parseDigestChallenge(v), parseAlarmReason(v));
});
survives('SIP over TCP, in random chunks', [register], (b) => {
  const dec = new SipStreamDecoder();
  for (let i = 0; i < b.length; i += 1 + (b[i]! % 97)) if (!dec.push(b.subarray(i, i + 1 + (b[i]! % 97))).ok) break;
});
survives('service-control body', [Buffer.from('action=reset\r\nRegisterCallId={a@b}\r\nConfigVersionStamp={x}\r\n')], (b) => parseServiceControl(text(b)));

survives('TVS', [encodeTvs({ kind: 'verify-request', session: 7, deviceName: 'CP-8841-SEP001122334455', certificate: Buffer.alloc(300, 3) })], (b) => decodeTvs(b));

const cert = makeCert('fuzz', 1024);
const itl = signedBy(cert, 'ITLFile.tlv', Buffer.concat([record(cert, Role.SAST), record(cert, Role.TFTP)]));
survives('signed files and trust lists (TLV)', [itl], (b) => (parseSignedFile(b), parseTrustList(b)));

const capfSample = encodeCapf(capfMessage(CapfCommand.AUTH_RESPONSE, 3, [
  [CapfElement.REASON, byteValue(1)], [CapfElement.VERSION, byteValue(3)], [CapfElement.DEVICE_NAME, cstringValue('SEP001122334455')],
  [CapfElement.CERTIFICATE, certificateValue(Buffer.alloc(200, 5))], [CapfElement.SHA2_SIGNED_DATA, sha2SignedValue(3, Buffer.alloc(128, 9))],
]));
survives('CAPF', [capfSample], (b) => {
  const d = decodeCapf(b);
  if (d.ok) readElements(() => (readCstring(d.value, CapfElement.DEVICE_NAME, 'device name'), readCertificate(d.value), readSha2Signed(d.value), readU16(d.value, CapfElement.KEY_SIZE, 'key size')));
});

const encSample = buildEncryptedConfig({
  plain: Buffer.from('<device><fullConfig>true</fullConfig></device>'), filename: 'SEP001122334455.cnf.xml.enc.sgn',
  signer: { name: 'CN=fuzz', serial: Uint8Array.of(1), issuer: 'CN=fuzz', modulusBytes: 128 }, digest: 'sha1', timestamp: 1,
  wrapKey: (k) => Buffer.concat([Buffer.from(k), Buffer.alloc(112)]), sign: () => Buffer.alloc(128, 1),
});
survives('encrypted configuration (.enc.sgn)', [encSample], (b) => {
  const e = parseEncryptedConfig(b);
  if (e.ok) openEncryptedConfig(e.value, (w) => w.subarray(0, 16));
});

const rtpSample = encodeRtp({ marker: true, payloadType: 0, sequence: 7, timestamp: 160, ssrc: 0x1234, csrcs: [1, 2], payload: Buffer.alloc(160, 0xff), padding: 4 });
survives('RTP and RFC 4733 events', [rtpSample, encodeRtp({ marker: false, payloadType: 101, sequence: 8, timestamp: 320, ssrc: 1, csrcs: [], payload: encodeTelephoneEvent({ event: 5, end: true, volume: 10, duration: 800 }), padding: 0 })], (b) => {
  const d = decodeRtp(b);
  if (d.ok) decodeTelephoneEvent(d.value.payload);
});

const sdpSample = Buffer.from('v=0\r\no=Cisco-SIPUA 1 0 IN IP4 10.0.0.5\r\ns=SIP Call\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n');
survives('SDP (text)', [sdpSample], (b) => {
  const d = parseSdp(text(b));
  if (d.ok) answerAudio(d.value, { address: '10.0.0.9', port: 30000, sessionId: '1', codecs: ['PCMU', 'PCMA'], telephoneEvent: true });
});

survives('activation codes (typed text)', [Buffer.from('4729-1803-6551-2287')], (b) => normalizeCode(text(b)));

survives('CSV (BAT insert)', [Buffer.from('MAC ADDRESS,DESCRIPTION,DIRECTORY NUMBER 1\r\n,"desk, 1",1901\r\n00:11:22:33:44:55,desk 2,1902\r\n')], (b) => readTable(text(b), [], ['MAC ADDRESS', 'DESCRIPTION', 'DIRECTORY NUMBER 1']));

const flatSample = writeFlatProfile([['Profile_Rule', { value: 'https://prov.lab/$PSN/$MA.xml', ua: 'na' }], ['Proxy_1_', { value: '10.0.0.1' }]], { gzip: true });
survives('flat profiles (gzip, XML)', [flatSample, Buffer.from('<flat-profile><Resync_Periodic ua="rw">7200</Resync_Periodic></flat-profile>')], (b) => parseFlatProfile(b));

survives('Profile_Rule', [Buffer.from('($PRVTMR ge 600)? http://p.tel.com/has-reg.cfg | [--post a] http://p.tel.com/lost-reg?'), Buffer.from('[--key MyOwnSecret] tftp://192.168.1.200/basic.cfg')], (b) => {
  const r = parseProfileRule(text(b));
  if (r.ok) {
    const chosen = chooseAlternative(r.value, { PRVTMR: '700', MA: '001122334455' });
    if (chosen?.url) resolveUrl(chosen.url, { option66: '10.0.0.1' });
  }
});

survives('configuration files (XML)', [Buffer.from(writeXmlDefault({ callManagers: [{ priority: 0, host: '10.0.0.1', sipPort: 5060, securedSipPort: 5061, ethernetPhonePort: 2000 }], tvs: [], loads: [] }))], (b) => parsePhoneConfig(b));

// A load's runtime package (src/phone/bank-runtime.ts): a long name (GNU L), an executable, a folder.
const longName = `package/${'n'.repeat(120)}.md`;
const tarSample = writeTar([
  { name: 'package/bin/node', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
  { name: '././@LongLink', type: 'L', data: Buffer.from(`${longName}\0`) },
  { name: longName.slice(0, 100), data: Buffer.alloc(700, 0x61) },
]);
survives('tar (a load\'s runtime package)', [tarSample], (b) => readTar(b, { maxFileBytes: 1 << 20, maxEntries: 64 }));

test('the fuzz settings are what make test promises: seeded and bounded', () => {
  assert.ok(SECONDS > 0 || (Number.isInteger(SEED) && RUNS > 0 && RUNS < 100_000));
});

test.run();
