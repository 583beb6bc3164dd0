/**
 * A Multiplatform phone's provisioning parts over real HTTP on loopback: the parameters it
 * keeps (defaults, partial updates, unknown names ignored, secrets masked, NVRAM), one resync
 * (macros in the URL, redirects, 404 and 5xx, `--key` decryption, gzip, `_B` after
 * `Profile_Rule`, conditions), and which DHCP option provisions it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SystemClock } from '../../src/common/clock.ts';
import { writeFlatProfile } from '../../src/wire/flat-profile.ts';
import { MacAddress } from '../../src/wire/mac.ts';
import { modelByName } from '../../src/wire/models.ts';
import { NodeNetwork } from '../../src/phone/node-ports.ts';
import { MemoryNvram } from '../../src/phone/nvram.ts';
import type { StepReport } from '../../src/phone/events.ts';
import type { DhcpLease } from '../../src/phone/dhcp-client.ts';
import { MppParameters } from '../../src/phone/mpp/parameters.ts';
import { asMppModel, mppIdentity } from '../../src/phone/mpp/identity.ts';
import { Resync } from '../../src/phone/mpp/resync.ts';
import { dhcpProvisioning } from '../../src/phone/mpp/dhcp-provisioning.ts';

const t = suite('Multiplatform provisioning');
const mac = MacAddress.parse('00:22:90:5c:1a:2b')!;
const id = mppIdentity(asMppModel(modelByName('8841')!), mac);
const network = new NodeNetwork();
let server: Server;
let base = '';
const asked: Array<{ url: string; ua: string; auth: string }> = [];
let route: (req: IncomingMessage, res: ServerResponse) => void = (_q, res) => res.writeHead(404).end();

t.before(async () => {
  server = createServer((req, res) => {
    asked.push({ url: req.url ?? '', ua: String(req.headers['user-agent']), auth: String(req.headers.authorization ?? '') });
    route(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
t.after(async () => {
  server.close();
  await network.close();
});
t.before.each(() => {
  asked.length = 0;
});

const profile = (p: Record<string, string>, o: { key?: string; gzip?: boolean } = {}) => writeFlatProfile(Object.entries(p).map(([k, v]) => [k, { value: v }] as const), o);

async function resyncWith(rules: Record<string, string>, o: { report?: StepReport[] } = {}) {
  const params = await MppParameters.load(new MemoryNvram());
  await params.set(rules);
  const reports = o.report ?? [];
  const r = new Resync({
    id, params, clock: new SystemClock(), report: (e) => reports.push(e), option66: undefined,
    context: () => ({ ip: '10.0.0.5', customized: false, clientCertificate: true }),
    fetch: { network, clock: new SystemClock(), dns: [], localAddress: undefined, userAgent: id.userAgent, tftpRequest: {}, maxBytes: 1 << 20, tls: { ca: [] } },
  });
  return { params, resync: r, reports };
}

t('parameters: documented defaults, partial updates, unknown names ignored, secrets masked, kept in NVRAM', async () => {
  const nvram = new MemoryNvram();
  const p = await MppParameters.load(nvram);
  assert.is(p.get('Profile_Rule'), '/$PSN.xml');
  assert.equal(p.dhcpOptionsToUse(), [66, 160, 159, 150, 60, 43, 125]);
  assert.is(p.errorRetrySecs(0), 60);
  assert.is(p.errorRetrySecs(50), 86400);
  const changed = await p.apply({ params: new Map([['Proxy_1_', { value: '10.0.0.1' }], ['Password_1_', { value: 's3cret' }], ['No_Such_Thing', { value: 'x' }], ['User_ID_1_', { value: '2001' }]]), encrypted: false, gzipped: false });
  assert.equal(changed.sort(), ['Password_1_', 'Proxy_1_', 'User_ID_1_']);
  assert.is(p.all()['Password_1_'], '********');
  assert.is(p.all({ secrets: true })['Password_1_'], 's3cret');
  assert.not.ok('No_Such_Thing' in p.all());
  const again = await MppParameters.load(nvram);
  assert.equal(again.lines()[0], { index: 1, proxy: '10.0.0.1', port: 5060, transport: 'UDP', userId: '2001', authId: '2001', password: 's3cret', displayName: '' });
  // A bad value by hand is refused whole: nothing of the batch is taken.
  const bad = await again.set({ Proxy_2_: '10.0.0.2', Profile_Rule: '( $A eq 1 ) http://x/' });
  assert.is(bad.ok, false);
  assert.is(again.get('Proxy_2_'), '');
});

t('a resync expands macros, sends the Multiplatform User-Agent, applies the profile and says so', async () => {
  route = (req, res) => (req.url === '/cisco/8841/0022905c1a2b.xml' ? res.end(profile({ Proxy_1_: 'pbx.lab', User_ID_1_: '4001' })) : res.writeHead(404).end());
  const { params, resync, reports } = await resyncWith({ Profile_Rule: `${base}/cisco/$PSN/$MA.xml` });
  const r = await resync.run('power-up', new AbortController().signal);
  assert.is(r.kind, 'ok');
  assert.equal(r.kind === 'ok' && r.changed.sort(), ['Proxy_1_', 'User_ID_1_']);
  assert.is(params.get('Proxy_1_'), 'pbx.lab');
  assert.is(asked[0]?.ua, 'Cisco-CP-8841-3PCC/12.0.1 (0022905c1a2b)');
  const done = reports.find((e) => e.step === 'profile' && e.state === 'done');
  assert.ok(done && 'params' in done && done.params === 2);
});

t('301 and 302 are followed at once; 404 and 503 fail the resync with the status', async () => {
  route = (req, res) => {
    if (req.url === '/old') return res.writeHead(301, { location: '/mid' }).end();
    if (req.url === '/mid') return res.writeHead(302, { location: `${base}/new` }).end();
    if (req.url === '/new') return res.end(profile({ Resync_Periodic: '600' }));
    if (req.url === '/busy') return res.writeHead(503).end();
    res.writeHead(404).end();
  };
  const ok = await resyncWith({ Profile_Rule: `${base}/old` });
  assert.is((await ok.resync.run('explicit', new AbortController().signal)).kind, 'ok');
  assert.is(ok.params.periodicSecs(), 600);
  for (const [path, status] of [['/gone', 404], ['/busy', 503]] as const) {
    const { resync, reports } = await resyncWith({ Profile_Rule: `${base}${path}` });
    const r = await resync.run('periodic', new AbortController().signal);
    assert.is(r.kind, 'error');
    const fail = reports.find((e) => e.step === 'profile' && e.state === 'fail');
    assert.ok(fail && 'status' in fail && fail.status === status, `${path}: ${JSON.stringify(fail)}`);
  }
});

t('--key decrypts an openssl-encrypted, gzipped profile; a wrong key fails and no key is ever reported', async () => {
  route = (_q, res) => res.end(profile({ Station_Name: 'lab-1' }, { key: 'Sekrit-99', gzip: true }));
  const good = await resyncWith({ Profile_Rule: `[--key Sekrit-99] ${base}/enc.cfg` });
  assert.is((await good.resync.run('power-up', new AbortController().signal)).kind, 'ok');
  assert.is(good.params.get('Station_Name'), 'lab-1');
  const done = good.reports.find((e) => e.step === 'profile' && e.state === 'done');
  assert.ok(done && 'encrypted' in done && done.encrypted && done.gzipped);
  const wrong = await resyncWith({ Profile_Rule: `[--key nope] ${base}/enc.cfg` });
  const r = await wrong.resync.run('power-up', new AbortController().signal);
  assert.is(r.kind, 'error');
  assert.match(r.kind === 'error' ? r.reason : '', /key/);
  assert.not.match(JSON.stringify([...good.reports, ...wrong.reports]), /Sekrit|nope/);
});

t('Profile_Rule_B runs after Profile_Rule; a condition picks the alternative; basic credentials go with --uid', async () => {
  route = (req, res) => res.end(profile({ [`GPP_${req.url === '/a' ? 'A' : req.url === '/b' ? 'B' : 'C'}`]: req.url ?? '' }));
  const { params, resync } = await resyncWith({
    Profile_Rule: `( $PSN eq 8841 )? ${base}/a | ${base}/c`,
    Profile_Rule_B: `[--uid lab --pwd pw] ${base}/b`,
  });
  assert.is((await resync.run('power-up', new AbortController().signal)).kind, 'ok');
  assert.is(params.get('GPP_A'), '/a');
  assert.is(params.get('GPP_B'), '/b');
  assert.is(params.get('GPP_C'), '');
  assert.is(asked[1]?.auth, `Basic ${Buffer.from('lab:pw').toString('base64')}`);
});

t('DHCP provisioning follows DHCP_Option_To_Use: 160 before 150, and nothing without the options', () => {
  const lease = { tftpServers: ['10.0.0.9'], tftpServerName: undefined, option160: 'http://prov/$MA.xml' } as unknown as DhcpLease;
  const own = [{ name: 'Profile_Rule', text: '/$PSN.xml' }];
  const p = dhcpProvisioning(lease, [66, 160, 159, 150], own);
  assert.is(p?.option, 160);
  assert.equal(p?.rules, [{ name: 'DHCP option 160', text: 'http://prov/$MA.xml' }]);
  assert.is(dhcpProvisioning(lease, [150, 160], own)?.option, 150);
  assert.is(dhcpProvisioning(lease, [150, 160], own)?.option66, '10.0.0.9');
  assert.is(dhcpProvisioning({ tftpServers: [], tftpServerName: undefined } as unknown as DhcpLease, [66, 160, 159, 150], own), undefined);
});

t.run();
