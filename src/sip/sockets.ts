/**
 * The sockets the SIP transports run on, as ports. The transports never call node:dgram or
 * node:net themselves: a factory hands them sockets, so a test can give them in-memory ones,
 * the phone its own NetworkPort's (whose UdpEndpoint, TcpConnection and Peer are these types)
 * and the companion the Node ones in node-sockets.ts.
 */

export interface DatagramPeer {
  address: string;
  port: number;
}

/** One bound UDP socket (the phone's `UdpEndpoint`), with the bound address when known. */
export interface DatagramSocket {
  readonly port: number;
  readonly address?: string;
  send(data: Uint8Array, port: number, address: string): Promise<void>;
  /** Sets the datagram handler, replacing any earlier one. */
  onMessage(handler: (data: Buffer, from: DatagramPeer) => void): void;
  close(): void;
}

/** One connected byte stream, TCP or TLS (the phone's `TcpConnection`). */
export interface StreamSocket {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  write(data: Uint8Array): void;
  onData(handler: (data: Buffer) => void): void;
  /** Called once, when the connection is gone for whatever reason. */
  onClose(handler: (reason: string) => void): void;
  close(): void;
  /** Bytes written but not yet taken by the kernel, when the implementation knows (slow readers are cut off). */
  readonly bufferedBytes?: number;
}

export interface StreamListener {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface ConnectOptions {
  timeoutMs: number;
  localAddress?: string;
}

/**
 * Makes stream sockets: outbound always, inbound when the implementation can listen (a phone
 * that only keeps its connection to the call manager passes a factory without `listen`).
 */
export interface StreamSocketFactory {
  connect(host: string, port: number, opts: ConnectOptions): Promise<StreamSocket>;
  listen?(host: string, port: number, onConnection: (s: StreamSocket) => void): Promise<StreamListener>;
}

export interface DatagramSocketFactory {
  bind(host: string, port: number): Promise<DatagramSocket>;
}
