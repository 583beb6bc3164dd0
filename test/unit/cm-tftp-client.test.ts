/**
 * The phone's TFTP client (src/phone/tftp-client.ts) against the companion's TFTP server on
 * loopback: every window and block size a phone may negotiate, on the sizes where off-by-one
 * errors live (empty, a byte short of a block, exactly a block, a byte over, 1 MiB), byte for
 * byte; block numbers rolling over past 65535; netascii; and the answers that are not files.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { SystemClock } from '../../src/common/clock.ts';
import { type FileLogEntry } from '../../src/cm/file-services.ts';
import { TftpService, type TftpTransferEnd } from '../../src/cm/tftp-service.ts';
import { NodeNetwork } from '../../src/phone/node-ports.ts';
import { type TftpClientOptions, type TftpRequestOptions, tftpGet } from '../../src/phone/tftp-client.ts';
import { decodeTftp, encodeTftp } from '../../src/wire/tftp.ts';

const network = new NodeNetwork();
const clock = new SystemClock();
const signal = new AbortController().signal;
const SIZES = [0, 511, 512, 513, 1024 * 1024];
const files = new Map<string, Buffer>(SIZES.map((n) => [`f${n}.bin`, randomBytes(n)]));
// 65,540 blocks of 8 bytes: block numbers wrap past 65535 (to 0, as tftpd-hpa's do).
files.set('rollover.bin', randomBytes(8 * 65_540 + 3));
files.set('text.xml', Buffer.from('<a>\n<b>x\r</b>\n</a>\n', 'latin1'));
const log: FileLogEntry[] = [];
const ends: TftpTransferEnd[] = [];
const server = new TftpService(
  { lookup: (n) => (files.has(n) ? { kind: 'file', data: files.get(n)!, contentType: '' } : { kind: 'absent' }) },
  (e) => log.push(e),
  { onTransferEnd: (e) => ends.push(e) },
);
let port = 0;

const opts = (request: TftpRequestOptions): TftpClientOptions => ({ network, clock, port, request, retransmitMs: 500, retries: 4, maxBytes: 4 * 1024 * 1024 });

test.before(async () => {
  port = await server.start('127.0.0.1', 0);
});

test.after(async () => {
  await server.stop();
  await network.close();
});

test('the bound port is the kernel\'s choice when asked for port 0', () => {
  assert.ok(port > 0 && port !== 69);
});

for (const windowsize of [1, 4, 8]) {
  for (const blksize of [512, 1428]) {
    test(`windowsize ${windowsize}, blksize ${blksize}: files of ${SIZES.join(', ')} bytes arrive byte for byte`, async () => {
      for (const size of SIZES) {
        const r = await tftpGet(opts({ blksize, windowsize, tsize: true, timeoutSecs: 1 }), '127.0.0.1', `f${size}.bin`, signal);
        assert.is(r.kind, 'file', `${size} bytes: ${JSON.stringify(r).slice(0, 200)}`);
        if (r.kind !== 'file') return;
        assert.is(r.blksize, blksize);
        assert.is(r.windowsize, windowsize);
        assert.ok(r.data.equals(files.get(`f${size}.bin`)!), `${size} bytes intact`);
      }
    });
  }
}

test('no options at all (a 79xx): 512-byte blocks in lock step, no OACK', async () => {
  const r = await tftpGet(opts({}), '127.0.0.1', 'f513.bin', signal);
  assert.ok(r.kind === 'file' && r.blksize === 512 && r.windowsize === 1 && r.data.equals(files.get('f513.bin')!));
});

test('block numbers roll over past 65535 and the file still arrives intact', async () => {
  const r = await tftpGet(opts({ blksize: 8, windowsize: 16 }), '127.0.0.1', 'rollover.bin', signal);
  assert.ok(r.kind === 'file' && r.data.equals(files.get('rollover.bin')!), r.kind);
});

test('every completed transfer ended "done" and was logged once, with the file\'s size', async () => {
  // The client's last ACK may still be on its way when its tftpGet returns.
  for (let i = 0; i < 100 && server.activeTransfers > 0; i++) await new Promise((r) => setTimeout(r, 10));
  const done = ends.filter((e) => e.how === 'done');
  assert.is(done.length, ends.length, JSON.stringify(ends.filter((e) => e.how !== 'done')));
  assert.is(log.filter((e) => e.result === 'sent').length, ends.length);
  assert.equal(log.find((e) => e.name === 'f513.bin'), { via: 'tftp', name: 'f513.bin', from: '127.0.0.1', result: 'sent', bytes: 513 });
  assert.is(server.activeTransfers, 0);
});

test('an absent file is ERROR 1, which the client reads as "absent", logged once', async () => {
  const before = log.length;
  const r = await tftpGet(opts({ blksize: 1428 }), '127.0.0.1', 'SEP001122334455.cnf.xml', signal);
  assert.is(r.kind, 'absent');
  assert.equal(log.slice(before), [{ via: 'tftp', name: 'SEP001122334455.cnf.xml', from: '127.0.0.1', result: 'absent' }]);
});

test('netascii: LF goes as CR LF and a bare CR as CR NUL (RFC 764), tsize counts what is sent', async () => {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const got: Buffer[] = [];
  const done = new Promise<void>((resolve) => {
    sock.on('message', (m, from) => {
      got.push(m);
      const p = decodeTftp(m);
      if (p.ok && p.value.op === 'OACK') sock.send(encodeTftp({ op: 'ACK', block: 0 }), from.port, '127.0.0.1');
      if (p.ok && p.value.op === 'DATA') {
        sock.send(encodeTftp({ op: 'ACK', block: p.value.block }), from.port, '127.0.0.1');
        resolve();
      }
    });
  });
  sock.send(encodeTftp({ op: 'RRQ', filename: 'text.xml', mode: 'netascii', options: { tsize: '0' } }), port, '127.0.0.1');
  await done;
  sock.close();
  const oack = decodeTftp(got[0]!);
  const data = decodeTftp(got[1]!);
  const expected = Buffer.from('<a>\r\n<b>x\r\0</b>\r\n</a>\r\n', 'latin1');
  assert.equal(oack.ok && oack.value, { op: 'OACK', options: { tsize: String(expected.length) } });
  assert.ok(data.ok && data.value.op === 'DATA' && Buffer.from(data.value.data).equals(expected));
});

test.run();
