/**
 * The ports the firmware does all its I/O through. They are constructed in the entry files
 * (src/cli) and passed in, so the same firmware runs on a Pi, in a terminal, in a test and a
 * thousand times in one process. Implementations for Node live in node-ports.ts; the adapters
 * for people (displays, keypads) in render.ts, keypads.ts and src/hw/.
 */
import type { DatagramPeer, DatagramSocket, StreamSocket } from '../sip/sockets.ts';
import type { Key } from './keys.ts';
import type { ScreenFrame } from './screen.ts';

/** An address and port: the SIP core's datagram peer. */
export type Peer = DatagramPeer;

/** One bound UDP socket: the SIP core's datagram socket (src/sip/sockets.ts), one type for both. */
export type UdpEndpoint = DatagramSocket;

/** One connected TCP or TLS stream: the SIP core's stream socket, one type for both. */
export type TcpConnection = StreamSocket;

export interface HttpGetOptions {
  timeoutMs: number;
  maxBytes: number;
  signal?: AbortSignal;
  localAddress?: string;
  /** `Cisco-CP-8841-3PCC/12.0.1 (<mac>)` on a Multiplatform phone; `sepi-phone` unless said. */
  userAgent?: string;
  /** Basic credentials (a profile rule's `--uid`/`--pwd`). */
  basicAuth?: { user: string; password: string };
  /**
   * For https: the only CAs the server's chain may end in (the phone's built-in roots), and the
   * client certificate to show. The server's name is checked against the URL's host.
   */
  tls?: { ca: string[]; cert?: string; key?: string; servername?: string };
}

export interface HttpsPostOptions {
  body: string;
  pinned: string[];
  clientCert: string;
  clientKey: string;
  timeoutMs: number;
  maxBytes: number;
  signal?: AbortSignal;
  localAddress?: string;
}

export type HttpResult =
  /** `location`: a 3xx's Location header, for the caller to follow (nothing is followed by itself). */
  | { kind: 'response'; status: number; body: Buffer; location?: string }
  | { kind: 'error'; code: string; message: string };

export interface NetworkPort {
  /** `receiveBufferBytes`: a deeper kernel queue for a socket that takes bursts (capped by net.core.rmem_max). */
  udp(opts: { port?: number; address?: string; broadcast?: boolean; reuseAddr?: boolean; receiveBufferBytes?: number }): Promise<UdpEndpoint>;
  /** Resolves with the connection or rejects with an Error whose message says why (refused, timeout, unreachable). */
  tcp(host: string, port: number, opts: { timeoutMs: number; signal?: AbortSignal; localAddress?: string }): Promise<TcpConnection>;
  /** TLS without certificate-chain checks: the caller compares the peer's certificate itself (TVS against its ITL). */
  tls(host: string, port: number, opts: { timeoutMs: number; signal?: AbortSignal; localAddress?: string }): Promise<{ conn: TcpConnection; peerCertificate: Uint8Array }>;
  httpGet(url: string, opts: HttpGetOptions): Promise<HttpResult>;
  /**
   * A JSON POST over mutual TLS: the phone shows `clientCert`/`clientKey`, and the server's
   * certificate must be one of `pinned` (PEM, from the trust list) — checked in the handshake,
   * before a byte of the body leaves.
   */
  httpsPost(url: string, opts: HttpsPostOptions): Promise<HttpResult>;
  /** IPv4 addresses of a name, asking the given DNS servers (from DHCP) or the system resolver when none. */
  resolve4(name: string, dnsServers: readonly string[]): Promise<string[]>;
  /** The SRV records of a name (RFC 2782), from the same servers; none is an empty list. */
  resolveSrv(name: string, dnsServers: readonly string[]): Promise<SrvRecord[]>;
  close(): Promise<void>;
}

export interface InterfaceAddress {
  address: string;
  prefix: number;
  router: string | undefined;
}

/** What the firmware may do to its network interface. */
export interface InterfacePort {
  readonly name: string;
  /** True when the kernel owns the leased address (a real board); false for emulated phones. */
  readonly ownsAddress: boolean;
  /** Ready for DHCP from 0.0.0.0: link up, a route for 255.255.255.255 through this interface. */
  prepare(): Promise<void>;
  configure(addr: InterfaceAddress): Promise<void>;
  deconfigure(addr: InterfaceAddress): Promise<void>;
  /** Local address to bind sockets to, when the phone must speak from its own address. */
  sourceAddress(): string | undefined;
}

// ---- ports for people ---------------------------------------------------------------------------

/** Something that shows LCD frames: the tty on a Pi, a terminal box, text lines, a test. */
export interface Display {
  show(frame: ScreenFrame): void;
  close(): void;
}

export interface KeyEvent {
  key: Key;
  /** Which keypad it came from (terminal, evdev, serial, stdin, web, test), for logs. */
  source: string;
}

/**
 * A source of key presses. Adapters: the terminal, evdev and a serial keypad (src/hw),
 * `--keys stdin` lines, a test's scripted keypad; the web page next. A missing device is a
 * NullKeypad, never a crash.
 */
export interface Keypad {
  readonly source: string;
  /** Calls fn for every key; the returned function stops that. */
  onKey(fn: (e: KeyEvent) => void): () => void;
  close(): void;
}

/** What a flow may ask the person at the phone. */
export type PromptRequest =
  /** 16 digits typed on the keypad; `problem` says why it is asked again (invalid, expired…). */
  | { kind: 'activation-code'; problem?: string }
  /** CAPF's authentication string, 4–10 digits; an empty answer means the user cancelled. */
  | { kind: 'authentication-string'; problem?: string }
  | { kind: 'confirm'; title: string; text: string };

export type PromptAnswer<R extends PromptRequest> = R extends { kind: 'activation-code' | 'authentication-string' } ? { digits: string } : { yes: boolean };

/**
 * The reverse of the UI's controls: a flow asks the person at the phone and waits. The phone UI
 * answers (it shows the question and collects keys); the cycle's signal cancels the question
 * (a reboot, a power-off), rejecting with the signal's reason.
 */
export interface UserPrompt {
  ask<R extends PromptRequest>(request: R, signal: AbortSignal): Promise<PromptAnswer<R>>;
}

/** One SRV record: where a service is (RFC 2782). */
export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}
