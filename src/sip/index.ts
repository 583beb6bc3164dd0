/**
 * The SIP core's public face (docs/sip-core.md): transports, the transaction layer, dialogs and
 * the user agent. The phone and the companion import from here.
 */
export { type CredentialSource, type SipCredentials, authorizedRetry } from './auth.ts';
export { type ClientTransaction, type ClientTransactionUser, buildNon2xxAck } from './client-transaction.ts';
export { Dialog, type DialogEnd, type DialogState, contactUri, dialogKey } from './dialog.ts';
export { type BodyOptions, IncomingInvite, type InviteResult, OutgoingInvite, buildCancel, isLocalResponse, localResponse } from './invite.ts';
export { MemoryNetwork, MemoryTransport } from './memory-transport.ts';
export * from './message.ts';
export { nodeTcpSockets, nodeUdpSockets } from './node-sockets.ts';
export type { DatagramSocket, DatagramSocketFactory, StreamSocket, StreamSocketFactory } from './sockets.ts';
export { type ServerTransaction, type ServerTransactionEnd } from './server-transaction.ts';
export { StreamTransport, type StreamTransportOptions } from './tcp-transport.ts';
export { DEFAULT_TIMER_SETTINGS, type SipTimerSettings, type SipTimerValues, timerValues } from './timers.ts';
export { type SipTlsOptions, nodeTlsSockets, openTlsTransport } from './tls-transport.ts';
export { TransactionLayer, type TransactionUser, serverKey } from './transaction-layer.ts';
export { type SipSource, type Transport, TransportError, TransportSet, responseDestinations, stampReceived, stampSentBy } from './transport.ts';
export { UdpTransport } from './udp-transport.ts';
export { IncomingRequest, type RequestSpec, UserAgent, type UserAgentOptions } from './user-agent.ts';
