/**
 * A DHCP server for the in-process harness, on sepi's own codec, answering on 127.0.0.1 from
 * an unprivileged port (see loopback-network.ts). It stands in for the companion's DHCP service
 * only where that cannot run (port 67 needs root); the companion's real DHCP is tested against
 * udhcpc and our client in network namespaces. It can be told to go silent or to NAK, which is
 * what the retry ladders and lease-loss tests need.
 */
import dgram from 'node:dgram';
import {
  DhcpMessageType, DhcpOption, type DhcpMessage, decodeDhcp, encodeDhcp, ipListOption, readIpList, readMessageType, u32Option,
} from '../../src/wire/dhcp.ts';

export type ResponderMode = 'answer' | 'silent' | 'nak';

export class DhcpResponder {
  private sock: dgram.Socket | undefined;
  mode: ResponderMode = 'answer';
  leaseSecs: number;
  readonly seen: Array<{ type: number; xid: number }> = [];
  /** Option 150's address; '' gives none (a Multiplatform phone then asks EDOS). */
  tftpServer: string;
  /** More options to give in OFFER and ACK (159/160 provisioning URLs, 66…). */
  readonly extraOptions = new Map<number, Uint8Array>();
  private readonly addresses = new Map<string, string>();

  constructor(o: { tftpServer: string; leaseSecs?: number }) {
    this.tftpServer = o.tftpServer;
    this.leaseSecs = o.leaseSecs ?? 3600;
  }

  get port(): number {
    return this.sock!.address().port;
  }

  async start(): Promise<void> {
    const sock = dgram.createSocket('udp4');
    sock.on('message', (d, r) => this.onMessage(d, r.port));
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
    this.sock = sock;
  }

  stop(): void {
    this.sock?.close();
    this.sock = undefined;
  }

  private onMessage(data: Buffer, port: number): void {
    const d = decodeDhcp(data);
    if (!d.ok || d.value.op !== 1) return;
    const m = d.value;
    const type = readMessageType(m);
    if (!type.ok) return;
    this.seen.push({ type: type.value, xid: m.xid });
    if (this.mode === 'silent') return;
    const mac = Buffer.from(m.chaddr).toString('hex');
    // Each phone gets an address of its own in 127.1.0.0/16 (loopback answers every one).
    const address = this.addresses.get(mac) ?? `127.1.${(this.addresses.size >> 8) & 255}.${(this.addresses.size & 255) + 1}`;
    this.addresses.set(mac, address);
    if (type.value === DhcpMessageType.DISCOVER) return this.reply(m, DhcpMessageType.OFFER, address, port);
    if (type.value !== DhcpMessageType.REQUEST) return;
    const requested = readIpList(m, DhcpOption.REQUESTED_IP);
    const wanted = (requested.ok && requested.value?.[0]) || (m.ciaddr !== '0.0.0.0' ? m.ciaddr : address);
    if (this.mode === 'nak' || wanted !== address) return this.reply(m, DhcpMessageType.NAK, '0.0.0.0', port);
    this.reply(m, DhcpMessageType.ACK, address, port);
  }

  private reply(req: DhcpMessage, type: number, yiaddr: string, port: number): void {
    const options = new Map<number, Uint8Array>([
      [DhcpOption.MESSAGE_TYPE, Uint8Array.of(type)],
      [DhcpOption.SERVER_ID, ipListOption(['127.0.0.1'])],
    ]);
    if (type !== DhcpMessageType.NAK) {
      options.set(DhcpOption.SUBNET_MASK, ipListOption(['255.0.0.0']));
      options.set(DhcpOption.LEASE_TIME, u32Option(this.leaseSecs));
      if (this.tftpServer) options.set(DhcpOption.TFTP_SERVERS, ipListOption([this.tftpServer]));
      for (const [code, value] of this.extraOptions) options.set(code, value);
    }
    const m: DhcpMessage = {
      op: 2, htype: 1, hlen: 6, hops: 0, xid: req.xid, secs: 0, flags: req.flags, ciaddr: '0.0.0.0', yiaddr, siaddr: '0.0.0.0', giaddr: '0.0.0.0',
      chaddr: req.chaddr, sname: '', file: '', options,
    };
    this.sock?.send(encodeDhcp(m), port, '127.0.0.1');
  }
}
