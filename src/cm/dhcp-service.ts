/**
 * The companion's DHCP server: a UDP socket on 0.0.0.0:67 around the handler in dhcp/ (which
 * does the protocol on sepi's own codec, src/wire/dhcp.ts, the one the phone's client uses).
 *
 * It replaced the npm `dhcp` package, which the companion used to wrap. That package threw while
 * building any reply to a client whose option 55 listed an option it had no value for (50, 52,
 * 53, 55, 56, 60, 61, 80, 116, 145 — a real client asking for 60 or 61 is enough), uncaught, so
 * one DISCOVER took the whole companion down; it printed "Option N not known" through
 * console.log for every such packet (log spam, and a way to forge log lines); and it broadcast
 * every reply, so it could not serve a client through a DHCP relay.
 *
 * Here: replies per RFC 2131 §4.1 (to a relay's port 67, to ciaddr, or broadcast), DECLINE and
 * INFORM, option 55 as an order and never a failure, option 57 and the 576-byte floor, a
 * per-client rate limit, and no exception from one datagram ever leaving the handler. Speed is
 * a reason too (issue 12, measured on this machine): our decoder reads a request in ~2 µs where
 * the package takes ~2.5, and our encoder writes a reply in one buffer of the exact size in
 * 0.5-1.7 µs where the package takes 4.5-8 (it dispatches every option through a table of
 * typed writers into a growing buffer).
 *
 * Speed (issue 12, docs/scale.md): leases are served from memory (dhcp/address-pool.ts: indexes
 * by MAC and by address, free addresses and expiries in heaps; no query per request) and written
 * with group commit (dhcp/group-commit.ts) by a worker thread on its own connection
 * (dhcp/lease-writer.ts), so an fsync never stops the event loop: an ACK leaves only after the
 * commit that made its lease durable, and the ACKs of a burst share one commit. A kill -9 loses
 * nothing that was acknowledged; an OFFER is never written (it is a hold in memory). Per-client
 * log lines are capped at 200 a second, a storm gets one summary line a second (handler.ts).
 *
 * The socket is on 0.0.0.0, so the server serves every interface of its network namespace;
 * give the companion its own namespace or interface.
 */
import dgram from 'node:dgram';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { deepenReceiveQueue } from '../common/udp-queue.ts';
import { type Clock, SystemClock } from '../common/clock.ts';
import { DHCP_SERVER_PORT } from '../wire/dhcp.ts';
import type { CompanionConfig } from './config.ts';
import type { CompanionDb } from './db.ts';
import { DhcpCommit } from './dhcp/group-commit.ts';
import { InlineLeaseWriter, type LeaseWriter, WorkerLeaseWriter } from './dhcp/lease-writer.ts';
import { type DhcpCounters, DhcpHandler, type DhcpLogEntry, type Outgoing, newCounters } from './dhcp/handler.ts';

/**
 * Group commit: a batch is written COMMIT_WAIT_MS after its first lease, at once when it reaches
 * COMMIT_BATCH leases, or right after the commit before it ends. A commit costs about the same for 1 lease as for 50 (it is the
 * fsync), so waiting a little under load saves most of them; an ACK waits at most this long
 * more than its fsync, nothing next to a phone's boot or a client's 1-4 s retransmission timer.
 */
export const COMMIT_WAIT_MS = 2;
export const COMMIT_BATCH = 512;

export type { DhcpCounters, DhcpLogEntry } from './dhcp/handler.ts';

/** The DHCP socket's receive buffer: see start(). */
const LISTEN_BUFFER_BYTES = 1 << 20;

export class DhcpService {
  private socket: dgram.Socket | undefined;
  private readonly log: (e: DhcpLogEntry) => void;
  private readonly handler: DhcpHandler;
  private readonly group: DhcpCommit;
  private readonly writer: LeaseWriter;
  /** For status: what was received, answered, refused and dropped. */
  readonly counters: DhcpCounters = newCounters();

  constructor(db: CompanionDb, cfg: CompanionConfig, log: (e: DhcpLogEntry) => void, clock: Clock = new SystemClock()) {
    this.log = log;
    this.handler = new DhcpHandler({ db, config: cfg, clock, log, counters: this.counters });
    const inline = new InlineLeaseWriter(this.handler.pool.journal);
    const path = db.handle.location();
    const note = (detail: string) => log({ type: 'note', mac: '', detail });
    this.writer = path ? new WorkerLeaseWriter(path, inline, note) : inline;
    this.group = new DhcpCommit({
      commit: (done) => this.writer.write(this.handler.takeWrites(), (e) => {
        if (e) this.handler.writeFailed(e);
        done(!e);
      }),
      pending: () => this.handler.pendingWrites,
      send: (out) => this.socket && this.send(this.socket, out),
      dropped: () => this.counters.unsent++,
      defer: (fn) => setTimeout(fn, COMMIT_WAIT_MS),
      maxBatch: COMMIT_BATCH,
    });
  }

  /** Group commits so far: how many, the ACKs they carried, the largest batch, failures. */
  get commitStats(): { commits: number; acks: number; largest: number; failed: number } {
    return { ...this.group.stats };
  }

  /** The address a MAC would be given now: its lease, its offer, or the first free one. */
  allocate(mac: string): string | undefined {
    return this.handler.pool.allocate(mac);
  }

  /**
   * Replies go to 255.255.255.255 from a socket on 0.0.0.0, and Node cannot bind a socket to a
   * device; without a default route the kernel has no way to send that. A host route for the
   * limited broadcast through the serving interface gives it one.
   */
  async ensureBroadcastRoute(iface: string | undefined): Promise<void> {
    if (!iface) return;
    const run = promisify(execFile);
    try {
      await run('ip', ['route', 'get', '255.255.255.255']);
    } catch {
      try {
        await run('ip', ['route', 'add', '255.255.255.255/32', 'dev', iface]);
        this.log({ type: 'note', mac: '', detail: `added route 255.255.255.255/32 dev ${iface} for DHCP replies` });
      } catch (e) {
        throw new Error(`DHCP replies cannot be sent: no route for 255.255.255.255 and "ip route add 255.255.255.255/32 dev ${iface}" failed (${(e as Error).message.trim()})`);
      }
    }
  }

  /** Listens on 0.0.0.0:67, after making sure replies can leave through `iface`. */
  async start(iface?: string): Promise<void> {
    await this.ensureBroadcastRoute(iface);
    // Exclusive: a second DHCP server in the same namespace is a mistake to report, not to share.
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    socket.on('message', (bytes, from) => this.group.submit(this.handler.handle(bytes, from.address)));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port: DHCP_SERVER_PORT, address: '0.0.0.0', exclusive: true }, () => {
        socket.removeListener('error', reject);
        socket.setBroadcast(true);
        // Room for about a thousand queued requests (1 MiB; the kernel caps it at
        // net.core.rmem_max): a room of phones powered on together sends its DISCOVERs in one
        // burst, and the default (~200 KiB, a couple of hundred) dropped most of 10,000, each
        // drop a phone waiting 4 s or more to ask again. A thousand is a fifth of a second at
        // the server's rate — well inside any client's wait. Not more: under load beyond what
        // the server keeps up with, a deeper queue only answers later (4 MiB answered perfdhcp
        // after it had given up, docs/scale.md), where a drop lets the client retransmit.
        deepenReceiveQueue(socket, LISTEN_BUFFER_BYTES);
        resolve();
      });
    });
    // After binding, a socket error (rare: the interface vanished) is reported, never thrown.
    socket.on('error', (e) => this.log({ type: 'error', mac: '', detail: `DHCP socket: ${e.message}` }));
    this.socket = socket;
  }

  private send(socket: dgram.Socket, out: Outgoing): void {
    const failed = (e: Error) => this.handler.unsent(out, e);
    try {
      socket.send(out.bytes, out.port, out.address, (e) => e && failed(e));
    } catch (e) {
      failed(e as Error);
    }
  }

  async stop(): Promise<void> {
    // What is queued is written (a RELEASE, say) and the ACKs waiting for it go out.
    await this.group.drain();
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
    await this.writer.close();
  }
}
