/**
 * The companion's TFTP server seen datagram by datagram on loopback, from a hand-driven client:
 * option negotiation (RFC 2347/2348/2349/7440), transfer IDs (RFC 1350), the sorcerer's
 * apprentice (RFC 1123 §4.2.3.1), windows restarting after the last ACK, retransmission on a
 * virtual clock, refusals and limits with their log entries.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { VirtualClock } from '../../src/common/clock.ts';
import type { FileLogEntry, FileSource } from '../../src/cm/file-services.ts';
import { TftpService, type TftpServiceOptions, type TftpTransferEnd } from '../../src/cm/tftp-service.ts';
import { type TftpPacket, decodeTftp, encodeTftp } from '../../src/wire/tftp.ts';

const FILE = randomBytes(512 * 10); // ten full blocks, then an empty eleventh
const source: FileSource = { lookup: (n) => (n === 'f.bin' ? { kind: 'file', data: FILE, contentType: '' } : n === 'boom' ? thrown() : { kind: 'absent' }) };
const thrown = (): never => {
  throw new Error('database is locked');
};

interface Got {
  p: TftpPacket | undefined;
  port: number;
}

/** What a test opened, closed after it whether it passed or not (an open socket keeps the process alive). */
const opened: Array<() => unknown> = [];

test.after.each(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

/** A client socket whose datagrams queue until read. */
class Raw {
  private readonly sock = dgram.createSocket('udp4');
  private readonly queue: Got[] = [];
  private waiter: (() => void) | undefined;

  static async open(address = '127.0.0.1'): Promise<Raw> {
    const r = new Raw();
    await new Promise<void>((ok) => r.sock.bind(0, address, () => ok()));
    opened.push(() => r.close());
    r.sock.on('message', (m, from) => {
      const d = decodeTftp(m);
      r.queue.push({ p: d.ok ? d.value : undefined, port: from.port });
      r.waiter?.();
    });
    return r;
  }

  send(p: TftpPacket | Buffer, port: number): void {
    this.sock.send(Buffer.isBuffer(p) ? p : encodeTftp(p), port, '127.0.0.1');
  }

  async next(ms = 1000): Promise<Got | undefined> {
    const end = Date.now() + ms;
    while (this.queue.length === 0 && Date.now() < end) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, end - Date.now());
        this.waiter = () => (clearTimeout(t), r());
      });
    }
    return this.queue.shift();
  }

  /** Everything that arrives within ms. */
  async drain(ms = 150): Promise<Got[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.queue.splice(0);
  }

  private closed = false;

  close(): void {
    if (!this.closed) this.sock.close();
    this.closed = true;
  }
}

async function serve(o: TftpServiceOptions = {}): Promise<{ server: TftpService; port: number; log: FileLogEntry[]; ends: TftpTransferEnd[] }> {
  const log: FileLogEntry[] = [];
  const ends: TftpTransferEnd[] = [];
  const server = new TftpService(source, (e) => log.push(e), { onTransferEnd: (e) => ends.push(e), ...o });
  opened.push(() => server.stop());
  return { server, port: await server.start('127.0.0.1', 0), log, ends };
}

const rrq = (filename: string, options: Record<string, string> = {}, mode = 'octet'): TftpPacket => ({ op: 'RRQ', filename, mode, options });
const blocks = (got: Got[]) => got.map((g) => (g.p?.op === 'DATA' ? g.p.block : `${g.p?.op}`));

test('options: blksize lowered to 1468, tsize answered, timeout echoed, windowsize capped at 64, unknown ones left out', async () => {
  const { server, port } = await serve();
  const c = await Raw.open();
  c.send(rrq('f.bin', { blksize: '65535', tsize: '0', timeout: '3', windowsize: '1000', rollover: '0', foo: 'bar' }), port);
  const first = await c.next();
  assert.equal(first?.p, { op: 'OACK', options: { blksize: '1468', tsize: String(FILE.length), timeout: '3', windowsize: '64' } });
  c.send({ op: 'ACK', block: 0 }, first!.port);
  const data = await c.drain();
  assert.equal(blocks(data), [1, 2, 3, 4], 'the whole file (5120 bytes) in one window of 1468-byte blocks');
  c.close();
  await server.stop();
});

test('options out of range are ignored; with none accepted there is no OACK, DATA 1 answers the RRQ', async () => {
  const { server, port } = await serve();
  const c = await Raw.open();
  c.send(rrq('f.bin', { blksize: '4', timeout: '0', windowsize: '0', tsize: 'lots', utimeout: '5000' }), port);
  const first = await c.next();
  assert.ok(first?.p?.op === 'DATA' && first.p.block === 1 && first.p.data.length === 512, JSON.stringify(first?.p).slice(0, 100));
  c.close();
  await server.stop();
});

test('a packet from another port or address gets ERROR 5 from the transfer port and changes nothing', async () => {
  const { server, port } = await serve();
  const c = await Raw.open();
  c.send(rrq('f.bin'), port);
  const first = await c.next();
  const tid = first!.port;
  assert.is.not(tid, port, 'the transfer has a port of its own');
  for (const address of ['127.0.0.1', '127.0.0.2']) {
    const stranger = await Raw.open(address);
    stranger.send({ op: 'ACK', block: 1 }, tid);
    const answer = await stranger.next();
    assert.equal(answer, { p: { op: 'ERROR', code: 5, message: 'Unknown transfer ID' }, port: tid });
    // An error is never answered with an error.
    stranger.send({ op: 'ERROR', code: 0, message: 'x' }, tid);
    assert.equal(await stranger.drain(), []);
    stranger.close();
  }
  assert.equal(await c.drain(), [], 'the stranger\'s ACK 1 sent nothing to the client');
  c.send({ op: 'ACK', block: 1 }, tid);
  assert.equal(blocks([(await c.next())!]), [2]);
  c.close();
  await server.stop();
});

test('duplicate ACKs send nothing: no sorcerer\'s apprentice (RFC 1123 §4.2.3.1)', async () => {
  const { server, port } = await serve();
  const c = await Raw.open();
  c.send(rrq('f.bin'), port);
  const tid = (await c.next())!.port;
  for (let i = 0; i < 3; i++) c.send({ op: 'ACK', block: 1 }, tid);
  assert.equal(blocks(await c.drain()), [2], 'one DATA 2 for three ACK 1');
  c.send({ op: 'ACK', block: 1 }, tid);
  c.send({ op: 'ACK', block: 0 }, tid);
  c.send({ op: 'ACK', block: 7 }, tid); // never sent: ignored
  assert.equal(await c.drain(), []);
  c.close();
  await server.stop();
});

test('windowsize 4: each window starts after the last ACKed block, the last block is empty for a multiple of blksize', async () => {
  const { server, port, ends } = await serve();
  const c = await Raw.open();
  c.send(rrq('f.bin', { windowsize: '4' }), port);
  const oack = (await c.next())!;
  assert.equal(oack.p, { op: 'OACK', options: { windowsize: '4' } });
  c.send({ op: 'ACK', block: 0 }, oack.port);
  assert.equal(blocks(await c.drain()), [1, 2, 3, 4]);
  c.send({ op: 'ACK', block: 2 }, oack.port); // blocks 3 and 4 lost
  assert.equal(blocks(await c.drain()), [3, 4, 5, 6]);
  c.send({ op: 'ACK', block: 6 }, oack.port);
  assert.equal(blocks(await c.drain()), [7, 8, 9, 10]);
  c.send({ op: 'ACK', block: 10 }, oack.port);
  const last = await c.drain();
  assert.ok(last.length === 1 && last[0]!.p?.op === 'DATA' && last[0]!.p.block === 11 && last[0]!.p.data.length === 0);
  c.send({ op: 'ACK', block: 11 }, oack.port);
  await c.drain(50);
  assert.equal(ends.map((e) => e.how), ['done']);
  assert.is(server.activeTransfers, 0);
  c.close();
  await server.stop();
});

test('virtual clock: the window is retransmitted each interval, then the transfer ends after the retries', async () => {
  const clock = new VirtualClock();
  const { server, port, ends } = await serve({ clock, retries: 2 });
  const c = await Raw.open();
  c.send(rrq('f.bin', { timeout: '2' }), port);
  const oack = (await c.next())!;
  assert.is(oack.p?.op, 'OACK');
  await clock.advance(1999);
  assert.equal(await c.drain(50), [], 'nothing before the 2 s the client asked');
  await clock.advance(1);
  assert.equal(blocks(await c.drain(50)), ['OACK'], 'the OACK again');
  c.send({ op: 'ACK', block: 0 }, oack.port);
  assert.equal(blocks(await c.drain(50)), [1]);
  await clock.advance(2000);
  assert.equal(blocks(await c.drain(50)), [1]);
  await clock.advance(2000);
  assert.equal(blocks(await c.drain(50)), [1]);
  assert.equal(ends, []);
  await clock.advance(2000);
  assert.equal(await c.drain(50), [], 'no third retransmission');
  assert.is(ends[0]?.how, 'timeout');
  assert.is(server.activeTransfers, 0);
  c.close();
  await server.stop();
});

test('virtual clock: a transfer nothing moves ends after stallMs, whatever timeout the client asked', async () => {
  const clock = new VirtualClock();
  const { server, port, ends } = await serve({ clock, stallMs: 30_000 });
  const c = await Raw.open();
  c.send(rrq('f.bin', { timeout: '255' }), port);
  assert.is((await c.next())?.p?.op, 'OACK');
  await clock.advance(29_999);
  assert.equal(ends, []);
  await clock.advance(1);
  assert.is(ends[0]?.how, 'timeout');
  assert.equal(await c.drain(50), [], 'not retransmitted: the 255 s interval never came');
  c.close();
  await server.stop();
});

test('an ERROR from the client ends its transfer', async () => {
  const { server, port, ends } = await serve();
  const c = await Raw.open();
  c.send(rrq('f.bin', { blksize: '1024' }), port);
  const oack = (await c.next())!;
  c.send({ op: 'ERROR', code: 8, message: 'I do not like your OACK' }, oack.port);
  await c.drain(50);
  assert.equal(ends.map((e) => [e.how, e.detail]), [['aborted', 'client error 8: I do not like your OACK']]);
  c.close();
  await server.stop();
});

test('refusals: WRQ, ".." segments, long names, mail mode, malformed requests; the rest is not answered', async () => {
  const { server, port, log } = await serve();
  const c = await Raw.open();
  const ask = async (p: TftpPacket | Buffer) => {
    c.send(p, port);
    return (await c.next(300))?.p;
  };
  assert.equal(await ask({ op: 'WRQ', filename: 'SEP001122334455.cnf.xml', mode: 'octet', options: {} }), { op: 'ERROR', code: 2, message: 'Access violation: read-only server' });
  assert.equal(await ask(rrq('../etc/passwd')), { op: 'ERROR', code: 2, message: 'Access violation' });
  assert.equal(await ask(rrq('a\\..\\b')), { op: 'ERROR', code: 2, message: 'Access violation' });
  assert.equal(await ask(rrq('x'.repeat(256))), { op: 'ERROR', code: 2, message: 'Access violation' });
  assert.equal(await ask(rrq('x'.repeat(255))), { op: 'ERROR', code: 1, message: 'File not found' }, '255 bytes is a name');
  assert.equal(await ask(rrq('..a..')), { op: 'ERROR', code: 1, message: 'File not found' }, 'dots inside a name are no segment');
  assert.equal(await ask(rrq('f.bin', {}, 'mail')), { op: 'ERROR', code: 4, message: 'Unsupported mode mail' });
  assert.equal(await ask(Buffer.from('\0\x01f.bin\0morse\0')), { op: 'ERROR', code: 4, message: 'Illegal TFTP operation' });
  assert.equal(await ask(rrq('boom')), { op: 'ERROR', code: 0, message: 'Internal error' }, 'a lookup that throws');
  for (const p of [encodeTftp({ op: 'ACK', block: 1 }), encodeTftp({ op: 'DATA', block: 1, data: Uint8Array.of(1) }), encodeTftp({ op: 'ERROR', code: 5, message: 'x' }), encodeTftp({ op: 'OACK', options: {} }), Buffer.from([0, 9]), Buffer.alloc(0)]) {
    c.send(p, port);
  }
  assert.equal(await c.drain(), [], 'no answer to anything but a request');
  assert.equal(log.map((e) => [e.name.slice(0, 12), e.result]), [
    ['SEP001122334', 'refused'], ['../etc/passw', 'refused'], ['a\\..\\b', 'refused'], ['xxxxxxxxxxxx', 'refused'], ['xxxxxxxxxxxx', 'absent'], ['..a..', 'absent'], ['f.bin', 'refused'], ['boom', 'refused'],
  ]);
  c.close();
  await server.stop();
});

test('limits: per client address and in total, ERROR 0 "busy" and one refused entry each', async () => {
  const { server, port, log } = await serve({ maxTransfersPerClient: 2, maxTransfers: 3 });
  const first = async (address: string) => {
    const c = await Raw.open(address);
    c.send(rrq('f.bin'), port);
    const got = await c.next();
    c.close();
    return got?.p?.op === 'ERROR' ? `ERROR ${got.p.code} ${got.p.message}` : got?.p?.op;
  };
  assert.equal([await first('127.0.0.1'), await first('127.0.0.1'), await first('127.0.0.1')], ['DATA', 'DATA', 'ERROR 0 Server busy, try again later']);
  assert.equal([await first('127.0.0.2'), await first('127.0.0.3')], ['DATA', 'ERROR 0 Server busy, try again later']);
  assert.is(server.activeTransfers, 3);
  assert.equal(log.map((e) => `${e.from} ${e.result}`), ['127.0.0.1 sent', '127.0.0.1 sent', '127.0.0.1 refused', '127.0.0.2 sent', '127.0.0.3 refused']);
  await server.stop();
  assert.is(server.activeTransfers, 0);
});

test('a retransmitted RRQ starts no second transfer; a new RRQ from the same port replaces the old one', async () => {
  const { server, port, ends } = await serve();
  const c = await Raw.open();
  c.send(rrq('f.bin'), port);
  c.send(rrq('f.bin'), port);
  const got = await c.drain();
  assert.equal(blocks(got), [1], 'one DATA 1');
  assert.is(server.activeTransfers, 1);
  c.send({ op: 'ACK', block: 1 }, got[0]!.port);
  assert.equal(blocks(await c.drain()), [2]);
  c.send(rrq('f.bin', { blksize: '1024' }), port); // the client gave up and asked again
  const again = await c.drain();
  assert.equal(blocks(again), ['OACK'], 'a new transfer, and no ERROR from the old one');
  assert.is.not(again[0]!.port, got[0]!.port);
  assert.equal(ends.map((e) => e.how), ['stopped']);
  assert.is(server.activeTransfers, 1);
  c.close();
  await server.stop();
});

test('stop() ends running transfers with an ERROR to their clients', async () => {
  const { server, port, ends } = await serve();
  const c = await Raw.open();
  c.send(rrq('f.bin'), port);
  const tid = (await c.next())!.port;
  await server.stop();
  assert.equal(await c.next(), { p: { op: 'ERROR', code: 0, message: 'Server shutting down' }, port: tid });
  assert.equal(ends.map((e) => e.how), ['stopped']);
  c.close();
});

test.run();
