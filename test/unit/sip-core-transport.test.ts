/**
 * The SIP transports on real loopback sockets (UDP, TCP, TLS) and on fake ones fed hostile
 * bytes: Via sent-by written by the sender and received/rport by the receiver, one TCP
 * connection reused both ways (the call manager reaching a phone on the phone's own
 * connection), responses on the connection the request came in on, and random bytes into the
 * UDP and TCP receivers never throwing and never holding more than the bound.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { setTimeout as sleep } from 'node:timers/promises';
import { type SipMessage, type SipRequest, encodeSip, header, responseTo } from '../../src/wire/sip.ts';
import { SIP_MAX_BODY_BYTES, SIP_MAX_HEADER_BYTES } from '../../src/wire/sip.ts';
import { topVia } from '../../src/sip/message.ts';
import { nodeTcpSockets, nodeUdpSockets } from '../../src/sip/node-sockets.ts';
import type { DatagramPeer, DatagramSocket, StreamSocket, StreamSocketFactory } from '../../src/sip/sockets.ts';
import { StreamTransport } from '../../src/sip/tcp-transport.ts';
import { openTlsTransport } from '../../src/sip/tls-transport.ts';
import { type SipSource, TransportError } from '../../src/sip/transport.ts';
import { UdpTransport } from '../../src/sip/udp-transport.ts';
import { makeCert } from '../support/certs.ts';

const LO = '127.0.0.1';

function options(branch = `z9hG4bK${Math.random().toString(16).slice(2)}`, body = ''): SipRequest {
  return {
    kind: 'request', method: 'OPTIONS', uri: 'sip:x@127.0.0.1',
    headers: [['Via', `SIP/2.0/UDP placeholder;branch=${branch};rport`], ['From', '<sip:a@h>;tag=1'], ['To', '<sip:x@h>'], ['Call-ID', branch], ['CSeq', '1 OPTIONS'], ['Max-Forwards', '70']],
    body: Buffer.from(body),
  };
}

/** Waits (real time, bounded) until `pred` holds: sockets are real here. */
async function until(what: string, pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

test('UDP: the sender writes its sent-by, the receiver stamps received/rport, the answer comes back', async () => {
  const a = await UdpTransport.bind(nodeUdpSockets, LO, 0);
  const b = await UdpTransport.bind(nodeUdpSockets, LO, 0, { sentBy: { host: '192.0.2.7', port: 5999 } });
  try {
    const atB: Array<{ m: SipMessage; from: SipSource }> = [];
    const atA: SipMessage[] = [];
    b.onMessage((m, from) => atB.push({ m, from }));
    a.onMessage((m) => atA.push(m));
    await a.send(options(), { transport: 'UDP', host: LO, port: b.bound.port });
    await until('the request', () => atB.length === 1);
    const got = atB[0]!;
    const via = topVia(got.m)!;
    assert.is(via.host, LO);
    assert.is(via.port, a.local.port);
    assert.is(via.params['rport'], String(a.local.port));
    assert.is(via.params['received'], LO, 'rport asks for received even when the host matches (RFC 3581)');
    assert.is(got.from.port, a.local.port);
    await b.send(responseTo(got.m as SipRequest, 200), { transport: 'UDP', host: got.from.host, port: got.from.port });
    await until('the response', () => atA.length === 1);
    // b advertises what it was told to, not its socket.
    await b.send(options(), { transport: 'UDP', host: LO, port: a.local.port });
    await until('b\'s request', () => atA.length === 2);
    assert.is(topVia(atA[1]!)!.host, '192.0.2.7');
    assert.is(topVia(atA[1]!)!.port, 5999);
  } finally {
    await a.close();
    await b.close();
  }
});

test('UDP: a message that cannot fit a datagram is refused with a TransportError', async () => {
  const a = await UdpTransport.bind(nodeUdpSockets, LO, 0, { maxMessageBytes: 1300 });
  try {
    const err = await a.send(options(undefined, 'x'.repeat(2000)), { transport: 'UDP', host: LO, port: 9 }).catch((e) => e);
    assert.instance(err, TransportError);
    assert.is((err as TransportError).code, 'too-large');
  } finally {
    await a.close();
  }
});

/** A DatagramSocket whose receive path the test drives directly. */
function fakeDatagram(): DatagramSocket & { feed(d: Buffer): void; sent: Buffer[] } {
  let h: (d: Buffer, from: DatagramPeer) => void = () => {};
  const sent: Buffer[] = [];
  return {
    port: 5060, address: LO, sent,
    send: async (d) => void sent.push(Buffer.from(d)),
    onMessage: (handler) => (h = handler),
    close: () => {},
    feed: (d) => h(d, { address: '198.51.100.1', port: 4000 }),
  };
}

const sipish = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }).map((u) => Buffer.from(u)),
  fc.tuple(fc.constantFrom('INVITE sip:a@b SIP/2.0\r\n', 'SIP/2.0 200 OK\r\n', 'ACK x SIP/2.0\r\n', ''), fc.array(fc.tuple(fc.constantFrom('Via', 'v', 'CSeq', 'Content-Length', 'l', 'To', 'Call-ID', 'X'), fc.string({ maxLength: 60 })), { maxLength: 8 }), fc.string({ maxLength: 200 }))
    .map(([start, hs, body]) => Buffer.from(`${start}${hs.map(([n, v]) => `${n}: ${v}`).join('\r\n')}\r\n\r\n${body}`)),
);

test('UDP: random and SIP-like garbage never throws out of the receiver, and a good message still gets through', () => {
  const sock = fakeDatagram();
  const t = new UdpTransport({ socket: sock });
  const delivered: SipMessage[] = [];
  t.onMessage((m) => {
    // Whatever the transport passes up has a readable Via when it is a request.
    if (m.kind === 'request') assert.ok(topVia(m), 'requests come with a Via');
    delivered.push(m);
  });
  fc.assert(fc.property(sipish, (d) => {
    sock.feed(d);
  }), { numRuns: 2000 });
  const before = delivered.length;
  sock.feed(encodeSip(options()));
  assert.is(delivered.length, before + 1);
  assert.ok(t.stats.dropped > 1000, `dropped ${t.stats.dropped}`);
});

test('UDP: a handler that throws loses its message, not the socket', () => {
  const sock = fakeDatagram();
  const drops: string[] = [];
  const t = new UdpTransport({ socket: sock, onDrop: (d) => drops.push(d.reason) });
  t.onMessage(() => {
    throw new Error('bug above');
  });
  sock.feed(encodeSip(options()));
  assert.ok(drops.some((d) => /bug above/.test(d)));
});

/** A StreamSocket the test feeds; listening factory hands it to the transport as an inbound connection. */
function fakeStreamFactory() {
  const sockets: Array<StreamSocket & { feed(d: Buffer): void; closed: boolean; written: Buffer[]; buffered: number }> = [];
  let accept: (s: StreamSocket) => void = () => {};
  const factory: StreamSocketFactory = {
    connect: async () => {
      throw new Error('refused');
    },
    listen: async (_h, _p, onConn) => {
      accept = onConn;
      return { address: LO, port: 5060, close: async () => {} };
    },
  };
  const open = (port: number) => {
    let onData: (d: Buffer) => void = () => {};
    let onClose: (why: string) => void = () => {};
    const s = {
      localAddress: LO, localPort: 5060, remoteAddress: '198.51.100.2', remotePort: port,
      closed: false, written: [] as Buffer[], buffered: 0,
      get bufferedBytes() {
        return s.buffered;
      },
      write: (d: Uint8Array) => void s.written.push(Buffer.from(d)),
      onData: (h: (d: Buffer) => void) => (onData = h),
      onClose: (h: (why: string) => void) => (onClose = h),
      close: () => {
        if (s.closed) return;
        s.closed = true;
        onClose('closed locally');
      },
      feed: (d: Buffer) => {
        if (!s.closed) onData(d);
      },
    };
    sockets.push(s);
    accept(s);
    return s;
  };
  return { factory, open, sockets };
}

test('TCP: random chunks never throw, a connection never holds more than the bound, framing errors close it', async () => {
  const f = fakeStreamFactory();
  const t = await StreamTransport.open({ sockets: f.factory, listen: { host: LO, port: 5060 } });
  t.onMessage(() => {});
  const bound = SIP_MAX_HEADER_BYTES + 4 + SIP_MAX_BODY_BYTES + 64 * 1024;
  let port = 10000;
  fc.assert(fc.property(fc.array(fc.oneof(sipish, fc.constant(Buffer.from('\r\n\r\n')), fc.uint8Array({ minLength: 10_000, maxLength: 70_000 }).map((u) => Buffer.from(u))), { maxLength: 12 }), (chunks) => {
    const s = f.open(port++);
    for (const c of chunks) {
      s.feed(c);
      for (const conn of t.connections()) assert.ok(conn.held <= bound, `held ${conn.held}`);
    }
    s.close();
  }), { numRuns: 300 });
  assert.is(t.connections().length, 0);
  // An endless header with no blank line: cut off once it passes the header limit.
  const s = f.open(port++);
  for (let i = 0; i < 40 && !s.closed; i++) s.feed(Buffer.alloc(1024, 0x41));
  assert.ok(s.closed, 'closed after the header limit');
  assert.ok(t.stats.dropped > 0);
  await t.close();
});

test('TCP: a CRLF keep-alive ping gets a CRLF pong (RFC 5626)', async () => {
  const f = fakeStreamFactory();
  const t = await StreamTransport.open({ sockets: f.factory, listen: { host: LO, port: 5060 } });
  const s = f.open(20000);
  s.feed(Buffer.from('\r\n\r\n'));
  assert.equal(s.written.map((b) => b.toString()), ['\r\n']);
  await t.close();
});

test('TCP: a peer that does not read is cut off when the write buffer passes the limit', async () => {
  const f = fakeStreamFactory();
  const t = await StreamTransport.open({ sockets: f.factory, listen: { host: LO, port: 5060 }, maxWriteBufferBytes: 1000 });
  const s = f.open(20001);
  const closed: string[] = [];
  t.onFlowClosed((_p, why) => closed.push(why));
  s.buffered = 5000;
  const err = await t.send(options(), { transport: 'TCP', host: '198.51.100.2', port: 20001 }).catch((e) => e);
  assert.is((err as TransportError).code, 'congested');
  assert.ok(s.closed);
  assert.ok(/not reading/.test(closed[0] ?? ''));
  await t.close();
});

test('TCP: admission refuses a connection; idle connections close on the clock, each at its own limit', async () => {
  const { VirtualClock } = await import('../../src/common/clock.ts');
  const clock = new VirtualClock();
  const f = fakeStreamFactory();
  const t = await StreamTransport.open({ sockets: f.factory, listen: { host: LO, port: 5060 }, idle: { clock, ms: 10_000 }, admit: (p) => p.port !== 666 });
  const refused = f.open(666);
  assert.ok(refused.closed);
  assert.is(t.stats.refused, 1);
  const quiet = f.open(30001);
  const registered = f.open(30002);
  t.setIdle({ host: '198.51.100.2', port: 30002 }, 60_000);
  await clock.advance(6_000);
  quiet.feed(encodeSip(options()));
  await clock.advance(9_999);
  assert.not.ok(quiet.closed, 'traffic at 6 s moved its deadline to 16 s');
  await clock.advance(1);
  assert.ok(quiet.closed);
  assert.not.ok(registered.closed);
  await clock.advance(44_000);
  assert.ok(registered.closed, 'its own 60 s limit');
  await t.close();
});

test('TCP on loopback: one connection both ways, responses back on it, Via sent-by is the connection\'s port', async () => {
  const server = await StreamTransport.open({ sockets: nodeTcpSockets, listen: { host: LO, port: 0 } });
  const client = await StreamTransport.open({ sockets: nodeTcpSockets });
  try {
    const atServer: Array<{ m: SipMessage; from: SipSource }> = [];
    const atClient: SipMessage[] = [];
    server.onMessage((m, from) => atServer.push({ m, from }));
    client.onMessage((m) => atClient.push(m));
    const to = { transport: 'TCP' as const, host: LO, port: server.listening!.port };
    const local = await client.localFor(to);
    await client.send(options(), to);
    await client.send(options(), to);
    await until('two requests', () => atServer.length === 2);
    assert.is(server.stats.accepted, 1, 'the second request reused the connection');
    const via = topVia(atServer[0]!.m)!;
    assert.is(via.transport, 'TCP');
    assert.is(via.port, local.port, 'sent-by is the ephemeral port (what a Cisco phone advertises)');
    const from = atServer[0]!.from;
    assert.is(from.port, local.port);
    // The answer and a request of the server's own both ride the client's connection.
    await server.send(responseTo(atServer[0]!.m as SipRequest, 200), from, { existingOnly: true });
    await server.send(options(), { transport: 'TCP', host: from.host, port: from.port });
    await until('the response and the request', () => atClient.length === 2);
    assert.is(atClient[0]!.kind, 'response');
    assert.is(atClient[1]!.kind, 'request');
    assert.is(topVia(atClient[1]!)!.port, server.listening!.port, 'a listening transport advertises its listening port');
    // Closing the client's end is seen by the server as that flow closing.
    const closed: string[] = [];
    server.onFlowClosed((p) => closed.push(`${p.host}:${p.port}`));
    client.disconnect(to);
    await until('the server to see the close', () => closed.length === 1);
    assert.equal(closed, [`${LO}:${local.port}`]);
    const err = await server.send(options(), { transport: 'TCP', host: from.host, port: from.port }, { existingOnly: true }).catch((e) => e);
    assert.is((err as TransportError).code, 'closed', 'no new connection when only the existing one may be used');
  } finally {
    await client.close();
    await server.close();
  }
});

test('TCP on loopback: 200 KB of garbage closes that connection; the server goes on', async () => {
  const server = await StreamTransport.open({ sockets: nodeTcpSockets, listen: { host: LO, port: 0 } });
  const net = await import('node:net');
  try {
    const got: SipMessage[] = [];
    server.onMessage((m) => got.push(m));
    const sock = net.connect(server.listening!.port, LO);
    sock.on('error', () => {});
    const gone = new Promise<void>((r) => sock.on('close', () => r()));
    await new Promise<void>((r) => sock.on('connect', () => r()));
    sock.write(Buffer.alloc(200_000, 0x7a));
    await gone;
    assert.is(server.connections().length, 0);
    const client = await StreamTransport.open({ sockets: nodeTcpSockets });
    await client.send(options(), { transport: 'TCP', host: LO, port: server.listening!.port });
    await until('a good request', () => got.length === 1);
    await client.close();
  } finally {
    await server.close();
  }
});

test('TCP: an unreachable peer is a TransportError, not a throw elsewhere', async () => {
  const client = await StreamTransport.open({ sockets: nodeTcpSockets, connectTimeoutMs: 2000 });
  const server = await StreamTransport.open({ sockets: nodeTcpSockets, listen: { host: LO, port: 0 } });
  const port = server.listening!.port;
  await server.close();
  const err = await client.send(options(), { transport: 'TCP', host: LO, port }).catch((e) => e);
  assert.instance(err, TransportError);
  assert.is((err as TransportError).code, 'unreachable');
  await client.close();
});

test('TLS on loopback: the client checks the server against the CA it was given', async () => {
  const cert = makeCert('sepi-cm');
  const key = cert.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const server = await openTlsTransport({ tls: { cert: cert.pem, key }, listen: { host: LO, port: 0 } });
  const good = await openTlsTransport({ tls: { ca: [cert.pem] } });
  const stranger = makeCert('someone-else');
  const bad = await openTlsTransport({ tls: { ca: [stranger.pem] }, connectTimeoutMs: 5000 });
  try {
    const got: Array<{ m: SipMessage; from: SipSource }> = [];
    server.onMessage((m, from) => got.push({ m, from }));
    const to = { transport: 'TLS' as const, host: LO, port: server.listening!.port };
    await good.send(options(), to);
    await until('the request over TLS', () => got.length === 1);
    assert.is(topVia(got[0]!.m)!.transport, 'TLS');
    assert.is(got[0]!.from.transport, 'TLS');
    assert.is(header(got[0]!.m, 'cseq'), '1 OPTIONS');
    const err = await bad.send(options(), to).catch((e) => e);
    assert.is((err as TransportError).code, 'unreachable', 'a server outside the given CAs is refused');
  } finally {
    await good.close();
    await bad.close();
    await server.close();
  }
});

test.run();
