/**
 * The phone's TVS client against the companion's TVS server over real TLS on loopback: valid
 * and invalid answers, the answer cached for its TTL, a server whose certificate is not the
 * ITL's refused, and a bad request answered "invalid" and closed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { CompanionPki } from '../../src/cm/pki.ts';
import { TvsServer } from '../../src/cm/tvs-server.ts';
import { SystemClock } from '../../src/common/clock.ts';
import { NodeNetwork } from '../../src/phone/node-ports.ts';
import { TvsClient } from '../../src/phone/tvs-client.ts';
import { Role } from '../../src/wire/tlv.ts';
import { decodeTvs } from '../../src/wire/tvs.ts';
import { makeCert } from '../support/certs.ts';
import { freeTcpPort } from '../support/proc.ts';

let dir = '';
let pki: CompanionPki;
let server: TvsServer;
let port = 0;
const log: string[] = [];
const network = new NodeNetwork();

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sepi-tvs-'));
  pki = await CompanionPki.open(dir, '127.0.0.1');
  port = await freeTcpPort();
  server = new TvsServer(pki, 3600, (e) => log.push(`${e.result} ${e.detail}`));
  await server.start('127.0.0.1', port);
});

test.after(async () => {
  await server.stop();
  await network.close();
  await rm(dir, { recursive: true, force: true });
});

const client = () => new TvsClient({ network, clock: new SystemClock(), deviceName: 'CP-8841-SEP001122334455' });
const target = () => [{ host: '127.0.0.1', port }];

test('the companion\'s own certificates are valid with their roles; a stranger is invalid', async () => {
  const c = client();
  const tvsCert = [pki.get('tvs').facts.der];
  const sast = await c.verify(pki.get('sast').facts.der, target(), tvsCert);
  assert.equal({ kind: sast.kind, roles: sast.kind === 'valid' ? sast.roles : [] }, { kind: 'valid', roles: [Role.SAST] });
  const tftp = await c.verify(pki.get('tftp').facts.der, target(), tvsCert);
  assert.ok(tftp.kind === 'valid' && tftp.roles[0] === Role.CCM_TFTP && tftp.ttlSecs === 3600);
  const stranger = makeCert('Stranger');
  assert.is((await c.verify(stranger.der, target(), tvsCert)).kind, 'invalid');
  // After an import, the same stranger is vouched for.
  await pki.importTrusted(stranger.der, [Role.SAST], 'test');
  assert.is((await client().verify(stranger.der, target(), tvsCert)).kind, 'valid');
});

test('a valid answer is cached for its TTL: asked again with the server gone, it still holds', async () => {
  const c = client();
  const tvsCert = [pki.get('tvs').facts.der];
  assert.is((await c.verify(pki.get('sast').facts.der, target(), tvsCert)).kind, 'valid');
  const asked = log.length;
  assert.is((await c.verify(pki.get('sast').facts.der, [{ host: '127.0.0.1', port: 1 }], tvsCert)).kind, 'valid');
  assert.is(log.length, asked, 'no second request reached the server');
});

test('a TVS whose certificate is not in the ITL is not believed', async () => {
  const r = await client().verify(pki.get('sast').facts.der, target(), [makeCert('Other TVS').der]);
  assert.ok(r.kind === 'unreachable' && /not in the ITL/.test(r.reason));
  const none = await client().verify(pki.get('sast').facts.der, [{ host: '127.0.0.1', port: await freeTcpPort() }], [pki.get('tvs').facts.der]);
  assert.ok(none.kind === 'unreachable' && /refused/.test(none.reason));
});

test('a bad request gets "invalid" and the connection closes', async () => {
  const answer = await new Promise<Buffer>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => s.write(Buffer.from('570101000000002a00050100020000', 'hex')));
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
    s.on('end', () => resolve(buf));
    s.on('error', reject);
  });
  const m = decodeTvs(answer);
  assert.ok(m.ok && m.value.kind === 'verify-response' && !m.value.valid && m.value.session === 42);
  assert.ok(log.some((l) => l.startsWith('bad-request')));
});

test.run();
