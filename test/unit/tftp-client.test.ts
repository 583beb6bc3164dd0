/**
 * The phone's TFTP client against servers nobody here wrote: tftpd-hpa (the reference Linux
 * server) and the npm `tftp` package's server (which the companion uses), on loopback.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dgram from 'node:dgram';
import { SystemClock } from '../../src/common/clock.ts';
import { NodeNetwork } from '../../src/phone/node-ports.ts';
import { type TftpClientOptions, tftpGet } from '../../src/phone/tftp-client.ts';
import tftp, { type TftpServer } from 'tftp';
import { Proc, freeUdpPort, needs } from '../support/proc.ts';

const network = new NodeNetwork();
const clock = new SystemClock();
const big = randomBytes(200_000);
let dir = '';
let hpa: Proc | undefined;
let hpaPort = 0;
let npmServer: TftpServer | undefined;
let npmPort = 0;
const signal = new AbortController().signal;

const opts = (port: number, extra: Partial<TftpClientOptions> = {}): TftpClientOptions => ({
  network, clock, port, request: { blksize: 1428, tsize: true, timeoutSecs: 1, windowsize: 4 }, retransmitMs: 500, retries: 4, maxBytes: 4 * 1024 * 1024, ...extra,
});

test.before(async () => {
  await needs('in.tftpd');
  dir = await mkdtemp(join(tmpdir(), 'sepi-tftp-'));
  await writeFile(join(dir, 'big.bin'), big);
  await writeFile(join(dir, 'exact.bin'), big.subarray(0, 1428 * 3));
  await writeFile(join(dir, 'empty.bin'), Buffer.alloc(0));
  hpaPort = await freeUdpPort();
  hpa = new Proc('tftpd-hpa', 'in.tftpd', ['--foreground', '--address', `127.0.0.1:${hpaPort}`, '--secure', dir, '--user', 'root']);
  npmPort = await freeUdpPort();
  // Its own file handler lets an ENOENT escape as an unhandled 'error': answer from memory.
  npmServer = tftp.createServer({ host: '127.0.0.1', port: npmPort, root: dir, denyPUT: true }, (req, res) => {
    req.on('error', () => {});
    if (req.file !== 'big.bin') return req.abort('File not found');
    res.setSize(big.length);
    res.end(big);
  });
  npmServer.on('error', () => {});
  await new Promise<void>((r) => (npmServer!.once('listening', () => r()), npmServer!.listen()));
  // in.tftpd needs a moment to bind; ask until it answers.
  for (let i = 0; i < 50; i++) {
    const r = await tftpGet(opts(hpaPort, { retries: 0, retransmitMs: 100 }), '127.0.0.1', 'empty.bin', signal);
    if (r.kind === 'file') break;
  }
});

test.after(async () => {
  await hpa?.stop();
  npmServer?.close();
  await network.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('tftpd-hpa: negotiates blksize and tsize, and the file arrives intact', async () => {
  const r = await tftpGet(opts(hpaPort), '127.0.0.1', 'big.bin', signal);
  assert.is(r.kind, 'file');
  if (r.kind !== 'file') return;
  assert.is(r.blksize, 1428);
  assert.ok(r.data.equals(big));
});

test('tftpd-hpa: a file of whole blocks ends with an empty block', async () => {
  const r = await tftpGet(opts(hpaPort), '127.0.0.1', 'exact.bin', signal);
  assert.ok(r.kind === 'file' && r.data.equals(big.subarray(0, 1428 * 3)));
});

test('tftpd-hpa: File not found (code 1) is "absent", not a failure', async () => {
  const r = await tftpGet(opts(hpaPort), '127.0.0.1', 'SEP001122334455.cnf.xml', signal);
  assert.is(r.kind, 'absent');
});

test('tftpd-hpa: refused options (error 8) fall back to plain RFC 1350', async () => {
  // 300 s is outside RFC 2349's 1..255, so tftpd-hpa answers ERROR 8.
  const r = await tftpGet(opts(hpaPort, { request: { blksize: 1428, timeoutSecs: 300 } }), '127.0.0.1', 'big.bin', signal);
  assert.is(r.kind, 'file');
  if (r.kind !== 'file') return;
  assert.is(r.optionsRefused, true);
  assert.is(r.blksize, 512);
  assert.ok(r.data.equals(big));
});

test('tftpd-hpa: no options at all, as a 79xx asks', async () => {
  const r = await tftpGet(opts(hpaPort, { request: {} }), '127.0.0.1', 'big.bin', signal);
  assert.ok(r.kind === 'file' && r.blksize === 512 && r.data.equals(big));
});

test('npm tftp server: windowsize 4 negotiated, file intact', async () => {
  const r = await tftpGet(opts(npmPort), '127.0.0.1', 'big.bin', signal);
  assert.is(r.kind, 'file');
  if (r.kind !== 'file') return;
  assert.is(r.windowsize, 4);
  assert.ok(r.data.equals(big));
  const absent = await tftpGet(opts(npmPort), '127.0.0.1', 'nope.xml', signal);
  assert.is(absent.kind, 'absent');
});

test('a file over the size limit is refused, via tsize before any data', async () => {
  const r = await tftpGet(opts(hpaPort, { maxBytes: 100_000 }), '127.0.0.1', 'big.bin', signal);
  assert.is(r.kind, 'failed');
  if (r.kind === 'failed') assert.match(r.message, /limit/);
  const plain = await tftpGet(opts(hpaPort, { maxBytes: 100_000, request: {} }), '127.0.0.1', 'big.bin', signal);
  assert.ok(plain.kind === 'failed' && /limit/.test(plain.message));
});

test('a silent server is a timeout, not a hang', async () => {
  const port = await freeUdpPort();
  const r = await tftpGet(opts(port, { retries: 2, retransmitMs: 100, request: {} }), '127.0.0.1', 'x', signal);
  assert.is(r.kind, 'timeout');
});

test('a hostile server cannot push a block larger than negotiated', async () => {
  const evil = dgram.createSocket('udp4');
  await new Promise<void>((r) => evil.bind(0, '127.0.0.1', () => r()));
  evil.on('message', (_m, from) => evil.send(Buffer.concat([Buffer.from([0, 3, 0, 1]), Buffer.alloc(4000, 0x41)]), from.port, from.address));
  const r = await tftpGet(opts(evil.address().port, { request: {} }), '127.0.0.1', 'x', signal);
  evil.close();
  assert.is(r.kind, 'failed');
  if (r.kind === 'failed') assert.match(r.message, /exceeds block size|malformed/);
});

test.run();
