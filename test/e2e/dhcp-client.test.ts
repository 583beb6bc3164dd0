/**
 * The phone's DHCP client against dnsmasq and the companion in namespaces, with virtual time
 * for the lease timers: renewal at T1 unicast to the server, rebinding broadcast at T2, the
 * lease lost at expiry once the server is gone, and INIT-REBOOT refused (NAK) back to INIT.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Lab } from '../support/lab.ts';
import { needs } from '../support/proc.ts';
import { ROOT, startCompanion, tempDir } from '../support/sepi.ts';

const dhcp = suite('DHCP client timers and NAK against real servers');
let lab: Lab;
let dir = '';
const PROBE = join(ROOT, 'test/e2e/helpers/dhcp-probe.ts');

type Line = Record<string, unknown> & { event?: { kind: string; type?: string; to?: string }; phase?: string };

dhcp.before(async () => {
  await needs('dnsmasq');
  lab = await Lab.create('10.80.0');
  dir = await tempDir('dhcp');
});
dhcp.after.each(async () => lab.dropHosts());
dhcp.after(async () => {
  await lab?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const dnsmasq = (leases: string) =>
  lab.spawn('dnsmasq', lab.server, 'dnsmasq', [
    '--keep-in-foreground', '--conf-file=/dev/null', '--interface=br0', '--bind-interfaces', '--port=0', '--no-ping', '--log-dhcp', '--log-facility=-',
    '--dhcp-range=10.80.0.100,10.80.0.150,255.255.255.0,2m', '--dhcp-option=150,10.80.0.1', '--dhcp-authoritative', `--dhcp-leasefile=${leases}`, '--user=root', '--pid-file=',
  ]);

async function renewThenLose(server: { kill(): Promise<void> }, ns: string) {
  const probe = lab.spawn('probe', ns, process.execPath, [PROBE, 'eth0', '00:11:22:33:44:d1'], {}, true);
  const bound = await probe.waitForEvent('a lease', (e) => e['phase'] === 'bound', 60_000);
  const lease = bound['lease'] as { address: string; serverId: string; leaseSecs: number; t1Secs: number; t2Secs: number; boundAt: number };
  await probe.waitForEvent('the renewal', (e) => e['phase'] === 'waiting-for-server-gone', 60_000);
  const lines = probe.events() as Line[];
  const iBound = lines.findIndex((l) => l.phase === 'bound');
  const renewSend = lines.slice(iBound).find((l) => l.event?.kind === 'send')!;
  assert.is(renewSend.event!.to, lease.serverId, 'RENEWING is unicast to the server');
  const renewedAt = Number(lines.find((l) => l.phase === 'renewed')!['vt']);
  // T1 counts from the ACK (the lease's boundAt), not from when the probe printed "bound": the
  // probe's virtual clock may have stepped on a little before it printed (this flaked under load).
  const boundAt = Number(lease.boundAt);
  assert.ok(renewedAt - boundAt >= lease.t1Secs * 1000, 'not before T1');
  assert.ok(renewedAt - boundAt < lease.t2Secs * 1000, 'before T2');
  await server.kill();
  probe.send('server-gone');
  const done = await probe.waitForEvent('the lease running out', (e) => e['phase'] === 'done', 120_000);
  assert.match(String(done['lost']), /expired without renewal/);
  const after = (probe.events() as Line[]).slice(lines.length);
  const sends = after.filter((l) => l.event?.kind === 'send').map((l) => l.event!.to);
  assert.ok(sends.includes(lease.serverId), 'renewal attempts go to the server');
  assert.ok(sends.includes('255.255.255.255'), 'REBINDING broadcasts after T2');
  assert.ok(sends.indexOf('255.255.255.255') > sends.indexOf(lease.serverId));
  return lease;
}

dhcp('dnsmasq: renew at T1, rebind at T2, lost at expiry (virtual time)', async () => {
  const server = dnsmasq(join(dir, 'a.leases'));
  const ns = await lab.addHost('renew', { mac: '00:11:22:33:44:d1' });
  const lease = await renewThenLose(server, ns);
  assert.is(lease.leaseSecs, 120);
  assert.is(lease.serverId, '10.80.0.1');
});

dhcp('dnsmasq: a stored lease from elsewhere gets NAK, and the client starts over', async () => {
  dnsmasq(join(dir, 'b.leases'));
  const ns = await lab.addHost('nak', { mac: '00:11:22:33:44:d2' });
  const probe = lab.spawn('probe', ns, process.execPath, [PROBE, 'eth0', '00:11:22:33:44:d2', '192.168.55.5'], {}, true);
  const bound = await probe.waitForEvent('a lease', (e) => e['phase'] === 'bound', 60_000);
  const kinds = (probe.events() as Line[]).filter((l) => l.event).map((l) => `${l.event!.kind}${l.event!.type ? `:${l.event!.type}` : ''}`);
  assert.equal(kinds.slice(0, 5), ['send:REQUEST', 'nak', 'send:DISCOVER', 'offer', 'send:REQUEST']);
  assert.match((bound['lease'] as { address: string }).address, /^10\.80\.0\.1\d\d$/);
});

dhcp('companion: renew at T1 and rebind at T2 against the npm dhcp server', async () => {
  const data = await tempDir('dhcp-cm');
  const companion = await startCompanion(lab, data, { dhcp: { leaseSecs: 120 } });
  const ns = await lab.addHost('cmrenew', { mac: '00:11:22:33:44:d1' });
  const lease = await renewThenLose(companion, ns);
  assert.is(lease.serverId, '10.80.0.1');
  await rm(data, { recursive: true, force: true });
});

dhcp.run();
