/**
 * A Multiplatform phone's firmware upgrade by `Upgrade_Rule` (src/phone/mpp/upgrade.ts), in
 * virtual time against the in-process companion: Device Defaults name a load for the 8841, the
 * companion's profile carries `Upgrade_Rule http://<companion>:6970/<load>.loads`, and the phone
 * installs it in bank B, reboots on it, registers and the trial passes; the next boot does not
 * install it again. `Upgrade_Enable` No, or no firmware signer, leaves the running load.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import type { Companion } from '../../src/cm/companion.ts';
import type { StepEvent } from '../../src/phone/events.ts';
import { parseFlatProfile } from '../../src/wire/flat-profile.ts';
import { makeCert } from '../support/certs.ts';
import { Harness, type HarnessPhone } from '../support/harness.ts';
import { publishLoad } from '../support/test-load.ts';

const t = suite('Upgrade_Rule on a Multiplatform phone');
const signer = makeCert('sepi firmware signer (mpp test)');
const LOAD = 'sepi88xx.3-0-0-0001';
let h: Harness;
let c: Companion;

const powerOn = (p: HarnessPhone) => p.steps().filter((e) => e.step === 'power' && e.state === 'start') as Array<StepEvent & { load?: string; reason?: string }>;
const registered = (e: StepEvent) => e.step === 'register' && e.state === 'done';
const profileUrl = () => `http://127.0.0.1:${c.endpoints.http}/mpp/$PSN/$MA.xml`;

t.before.each(async () => {
  h = await Harness.start({ companion: false });
  h.dhcp.tftpServer = '';
  c = await h.startCompanion({ edos: {}, phones: [{ mac: '0022905c1a41', model: '8841', dn: '1441' }, { mac: '0022905c1a42', model: '8841', dn: '1442' }] });
  await publishLoad(join(h.dataFolder, 'tftp-root'), LOAD, signer);
  expectOk(c.loads.setDefault({ model: '8841', load: LOAD }));
  // DHCP option 160 names the companion's profile: customization Aborted, no EDOS.
  h.dhcp.extraOptions.set(160, Buffer.from(profileUrl()));
});
t.after.each(async () => {
  await h?.stop();
});

t('Device Defaults name a load: the profile\'s Upgrade_Rule installs it, the phone reboots on it, registers, the trial passes, and it is not installed again', async () => {
  const profile = parseFlatProfile(Buffer.from(await (await fetch(`http://127.0.0.1:${c.endpoints.http}/mpp/8841/0022905c1a41.xml`)).arrayBuffer()));
  assert.ok(profile.ok);
  assert.is(profile.value.params.get('Upgrade_Rule')?.value, `http://${expectOk(c.status.get()).address}:${c.endpoints.http}/${LOAD}.loads`, 'the profile names the load');

  const p = h.phone('0022905c1a41', { persona: 'mpp', firmwareCert: signer.pem });
  const installed = await h.event(p, 'installed', (e) => e.step === 'load' && e.state === 'done');
  assert.ok('bank' in installed && installed.bank === 'B');
  const start = p.steps().find((e) => e.step === 'load' && e.state === 'start');
  assert.ok(start && 'wantedLoad' in start && start.wantedLoad === LOAD && 'server' in start && start.server === '127.0.0.1', JSON.stringify(start));
  const at = p.steps().findIndex((e) => e.step === 'load' && e.state === 'done');
  assert.not.ok(p.steps().slice(0, at).some(registered), 'upgraded before the line registered');
  await h.event(p, 'registered on the new load', registered, at);
  await h.event(p, 'trial passed', (e) => e.step === 'load' && 'trial' in e && e.trial === 'passed');
  const boots = powerOn(p);
  assert.equal([boots[1]?.load, boots[1]?.reason], [LOAD, 'load-installed']);
  assert.is(p.steps().filter((e) => e.step === 'load' && e.state === 'done').length, 1, 'the rule names the running load now: nothing installed again');
  assert.is(p.nvram.names().filter((n) => n.startsWith('bank-b/')).length, 2, 'both components in bank B');
});

t('Upgrade_Enable No in the provider\'s profile, or no firmware signer: the running load stays and the line registers', async () => {
  expectOk(c.mpp.setProfile('00:22:90:5c:1a:41', { profile: Buffer.from('<flat-profile><Upgrade_Enable>No</Upgrade_Enable></flat-profile>').toString('base64') }));
  const off = h.phone('0022905c1a41', { persona: 'mpp', firmwareCert: signer.pem });
  await h.event(off, 'registered', registered);
  assert.not.ok(off.steps().some((e) => e.step === 'load'), 'no load step at all');

  const unsigned = h.phone('0022905c1a42', { persona: 'mpp' });
  const refused = await h.event(unsigned, 'refused', (e) => e.step === 'load' && e.state === 'fail');
  assert.match(refused.message, /no firmware signer/);
  await h.event(unsigned, 'registered on the factory load', registered);
  assert.equal(powerOn(unsigned).map((b) => b.reason === 'load-installed'), [false]);
});

t('a rule whose query holds a /: the load found in the path, the query asked with every file', async () => {
  const asked: string[] = [];
  c.loads.setDefault({ model: '8841', load: '' });
  // The companion's own HTTP 6970 ignores the query; the rule is the provider's, uploaded.
  const base = `http://127.0.0.1:${c.endpoints.http}`;
  expectOk(c.mpp.setProfile('00:22:90:5c:1a:41', { profile: Buffer.from(`<flat-profile><Upgrade_Rule>${base}/${LOAD}.loads?mac=$MA&amp;x=a/b</Upgrade_Rule></flat-profile>`).toString('base64') }));
  const p = h.phone('0022905c1a41', { persona: 'mpp', firmwareCert: signer.pem });
  const installed = await h.event(p, 'installed', (e) => e.step === 'load' && e.state === 'done');
  assert.ok('load' in installed && installed.load === LOAD);
  for (const l of h.companionLog) if (/sepi88xx\.3-0-0-0001/.test(l) && /http/i.test(l)) asked.push(l);
  assert.ok(asked.length >= 3, `the list and both components over HTTP: ${asked.join('\n')}`);
});

t.run();
