/**
 * The companion's DHCP server against a client nobody here wrote: the npm `dhcp` package's
 * client (the package whose server the companion used to wrap). It sends option 57, an ASCII
 * option 61 and a REQUEST without a server identifier (INIT-REBOOT, to us); it must get bound
 * with the companion's options, 150 among them.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../support/lab.ts';
import { ROOT, TempDirs, startCompanion } from '../support/sepi.ts';

const npm = suite('companion DHCP against the npm dhcp client');
let lab: Lab;
const dirs = new TempDirs();

npm.before(async () => {
  lab = await Lab.create('10.91.0');
});

npm.after(async () => {
  await lab?.destroy();
  await dirs.removeAll();
});

// Option 150 is not in the package's table: without addOption its client throws on the ACK.
const CLIENT = `
import { createRequire } from 'node:module';
const dhcp = createRequire(${JSON.stringify(`${ROOT}/package.json`)})('dhcp');
dhcp.addOption(150, { name: 'TFTP server address', type: 'IPs', config: 'tftpServers' });
const client = dhcp.createClient({ mac: '02:00:00:00:87:01', features: ['tftpServer', 'tftpServers'] });
client.on('bound', (s) => { console.log(JSON.stringify({ bound: { address: s.address, server: s.server, options: s.options, leasePeriod: s.leasePeriod, renewPeriod: s.renewPeriod, rebindPeriod: s.rebindPeriod } })); process.exit(0); });
client.on('error', (e) => console.log(JSON.stringify({ error: String(e) })));
client.listen(68, '0.0.0.0', () => client.sendDiscover());
setTimeout(() => { console.log(JSON.stringify({ error: 'no lease in 20 s' })); process.exit(1); }, 20000);
`;

npm('the npm dhcp client is bound with the companion\'s lease and options', async () => {
  const companion = await startCompanion(lab, await dirs.make('cm'), { security: { mode: 'none' }, dhcp: { leaseSecs: 600 } });
  const ns = await lab.addHost('npm', { mac: '02:00:00:00:87:01' });
  await lab.ns(ns, 'ip', 'route', 'add', '255.255.255.255/32', 'dev', 'eth0');
  const client = lab.spawn('npm-dhcp', ns, process.execPath, ['--input-type=module', '-e', CLIENT]);
  assert.is(await client.exit(30_000), 0, `${client.tail()}\n${companion.tail()}`);
  const { bound } = client.events().find((e) => e['bound']) as { bound: { address: string; server: string; options: Record<string, unknown>; leasePeriod: number; renewPeriod: number; rebindPeriod: number } };
  assert.match(bound.address, /^10\.91\.0\.1\d\d$/);
  assert.is(bound.server, '10.91.0.1');
  assert.equal([bound.leasePeriod, bound.renewPeriod, bound.rebindPeriod], [600, 300, 525]);
  assert.is(bound.options['netmask'], '255.255.255.0');
  assert.equal(bound.options['router'], ['10.91.0.1']);
  assert.is(bound.options['tftpServer'], '10.91.0.1');
  assert.equal(bound.options['tftpServers'], ['10.91.0.1']);
  assert.ok(companion.lines.some((l) => new RegExp(`dhcp ack 020000008701 ${bound.address.replace(/\./g, '\\.')} \\(INIT-REBOOT\\)`).test(l)), companion.tail());
});

npm.run();
