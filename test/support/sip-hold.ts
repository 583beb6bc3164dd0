/**
 * Holds many SIP TCP connections to a registrar at once, as a floor of phones would: each
 * connection registers one phone (a Cisco Contact, From = its DN), all of them stay open for a
 * while, then each sends a refresh on its own connection, and what happened to every
 * connection is counted. Run as a program in a namespace by the registrar's connection test and
 * bench (test/e2e/cm-registrar-connections.test.ts, bench/registrar.ts); prints one JSON line.
 *
 *   node test/support/sip-hold.ts --server 10.0.0.1:5060 --count 10000 --mac-base 02be00020000
 *     --dn-base 300000 [--local 10.0.0.2,10.0.0.3] [--concurrency 256] [--hold-secs 5] [--acked FILE]
 *
 * `--acked FILE` writes the device names whose first REGISTER was answered 200, one a line
 * (a crash test checks each of them is in the companion's database).
 *
 * A connection refused, reset or closed by the server is counted, never retried: the point is
 * whether the server holds them all. Times are only deadlines (a dead server ends the run).
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { buildCiscoContact } from '../../src/wire/cisco-sip.ts';
import { MacAddress } from '../../src/wire/mac.ts';
import { type SipResponse, SipStreamDecoder, encodeSip, header } from '../../src/wire/sip.ts';

export interface HoldFigures {
  count: number;
  /** Connections established. */
  connected: number;
  /** Connections that failed to open (refused, timed out), by error code. */
  connectFailures: Record<string, number>;
  /** REGISTERs answered 200 (first round). */
  registered: number;
  /** Other final answers to the first REGISTER, by status. */
  refusedStatus: Record<string, number>;
  /** Connections reset (ECONNRESET, EPIPE) at any point. */
  resets: number;
  /** Connections the server closed cleanly (FIN) before the end. */
  closedByServer: number;
  /** Open connections at the end of the hold, all at once. */
  heldAtOnce: number;
  /** Refreshes answered 200 on the held connections after the hold. */
  answeredAfter: number;
  /** Milliseconds to open and register them all. */
  registerMs: number;
  /** Device names answered 200 (not printed). */
  acked?: string[];
}

interface Conn {
  index: number;
  socket: net.Socket;
  decoder: SipStreamDecoder;
  waiting: ((r: SipResponse | undefined) => void) | undefined;
  open: boolean;
}

function register(i: number, o: { host: string; port: number; macBase: bigint; dnBase: number }, local: { address: string; port: number }, cseq: number): Buffer {
  const mac = MacAddress.parse((o.macBase + BigInt(i)).toString(16).padStart(12, '0'))!;
  const dn = String(o.dnBase + i);
  return encodeSip({
    kind: 'request', method: 'REGISTER', uri: `sip:${o.host}`, body: new Uint8Array(),
    headers: [
      ['Via', `SIP/2.0/TCP ${local.address}:${local.port};branch=z9hG4bKhold${i}x${cseq}`],
      ['From', `<sip:${dn}@${o.host}>;tag=hold${i}`],
      ['To', `<sip:${dn}@${o.host}>`],
      ['Call-ID', `hold-${mac.lower}@${local.address}`],
      ['CSeq', `${cseq} REGISTER`],
      ['Max-Forwards', '70'],
      ['Contact', buildCiscoContact({ user: dn, host: local.address, port: local.port, mac, modelCode: 683 })],
      ['Expires', '3600'],
    ],
  });
}

export async function hold(o: { host: string; port: number; count: number; macBase: bigint; dnBase: number; locals: string[]; concurrency: number; holdSecs: number }): Promise<HoldFigures> {
  const f: HoldFigures = { count: o.count, connected: 0, connectFailures: {}, registered: 0, refusedStatus: {}, resets: 0, closedByServer: 0, heldAtOnce: 0, answeredAfter: 0, registerMs: 0 };
  const conns: Array<Conn | undefined> = new Array(o.count);
  const acked: string[] = [];
  const ask = (c: Conn, bytes: Buffer, ms: number) =>
    new Promise<SipResponse | undefined>((resolve) => {
      const timer = setTimeout(() => done(undefined), ms);
      const done = (r: SipResponse | undefined) => {
        clearTimeout(timer);
        c.waiting = undefined;
        resolve(r);
      };
      c.waiting = done;
      c.socket.write(bytes);
    });
  const openOne = (i: number) =>
    new Promise<void>((resolve) => {
      const socket = net.connect({ host: o.host, port: o.port, localAddress: o.locals[i % o.locals.length] });
      const c: Conn = { index: i, socket, decoder: new SipStreamDecoder(), waiting: undefined, open: false };
      let settled = false;
      const settle = () => {
        if (!settled) {
          settled = true;
          resolve();
        }
      };
      socket.setTimeout(60_000, () => socket.destroy(new Error('ETIMEDOUT')));
      socket.on('data', (d) => {
        const r = c.decoder.push(d);
        if (!r.ok) return socket.destroy();
        for (const m of r.value) if (m.kind === 'response' && m.status >= 200) c.waiting?.(m);
      });
      socket.on('error', (e: NodeJS.ErrnoException) => {
        const code = e.code ?? e.message;
        if (!c.open) f.connectFailures[code] = (f.connectFailures[code] ?? 0) + 1;
        else if (code === 'ECONNRESET' || code === 'EPIPE') f.resets++;
      });
      socket.on('end', () => {
        if (c.open) f.closedByServer++;
      });
      socket.on('close', () => {
        c.open = false;
        c.waiting?.(undefined);
        conns[i] = undefined;
        settle();
      });
      socket.on('connect', () => {
        c.open = true;
        socket.setTimeout(0);
        f.connected++;
        conns[i] = c;
        void ask(c, register(i, o, { address: socket.localAddress!, port: socket.localPort! }, 1), 60_000).then((res) => {
          if (res?.status === 200) {
            f.registered++;
            acked.push(`SEP${(o.macBase + BigInt(i)).toString(16).padStart(12, '0').toUpperCase()}`);
          } else {
            const k = res ? String(res.status) : 'none';
            f.refusedStatus[k] = (f.refusedStatus[k] ?? 0) + 1;
          }
          settle();
        });
      });
    });

  const start = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(o.concurrency, o.count) }, async () => {
      while (next < o.count) await openOne(next++);
    }),
  );
  f.registerMs = Date.now() - start;
  await new Promise((r) => setTimeout(r, o.holdSecs * 1000));
  const held = conns.filter((c): c is Conn => !!c && c.open);
  f.heldAtOnce = held.length;
  // Every held connection asks again, in waves, on its own connection.
  let k = 0;
  await Promise.all(
    Array.from({ length: Math.min(o.concurrency, held.length) }, async () => {
      while (k < held.length) {
        const i = k++;
        const c = held[i]!;
        if (!c.open) continue;
        const res = await ask(c, register(c.index, o, { address: c.socket.localAddress!, port: c.socket.localPort! }, 2), 60_000);
        if (res?.status === 200) f.answeredAfter++;
      }
    }),
  );
  for (const c of conns) c?.socket.destroy();
  return { ...f, acked };
}

if (import.meta.main) {
  const { values: v } = parseArgs({
    options: {
      server: { type: 'string' }, count: { type: 'string', default: '10000' }, 'mac-base': { type: 'string', default: '02be00020000' }, 'dn-base': { type: 'string', default: '300000' },
      local: { type: 'string', default: '' }, concurrency: { type: 'string', default: '256' }, 'hold-secs': { type: 'string', default: '5' }, acked: { type: 'string' },
    },
  });
  const [host, port] = (v.server ?? '').split(':');
  if (!host || !port) throw new Error('--server HOST:PORT');
  const figures = await hold({
    host, port: Number(port), count: Number(v.count), macBase: BigInt(`0x${v['mac-base']}`), dnBase: Number(v['dn-base']),
    locals: v.local ? v.local.split(',') : [], concurrency: Number(v.concurrency), holdSecs: Number(v['hold-secs']),
  });
  const { acked, ...counts } = figures;
  if (v.acked) writeFileSync(v.acked, (acked ?? []).join('\n') + '\n');
  process.stdout.write(JSON.stringify(counts) + '\n');
}
