/**
 * SIP over TLS (RFC 3261 §26.2.1, `sips:` and `transport=tls`): the stream transport of
 * tcp-transport.ts on node:tls sockets. Certificates and trust are the caller's to pass: a
 * phone in a secure profile shows its LSC or MIC and trusts the call manager in its trust list;
 * the companion shows its own certificate and may ask for the phone's.
 */
import tls from 'node:tls';
import { listenOn, nodeStreamSocket, whenConnected } from './node-sockets.ts';
import type { ConnectOptions, StreamListener, StreamSocket, StreamSocketFactory } from './sockets.ts';
import { StreamTransport, type StreamTransportOptions } from './tcp-transport.ts';

export interface SipTlsOptions {
  /** PEM: our certificate (chain) and key. A server needs them; a client shows them when asked. */
  cert?: string;
  key?: string;
  /** PEM: the only CAs a peer's chain may end in. */
  ca?: string[];
  /** Verify the peer's chain (and, as a client, its name). True unless said; false only for labs. */
  verifyPeer?: boolean;
  /** Server: ask clients for a certificate (mutual TLS). */
  requestClientCert?: boolean;
  /** Client: the name to check the server's certificate against when connecting by address. */
  servername?: string;
  /** Handshakes slower than this fail (timed by Node's socket timer, as any I/O deadline). */
  handshakeTimeoutMs?: number;
}

export function nodeTlsSockets(o: SipTlsOptions): StreamSocketFactory {
  const verify = o.verifyPeer ?? true;
  const creds = { ...(o.cert ? { cert: o.cert } : {}), ...(o.key ? { key: o.key } : {}), ...(o.ca ? { ca: o.ca } : {}) };
  return {
    async connect(host: string, port: number, c: ConnectOptions): Promise<StreamSocket> {
      const s = tls.connect({
        host, port, ...creds, rejectUnauthorized: verify, minVersion: 'TLSv1.2',
        ...(o.servername ? { servername: o.servername } : {}),
        // A name check against an address literal would always fail; without a servername the chain is what is checked.
        ...(!o.servername ? { checkServerIdentity: () => undefined } : {}),
        ...(c.localAddress ? { localAddress: c.localAddress } : {}),
      });
      await whenConnected(s, 'secureConnect', host, port, o.handshakeTimeoutMs ?? c.timeoutMs);
      s.setNoDelay(true);
      return nodeStreamSocket(s);
    },
    listen(host: string, port: number, onConnection: (s: StreamSocket) => void): Promise<StreamListener> {
      const server = tls.createServer(
        { ...creds, minVersion: 'TLSv1.2', requestCert: o.requestClientCert ?? false, rejectUnauthorized: (o.requestClientCert ?? false) && verify, handshakeTimeout: o.handshakeTimeoutMs ?? 10_000 },
        (s) => {
          s.setNoDelay(true);
          onConnection(nodeStreamSocket(s));
        },
      );
      // A failed handshake is the peer's problem: the socket is closed, the server goes on.
      server.on('tlsClientError', () => {});
      return listenOn(server, host, port);
    },
  };
}

/** A TLS transport on Node sockets: `openTlsTransport({ tls: { cert, key, ca }, listen: { host, port: 5061 } })`. */
export function openTlsTransport(o: Omit<StreamTransportOptions, 'kind' | 'sockets'> & { tls: SipTlsOptions }): Promise<StreamTransport> {
  const { tls: t, ...rest } = o;
  return StreamTransport.open({ ...rest, kind: 'TLS', sockets: nodeTlsSockets(t) });
}
