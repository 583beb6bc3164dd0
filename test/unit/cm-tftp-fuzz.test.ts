/**
 * fast-check against the companion's TFTP server over real sockets on loopback: random bytes,
 * mutated packets and requests with arbitrary options, sent to the listening port and to a live
 * transfer's port (from the client's own port and from a stranger's). Nothing may throw, nothing
 * may crash the service, and afterwards it still serves a file byte for byte.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { SystemClock } from '../../src/common/clock.ts';
import { TftpService } from '../../src/cm/tftp-service.ts';
import { NodeNetwork } from '../../src/phone/node-ports.ts';
import { tftpGet } from '../../src/phone/tftp-client.ts';
import { type TftpPacket, encodeTftp } from '../../src/wire/tftp.ts';

const FILE = randomBytes(40_000);
const uncaught: unknown[] = [];
const onUncaught = (e: unknown) => uncaught.push(e);
// Every client here is 127.0.0.1: the per-address limit would refuse the runs, not the bugs.
const server = new TftpService({ lookup: (n) => (n.toLowerCase() === 'f.bin' ? { kind: 'file', data: FILE, contentType: '' } : { kind: 'absent' }) }, () => {}, { maxTransfersPerClient: 10_000, maxTransfers: 10_000, retransmitMs: 200, retries: 1 });
let port = 0;
let client: dgram.Socket;
let stranger: dgram.Socket;

const bound = async () => {
  const s = dgram.createSocket('udp4');
  s.on('error', () => {});
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
};
const send = (s: dgram.Socket, b: Uint8Array, to: number) => new Promise<void>((r) => s.send(b, to, '127.0.0.1', () => r()));
const settle = () => new Promise((r) => setTimeout(r, 2));

/** Starts a transfer from `client` and resolves to its port (the server's transfer ID). */
function transferPort(options: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no answer to the RRQ')), 2000);
    client.once('message', (_m, from) => (clearTimeout(t), resolve(from.port)));
    client.send(encodeTftp({ op: 'RRQ', filename: 'f.bin', mode: 'octet', options }), port, '127.0.0.1');
  });
}

const OPTION_NAMES = ['blksize', 'tsize', 'timeout', 'windowsize', 'rollover', 'BLKSIZE', 'x'];
const optionValue = fc.oneof(fc.constantFrom('0', '1', '7', '8', '512', '65464', '65535', '99999999999', '-1', '', '0x10', ' 8'), fc.string({ maxLength: 12 }));
const options = fc.dictionary(fc.constantFrom(...OPTION_NAMES), optionValue, { maxKeys: 5 });
const names = fc.oneof(fc.constantFrom('f.bin', 'F.BIN', '../f.bin', '/f.bin', 'a/../../f.bin', 'x'.repeat(256)), fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\0')));
const packets: fc.Arbitrary<TftpPacket> = fc.oneof(
  fc.record({ op: fc.constantFrom('RRQ' as const, 'WRQ' as const), filename: names, mode: fc.constantFrom('octet', 'netascii', 'mail', 'OCTET'), options }),
  fc.record({ op: fc.constant('ACK' as const), block: fc.nat(65535) }),
  fc.record({ op: fc.constant('DATA' as const), block: fc.nat(65535), data: fc.uint8Array({ maxLength: 600 }) }),
  fc.record({ op: fc.constant('ERROR' as const), code: fc.nat(65535), message: fc.string({ maxLength: 30 }).filter((s) => !s.includes('\0')) }),
  fc.record({ op: fc.constant('OACK' as const), options }),
);
/** A valid packet with a few bytes changed, cut short or lengthened. */
const mutated = fc.tuple(packets, fc.array(fc.tuple(fc.nat(700), fc.nat(255)), { maxLength: 4 }), fc.option(fc.nat(700)), fc.uint8Array({ maxLength: 8 })).map(([p, edits, cut, tail]) => {
  const b = Buffer.from(encodeTftp(p));
  for (const [i, v] of edits) if (b.length > 0) b[i % b.length] = v;
  return Buffer.concat([cut === null ? b : b.subarray(0, cut), tail]);
});
const datagrams = fc.oneof(fc.uint8Array({ maxLength: 700 }), packets.map((p) => encodeTftp(p)), mutated);

test.before(async () => {
  process.on('uncaughtException', onUncaught);
  port = await server.start('127.0.0.1', 0);
  client = await bound();
  stranger = await bound();
});

test.after(async () => {
  process.off('uncaughtException', onUncaught);
  client.close();
  stranger.close();
  await server.stop();
});

test('random, well-formed and mutated datagrams to the listening port', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(datagrams, { minLength: 1, maxLength: 8 }), async (ds) => {
      for (const d of ds) await send(stranger, d, port);
      await settle();
      return uncaught.length === 0;
    }),
    { numRuns: 400 },
  );
  assert.equal(uncaught, []);
});

test('the same to a live transfer\'s port, from its client and from a stranger', async () => {
  await fc.assert(
    fc.asyncProperty(options, fc.array(fc.tuple(fc.boolean(), datagrams), { minLength: 1, maxLength: 8 }), async (asked, ds) => {
      const tid = await transferPort(asked);
      for (const [fromClient, d] of ds) await send(fromClient ? client : stranger, d, tid);
      await settle();
      // Done with this one, if the datagrams have not ended it already.
      await send(client, encodeTftp({ op: 'ERROR', code: 0, message: 'next run' }), tid);
      await settle();
      client.removeAllListeners('message');
      return uncaught.length === 0;
    }),
    { numRuns: 300 },
  );
  assert.equal(uncaught, []);
});

test('afterwards the server still serves the file byte for byte, and every transfer has ended', async () => {
  const network = new NodeNetwork();
  const r = await tftpGet({ network, clock: new SystemClock(), port, request: { blksize: 1428, windowsize: 8, tsize: true }, retransmitMs: 300, retries: 3, maxBytes: 1 << 20 }, '127.0.0.1', 'f.bin', new AbortController().signal);
  await network.close();
  assert.ok(r.kind === 'file' && r.data.equals(FILE), r.kind);
  // Transfers started by fuzzed RRQs run out on their own: 200 ms, one retry.
  for (let i = 0; i < 100 && server.activeTransfers > 0; i++) await new Promise((res) => setTimeout(res, 20));
  assert.is(server.activeTransfers, 0);
  assert.equal(uncaught, []);
});

test.run();
