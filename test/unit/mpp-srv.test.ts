/**
 * DNS SRV provisioning (reference onboarding-protocol.md §3.1): a Profile_Rule with `[--srv]`
 * names a domain; the phone asks `_ciscoprov-http._tcp.<domain>` or `_ciscoprov-https._tls.<domain>`
 * and fetches from the targets in RFC 2782's order (src/common/srv-order.ts). Real HTTP servers on
 * loopback; the SRV answers come from a stand-in resolver here (dnsmasq serves them in
 * test/e2e/mpp-lan.test.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SystemClock } from '../../src/common/clock.ts';
import { orderSrv } from '../../src/common/srv-order.ts';
import { fetchProfile } from '../../src/phone/mpp/profile-fetch.ts';
import { NodeNetwork } from '../../src/phone/node-ports.ts';
import type { NetworkPort, SrvRecord } from '../../src/phone/ports.ts';

test('RFC 2782 order: lowest priority first, weighted draws within one, weight 0 first in the running, "." is no service', () => {
  const rs = [
    { name: 'c', port: 3, priority: 20, weight: 0 },
    { name: 'a', port: 1, priority: 10, weight: 60 },
    { name: 'b', port: 2, priority: 10, weight: 40 },
    { name: 'z', port: 0, priority: 5, weight: 10 }, // no port: not a target
  ];
  // Draws of the top of the range pick the last of the running: within priority 10, b then a.
  assert.equal(orderSrv(rs, (max) => max).map((r) => r.name), ['b', 'a', 'c']);
  // Draws of 1 pick the first weighted record: a (60), then b.
  assert.equal(orderSrv(rs, () => 1).map((r) => r.name), ['a', 'b', 'c']);
  // A draw of 0 picks a weight-0 record before the weighted ones.
  assert.equal(orderSrv([{ name: 'w', port: 1, priority: 1, weight: 5 }, { name: 'zero', port: 1, priority: 1, weight: 0 }], () => 0).map((r) => r.name), ['zero', 'w']);
  assert.equal(orderSrv([{ name: '.', port: 0, priority: 0, weight: 0 }], () => 0), [], 'the service is decidedly not there');
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) seen.add(orderSrv(rs, (max) => Math.floor(Math.random() * (max + 1)))[0]!.name);
  assert.equal([...seen].sort(), ['a', 'b'], 'random draws start with either of the lowest priority, never the higher');
});

test('[--srv] http://domain/: the first target that answers serves the profile; an unreachable one is skipped; none, a tftp rule and a 404 say so', async () => {
  const served: string[] = [];
  const server = createServer((req, res) => {
    served.push(req.url ?? '');
    if (req.url === '/missing.xml') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/xml' }).end('<flat-profile><Proxy_1_>10.0.0.1</Proxy_1_></flat-profile>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const node = new NodeNetwork();
  const asked: string[] = [];
  let records: SrvRecord[] = [];
  // The SRV answers of a lab's DNS, and its A records for the targets.
  const network: NetworkPort = Object.assign(Object.create(node) as NetworkPort, {
    resolveSrv: async (name: string) => (asked.push(name), records),
    resolve4: async (name: string) => (name.endsWith('.lab') ? ['127.0.0.1'] : node.resolve4(name, [])),
  });
  const deps = { network, clock: new SystemClock(), dns: ['10.0.0.53'], localAddress: undefined, userAgent: 'Cisco-CP-8841-3PCC/12.0 (001122334455)', tftpRequest: {}, maxBytes: 1 << 20, tls: { ca: [] } };
  try {
    // A closed port first (priority 10), the server second (priority 20).
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    records = [{ name: 'prov2.lab', port, priority: 20, weight: 0 }, { name: 'prov1.lab', port: closedPort, priority: 10, weight: 0 }];
    const got = await fetchProfile(deps, { scheme: 'http', host: 'example.lab', port: 80, path: '/$PSN.xml' }, { srv: true }, AbortSignal.timeout(15_000));
    assert.is(got.kind, 'ok', JSON.stringify(got));
    assert.is(got.kind === 'ok' && got.server, `prov2.lab:${port}`, 'the target that served it');
    assert.equal(asked, ['_ciscoprov-http._tcp.example.lab'], 'the http name, for the URL\'s host');
    assert.equal(served, ['/$PSN.xml'], 'fetched once, from the reachable target, at its SRV port');

    const https = await fetchProfile(deps, { scheme: 'https', host: 'example.lab', port: 443, path: '/a.xml' }, { srv: true }, AbortSignal.timeout(15_000));
    assert.is(asked.at(-1), '_ciscoprov-https._tls.example.lab', 'the https name');
    assert.is(https.kind, 'error', 'a plain-HTTP server fails the TLS handshake');

    records = [{ name: 'prov2.lab', port, priority: 0, weight: 0 }];
    const missing = await fetchProfile(deps, { scheme: 'http', host: 'example.lab', port: 80, path: '/missing.xml' }, { srv: true }, AbortSignal.timeout(15_000));
    assert.equal([missing.kind, missing.kind === 'error' && missing.notFound], ['error', true], 'a 404 is the answer: not found');

    records = [];
    const none = await fetchProfile(deps, { scheme: 'http', host: 'example.lab', port: 80, path: '/a.xml' }, { srv: true }, AbortSignal.timeout(15_000));
    assert.ok(none.kind === 'error' && /no SRV record _ciscoprov-http\._tcp\.example\.lab/.test(none.reason), JSON.stringify(none));
    const tftp = await fetchProfile(deps, { scheme: 'tftp', host: 'example.lab', port: 69, path: '/a.xml' }, { srv: true }, AbortSignal.timeout(15_000));
    assert.ok(tftp.kind === 'error' && /http and https only/.test(tftp.reason), JSON.stringify(tftp));
    const before = asked.length;
    const direct = await fetchProfile(deps, { scheme: 'http', host: '127.0.0.1', port, path: '/direct.xml' }, { srv: true }, AbortSignal.timeout(15_000));
    assert.equal([direct.kind, asked.length], ['ok', before], 'an address needs no SRV');
  } finally {
    await node.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test.run();
