/**
 * The companion's TFTP server with its file descriptors run out (issue 7: with the npm `tftp`
 * package, an EMFILE on a transfer had no listener and killed the whole companion). The server
 * runs in a child process under `prlimit --nofile`, so only a few transfer sockets can open;
 * forty clients ask at once. The ones that do not fit get ERROR 0 from the listening socket (it
 * needs no new descriptor) and a 'refused' log entry; the process stays up and, once the
 * transfers have run out, serves a file byte for byte again.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SystemClock } from '../../src/common/clock.ts';
import { NodeNetwork } from '../../src/phone/node-ports.ts';
import { tftpGet } from '../../src/phone/tftp-client.ts';
import { type TftpPacket, decodeTftp, encodeTftp } from '../../src/wire/tftp.ts';
import { Proc, needs } from '../support/proc.ts';

const SERVICE = pathToFileURL(join(import.meta.dirname, '../../src/cm/tftp-service.ts')).href;
/** Node itself holds about two dozen descriptors; this leaves room for a dozen transfers. */
const NOFILE = 40;
const CLIENTS = 40;
const SEED = 7;

// The child: one service, a file made from SEED (so the test knows its bytes), every log entry
// printed as a JSON line, limits out of the way so that only descriptors can run out.
const CHILD = `
const { TftpService } = await import(${JSON.stringify(SERVICE)});
const { createHash } = await import('node:crypto');
const data = Buffer.concat(Array.from({ length: 40 }, (_, i) => createHash('sha512').update('${SEED}:' + i).digest()));
const s = new TftpService({ lookup: (n) => (n === 'f.bin' ? { kind: 'file', data, contentType: '' } : { kind: 'absent' }) },
  (e) => console.log(JSON.stringify(e)), { maxTransfers: 1000, maxTransfersPerClient: 1000, retransmitMs: 300, retries: 1 });
console.log(JSON.stringify({ port: await s.start('127.0.0.1', 0) }));
`;

async function expectedFile(): Promise<Buffer> {
  const { createHash } = await import('node:crypto');
  return Buffer.concat(Array.from({ length: 40 }, (_, i) => createHash('sha512').update(`${SEED}:${i}`).digest()));
}

let child: Proc | undefined;

test.after(async () => {
  await child?.stop();
});

test(`${CLIENTS} transfers at once with ${NOFILE} descriptors: the extra ones refused, the process up, then a file served`, async () => {
  await needs('prlimit');
  child = new Proc('tftp-under-prlimit', 'prlimit', [`--nofile=${NOFILE}:${NOFILE}`, process.execPath, '--disable-warning=ExperimentalWarning', '--input-type=module', '-e', CHILD]);
  const portLine = await child.waitForLine(/^\{"port":\d+\}$/, 20_000);
  const port = (JSON.parse(portLine) as { port: number }).port;

  const socks = await Promise.all(Array.from({ length: CLIENTS }, () => new Promise<dgram.Socket>((r) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => r(s));
  })));
  const answers = await Promise.all(socks.map((s) => new Promise<TftpPacket | undefined>((resolve) => {
    const t = setTimeout(() => resolve(undefined), 3000);
    s.once('message', (m) => {
      clearTimeout(t);
      const d = decodeTftp(m);
      resolve(d.ok ? d.value : undefined);
    });
    s.send(encodeTftp({ op: 'RRQ', filename: 'f.bin', mode: 'octet', options: {} }), port, '127.0.0.1');
  })));
  for (const s of socks) s.close();

  const data = answers.filter((a) => a?.op === 'DATA').length;
  const refused = answers.filter((a) => a?.op === 'ERROR' && a.code === 0 && a.message === 'Out of resources, try again later').length;
  assert.ok(data > 0, `some transfers started: ${JSON.stringify(answers.map((a) => a?.op))}`);
  assert.ok(refused > 0, `some refused for want of descriptors: ${JSON.stringify(answers.map((a) => a?.op))}\n${child.tail()}`);
  assert.is(data + refused, CLIENTS, 'every client got an answer');
  assert.is(child.exitCode, undefined, `the process is up\n${child.tail()}`);
  const entries = () => child!.lines.filter((l) => l.startsWith('{"via"')).map((l) => JSON.parse(l) as { result: string });
  assert.is(entries().filter((e) => e.result === 'refused').length, refused, 'one refused entry per refusal');

  // The started transfers, never ACKed, run out after 300 ms and one retry; then a real fetch.
  await new Promise((r) => setTimeout(r, 1200));
  const network = new NodeNetwork();
  const r = await tftpGet({ network, clock: new SystemClock(), port, request: { blksize: 1428, windowsize: 4 }, retransmitMs: 300, retries: 3, maxBytes: 1 << 20 }, '127.0.0.1', 'f.bin', new AbortController().signal);
  await network.close();
  assert.ok(r.kind === 'file' && r.data.equals(await expectedFile()), JSON.stringify(r).slice(0, 200));
  assert.is(child.exitCode, undefined);
});

test.run();
