/**
 * The registrar's view of its TCP connections (RFC 5626 calls them flows): which devices are
 * bound to which connection, and the limits of docs/security.md that the transport enforces
 * on its behalf. The StreamTransport asks `admit` before taking a connection (at most
 * `maxUnregisteredPerAddress` connections per address that have registered nothing yet), closes
 * connections idle past their limit (short until a device registers, then `idleSecs`), and
 * tells `closed` when one goes; a device bound to a connection that closed is unregistered
 * (CUCM marks a phone unregistered when its TCP connection goes: Last=cm-closed-tcp).
 */
import type { HostPort } from '../../sip/index.ts';
import { Tally } from '../limits.ts';

/** One open connection: its address, and the devices registered over it. */
export interface PeerFlow {
  readonly key: string;
  readonly host: string;
  readonly port: number;
  readonly devices: Set<string>;
  /** Counted among its address's connections that registered nothing yet. */
  waiting: boolean;
}

export const flowKey = (p: HostPort): string => `${p.host}:${p.port}`;

export class FlowTable {
  private readonly peers = new Map<string, PeerFlow>();
  /** Device name → the key of the connection it registered over. */
  private readonly bound = new Map<string, string>();
  /** Connections per source address that have registered no device yet. */
  private readonly waiting = new Tally();
  private readonly maxWaiting: number;

  constructor(maxWaitingPerAddress: number) {
    this.maxWaiting = maxWaitingPerAddress;
  }

  /** A new inbound connection: taken unless its address already has too many waiting; the count when refused. */
  admit(peer: HostPort): { ok: true } | { ok: false; waiting: number } {
    const n = this.waiting.of(peer.host);
    if (n >= this.maxWaiting) return { ok: false, waiting: n };
    this.waiting.add(peer.host);
    const key = flowKey(peer);
    this.peers.set(key, { key, host: peer.host, port: peer.port, devices: new Set(), waiting: true });
    return { ok: true };
  }

  peer(p: HostPort): PeerFlow | undefined {
    return this.peers.get(flowKey(p));
  }

  /**
   * A device registered over this connection. Returns true the first time the connection binds
   * a device (it is a phone's now, and may stay quiet longer).
   */
  bind(peer: HostPort, device: string): boolean {
    const flow = this.peers.get(flowKey(peer));
    if (!flow) return false;
    const first = flow.waiting;
    if (flow.waiting) {
      flow.waiting = false;
      this.waiting.remove(flow.host);
    }
    flow.devices.add(device);
    this.bound.set(device, flow.key);
    return first;
  }

  unbind(device: string): void {
    this.bound.delete(device);
  }

  /** The connection a device is reachable over now, if any. */
  flowOf(device: string): PeerFlow | undefined {
    const key = this.bound.get(device);
    return key === undefined ? undefined : this.peers.get(key);
  }

  /** Devices whose binding is this connection right now. */
  devicesOn(peer: HostPort): string[] {
    const flow = this.peers.get(flowKey(peer));
    return flow ? [...flow.devices].filter((d) => this.bound.get(d) === flow.key) : [];
  }

  /** The connection is gone: returns the devices that were bound to it (now unbound). */
  closed(peer: HostPort): string[] {
    const key = flowKey(peer);
    const flow = this.peers.get(key);
    if (!flow) return [];
    this.peers.delete(key);
    if (flow.waiting) this.waiting.remove(flow.host);
    const lost: string[] = [];
    for (const d of flow.devices) {
      if (this.bound.get(d) !== key) continue;
      this.bound.delete(d);
      lost.push(d);
    }
    return lost;
  }

  /** Devices with a live connection. */
  devices(): string[] {
    return [...this.bound.keys()];
  }
}
