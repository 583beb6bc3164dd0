/**
 * Runs inside a lab namespace: a hand-driven TFTP client on node:dgram that does what a
 * well-behaved client would not (an enormous blksize, an ACK from a second port, floods), so
 * the companion's TFTP server is seen from the wire. Prints one JSON line: what came back.
 *
 *   node tftp-probe.ts big-blksize SERVER FILE      RRQ blksize 65535 + tsize, then the whole transfer
 *   node tftp-probe.ts stranger-ack SERVER FILE     an ACK from another port mid-transfer, then the rest
 *   node tftp-probe.ts absent-flood SERVER N        N RRQs for absent files, each from its own port
 *   node tftp-probe.ts flood SERVER FILE N          N transfers at once from one address, never ACKed
 *   node tftp-probe.ts source SERVER FILE           the address and port the first answer came from
 */
import dgram from 'node:dgram';
import { type TftpOptions, type TftpPacket, decodeTftp, encodeTftp } from '../../../src/wire/tftp.ts';

interface Got {
  p: TftpPacket | undefined;
  from: dgram.RemoteInfo;
}

/** A client socket whose datagrams queue until read, so none is lost between two reads. */
class Peer {
  readonly sock = dgram.createSocket('udp4');
  private readonly queue: Got[] = [];
  private waiter: (() => void) | undefined;

  async open(): Promise<this> {
    await new Promise<void>((r) => this.sock.bind(0, () => r()));
    this.sock.on('message', (m, from) => {
      const d = decodeTftp(m);
      this.queue.push({ p: d.ok ? d.value : undefined, from });
      this.waiter?.();
    });
    return this;
  }

  /** Resolves once the datagram is handed to the kernel (closing before that would drop it). */
  send(p: TftpPacket, port: number, host: string): Promise<void> {
    return new Promise((r) => this.sock.send(encodeTftp(p), port, host, () => r()));
  }

  async next(ms = 3000): Promise<Got | undefined> {
    const end = Date.now() + ms;
    while (this.queue.length === 0) {
      const left = end - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiter = () => (clearTimeout(t), r());
      });
      this.waiter = undefined;
    }
    return this.queue.shift();
  }

  close(): void {
    this.sock.close();
  }
}

const show = (g: Got | undefined) => (g?.p ? { op: g.p.op, ...(g.p.op === 'ERROR' ? { code: g.p.code, message: g.p.message } : g.p.op === 'OACK' ? { options: g.p.options } : g.p.op === 'DATA' ? { block: g.p.block, length: g.p.data.length } : {}) } : { op: g ? 'garbage' : 'nothing' });

/** Reads the rest of a transfer in lock step once the first answer is in hand. */
async function readAll(peer: Peer, server: string, first: Got, blksize: number): Promise<{ bytes: number; complete: boolean }> {
  const tid = first.from.port;
  let got: Got | undefined = first;
  let expected = 1;
  let bytes = 0;
  if (first.p?.op === 'OACK') {
    peer.send({ op: 'ACK', block: 0 }, tid, server);
    got = await peer.next();
  }
  for (;;) {
    if (got?.p?.op !== 'DATA' || got.from.port !== tid) return { bytes, complete: false };
    if (got.p.block === expected % 65536) {
      bytes += got.p.data.length;
      expected++;
    }
    const acked = peer.send({ op: 'ACK', block: got.p.block }, tid, server);
    if (got.p.data.length < blksize) return await acked.then(() => ({ bytes, complete: true }));
    got = await peer.next();
  }
}

async function rrq(server: string, file: string, options: TftpOptions): Promise<{ peer: Peer; first: Got | undefined }> {
  const peer = await new Peer().open();
  peer.send({ op: 'RRQ', filename: file, mode: 'octet', options }, 69, server);
  return { peer, first: await peer.next() };
}

const [scenario, server = '', a = '', b = ''] = process.argv.slice(2);
const say = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');

switch (scenario) {
  case 'big-blksize': {
    const { peer, first } = await rrq(server, a, { blksize: '65535', tsize: '0' });
    const oack = first?.p?.op === 'OACK' ? first.p.options : undefined;
    const blksize = Number(oack?.['blksize'] ?? 512);
    const read = first ? await readAll(peer, server, first, blksize) : { bytes: 0, complete: false };
    say({ first: show(first), ...read });
    peer.close();
    break;
  }
  case 'stranger-ack': {
    const { peer, first } = await rrq(server, a, {});
    if (first?.p?.op !== 'DATA' || first.p.block !== 1) {
      say({ first: show(first) });
      break;
    }
    const stranger = await new Peer().open();
    stranger.send({ op: 'ACK', block: 1 }, first.from.port, server);
    const toStranger = await stranger.next(2000);
    // The real client goes on as if nothing happened: any block 2 already sent is read as it comes.
    const read = await readAll(peer, server, first, 512);
    say({ stranger: show(toStranger), strangerFromTid: toStranger?.from.port === first.from.port, ...read });
    stranger.close();
    peer.close();
    break;
  }
  case 'absent-flood': {
    const n = Number(a);
    const peers = await Promise.all(Array.from({ length: n }, () => new Peer().open()));
    // In bursts of 50: the point is 300 requests, not the size of the kernel's socket buffers.
    const answers: Array<Got | undefined> = [];
    for (let at = 0; at < n; at += 50) {
      const burst = peers.slice(at, at + 50);
      burst.forEach((p, i) => p.send({ op: 'RRQ', filename: `SEP0000000${String(at + i).padStart(5, '0')}.cnf.xml`, mode: 'octet', options: {} }, 69, server));
      answers.push(...(await Promise.all(burst.map((p) => p.next(5000)))));
    }
    const counts: Record<string, number> = {};
    for (const g of answers) {
      const k = g?.p?.op === 'ERROR' ? `error${g.p.code}` : show(g).op;
      counts[k] = (counts[k] ?? 0) + 1;
    }
    say({ counts });
    for (const p of peers) p.close();
    break;
  }
  case 'flood': {
    const n = Number(b);
    const peers = await Promise.all(Array.from({ length: n }, () => new Peer().open()));
    for (const p of peers) p.send({ op: 'RRQ', filename: a, mode: 'octet', options: {} }, 69, server);
    const answers = await Promise.all(peers.map((p) => p.next(5000)));
    const counts: Record<string, number> = {};
    for (const g of answers) {
      const k = g?.p?.op === 'ERROR' ? `error${g.p.code}` : show(g).op;
      counts[k] = (counts[k] ?? 0) + 1;
    }
    const busy = answers.find((g) => g?.p?.op === 'ERROR');
    const messages = [...new Set(answers.map((g) => (g?.p?.op === 'ERROR' ? g.p.message : '')))];
    say({ counts, messages, busyMessage: busy?.p?.op === 'ERROR' ? busy.p.message : undefined });
    for (const p of peers) p.close();
    break;
  }
  case 'source': {
    const { peer, first } = await rrq(server, a, {});
    say({ first: show(first), address: first?.from.address, port: first?.from.port });
    peer.close();
    break;
  }
  default:
    say({ error: `unknown scenario ${scenario}` });
    process.exitCode = 2;
}
