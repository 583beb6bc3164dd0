/**
 * The Multiplatform boot flow in virtual time against the in-process companion (its EDOS
 * stand-in and provisioning server): every customization transition, the EDOS ladder to its
 * 86400 s cap, a restart while Pending starting the ladder again, Profile_Rule set by hand
 * aborting Pending, DHCP option 160 aborting Open, a redirect that fails and then succeeds
 * (Custom-Pending on Resync_Error_Retry_Delay), the state surviving reboots, a factory reset
 * returning to Open, and the LCD's Product information page saying the state.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFlatProfile } from '../../src/wire/flat-profile.ts';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import type { Companion } from '../../src/cm/companion.ts';
import type { StepEvent } from '../../src/phone/events.ts';
import { Harness, type HarnessPhone } from '../support/harness.ts';

const t = suite('the Multiplatform flow in virtual time');
let h: Harness;
let c: Companion;
let edosUrl = '';

type Cust = StepEvent & { customization: string; inSecs?: number };
const states = (p: HarnessPhone) => p.steps().filter((e): e is Cust & { at: number } => e.step === 'customization' && e.state === 'done').map((e) => e.customization);
const retries = (p: HarnessPhone, from = 0) => p.steps().slice(from).filter((e): e is Cust & { at: number } => e.step === 'customization' && e.state === 'retry');
const profileUrl = () => `http://127.0.0.1:${c.endpoints.http}/mpp/$PSN/$MA.xml`;

t.before.each(async () => {
  h = await Harness.start({ companion: false });
  // No option 150: the phone has nothing from DHCP and goes to EDOS.
  h.dhcp.tftpServer = '';
  c = await h.startCompanion({ edos: {}, web: { port: 0 }, phones: [{ mac: '0022905c1a31', model: '8841', dn: '1401' }, { mac: '0022905c1a32', model: '8841', dn: '1402' }] });
  edosUrl = expectOk(c.status.get()).edosUrl!;
});
t.after.each(async () => {
  await h?.stop();
});

t('EDOS errors walk the ladder 60, 120 … 86400 and stay there; a restart while Pending starts at 60 again', async () => {
  expectOk(c.mpp.setRule({ mac: '0022905c1a31', fault: '503' }));
  const p = h.phone('0022905c1a31', { persona: 'mpp', edosUrl });
  await h.until('14 retries', () => retries(p).length >= 14 || undefined, 10 * 86_400_000);
  const ladder = retries(p).map((e) => e.inSecs);
  assert.equal(ladder.slice(0, 14), [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720, 61440, 86400, 86400, 86400]);
  // The waits are what the events say (virtual time), nominal seconds.
  const r = retries(p);
  const askAt = p.steps().filter((e) => e.step === 'customization' && e.state === 'start').map((e) => e.at);
  assert.is(Math.round((askAt[12]! - r[11]!.at) / 1000), 86400);
  assert.equal(states(p).filter((s, i, a) => s !== a[i - 1]), ['Open', 'Pending']);
  const before = p.steps().length;
  p.handset.firmware.restart();
  await h.until('a retry after the restart', () => retries(p, before).length >= 2 || undefined, 3_600_000);
  assert.equal(retries(p, before).map((e) => e.inSecs), [60, 120]);
  // The state survived the restart: it says Pending at boot.
  const atBoot = p.steps().slice(before).find((e): e is Cust & { at: number } => e.step === 'customization' && e.state === 'done');
  assert.is(atBoot?.customization, 'Pending');
});

t('Profile_Rule set by hand while Pending: Aborted, final; the phone provisions from the rule and registers', async () => {
  expectOk(c.mpp.setRule({ mac: '0022905c1a31', fault: '503' }));
  const p = h.phone('0022905c1a31', { persona: 'mpp', edosUrl });
  await h.until('Pending, waiting on the ladder', () => retries(p).length > 0 || undefined);
  const r = await p.handset.firmware.configure({ Profile_Rule: profileUrl() }, 'web');
  assert.ok(r.ok);
  await h.until('registered', () => p.steps().find((e) => e.step === 'register' && e.state === 'done'));
  // Each boot also says the state it starts in; the changes themselves are Open, Pending, Aborted.
  assert.equal(states(p).filter((x, i, a) => x !== a[i - 1]), ['Open', 'Pending', 'Aborted']);
  const aborted = p.steps().find((e): e is Cust & { at: number } => e.step === 'customization' && e.customization === 'Aborted');
  assert.match(aborted?.message ?? '', /Profile_Rule set by hand \(web\)/);
  // Final: a restart does not ask EDOS again.
  const asked = (expectOk(c.mpp.listRules()).requests['0022905c1a31'] ?? 0);
  const before = p.steps().length;
  p.handset.firmware.restart();
  await h.until('registered again', () => p.steps().slice(before).find((e) => e.step === 'register' && e.state === 'done'));
  assert.is(expectOk(c.mpp.listRules()).requests['0022905c1a31'] ?? 0, asked);
  assert.is(p.handset.status.customization, 'Aborted');
  // A bad rule by hand is refused and changes nothing.
  const bad = await p.handset.firmware.configure({ Profile_Rule: '( $A eq )? x' }, 'web');
  assert.is(bad.ok, false);
});

t('the line proxy typed on the keypad (Applications > 7, after **#) while Pending: Aborted', async () => {
  expectOk(c.mpp.setRule({ mac: '0022905c1a35', fault: '500' }));
  const p = h.phone('0022905c1a35', { persona: 'mpp', edosUrl });
  await h.until('Pending, waiting on the ladder', () => retries(p).length > 0 || undefined);
  for (const k of ['settings', '*', '*', '#', '7', '1', '2', '7', '*', '0', '*', '*', '0', '*', '1', 'back', '1'] as const) p.handset.ui.press(k);
  assert.match(p.handset.frame().rows.join('\n'), /Line 1 proxy[\s\S]*127\.0\.0\.1_/);
  assert.match(p.handset.frame().rows[0]!, /Line 1 proxy/);
  p.handset.ui.press('soft1');
  await h.until('Aborted', () => states(p).includes('Aborted') || undefined);
  assert.is((await p.handset.firmware.parameters())['Proxy_1_'], '127.0.0.1');
  const aborted = p.steps().find((e): e is Cust & { at: number } => e.step === 'customization' && e.customization === 'Aborted');
  assert.match(aborted?.message ?? '', /Proxy_1_ set by hand \(keypad\)/);
});

t('DHCP option 160 naming a profile that downloads: Open to Aborted without asking EDOS', async () => {
  h.dhcp.extraOptions.set(160, Buffer.from(profileUrl()));
  const p = h.phone('0022905c1a32', { persona: 'mpp', edosUrl });
  await h.until('registered', () => p.steps().find((e) => e.step === 'register' && e.state === 'done'));
  assert.equal(states(p), ['Open', 'Aborted']);
  assert.is(expectOk(c.mpp.listRules()).requests['0022905c1a32'], undefined);
  // Periodic resync (the companion's profile says Resync_Periodic 3600) from option 160's URL.
  const scheduled = p.steps().find((e) => e.step === 'profile' && e.state === 'progress' && 'inSecs' in e);
  assert.ok(scheduled && 'inSecs' in scheduled && scheduled.inSecs === 3600, JSON.stringify(scheduled));
  const periodic = await h.until('a periodic resync', () => p.steps().find((e) => e.step === 'profile' && e.state === 'done' && 'trigger' in e && e.trigger === 'periodic'), 2 * 3_600_000);
  assert.is(Math.round((periodic.at - scheduled!.at) / 1000), 3600);
  assert.match('url' in periodic ? periodic.url : '', /\/mpp\/8841\/0022905c1a32\.xml$/);
});

t('a redirect that fails stays Custom-Pending on Resync_Error_Retry_Delay, survives a reboot, then Acquired; factory reset returns to Open', async () => {
  // The provider's server (here the companion's file folder on HTTP 6970) does not have the file yet.
  expectOk(c.mpp.setRule({ mac: '0022905c1a33', profileRule: `http://127.0.0.1:${c.endpoints.http}/provider/$MA.xml` }));
  const p = h.phone('0022905c1a33', { persona: 'mpp', edosUrl });
  await h.until('two redirect retries', () => retries(p).filter((e) => e.customization === 'Custom-Pending').length >= 2 || undefined);
  assert.equal(retries(p).map((e) => e.inSecs), [60, 120]);
  assert.equal(states(p), ['Open', 'Pending', 'Custom-Pending']);
  // Custom-Pending survives a reboot and follows the redirect it already has: EDOS is not asked again.
  const before = p.steps().length;
  p.handset.firmware.reboot('reset', 'power-on');
  await h.until('a retry after the reboot', () => retries(p, before).length >= 1 || undefined);
  assert.is(expectOk(c.mpp.listRules()).requests['0022905c1a33'], 1);
  // The provider puts the file up; the next retry downloads it.
  await mkdir(join(h.dataFolder, 'tftp-root', 'provider'), { recursive: true });
  await writeFile(join(h.dataFolder, 'tftp-root', 'provider', '0022905c1a33.xml'), writeFlatProfile([['Proxy_1_', { value: '127.0.0.1' }], ['SIP_Port_1_', { value: String(c.endpoints.sip) }], ['User_ID_1_', { value: '1433' }]]));
  await h.until('Acquired', () => states(p).includes('Acquired') || undefined);
  await h.until('registered', () => p.steps().find((e) => e.step === 'register' && e.state === 'done'));
  p.handset.ui.press('settings');
  p.handset.ui.press('5');
  assert.match(p.handset.frame().rows.join('\n'), /Customization:\s*Acquired/);
  assert.match(p.handset.frame().rows[0]!, /Product info/);
  const reset = p.steps().length;
  await p.handset.firmware.factoryReset();
  await h.until('Pending after the reset', () => p.steps().slice(reset).find((e) => e.step === 'customization' && e.state === 'start'));
  const after = p.steps().slice(reset).filter((e): e is Cust & { at: number } => e.step === 'customization' && e.state === 'done').map((e) => e.customization);
  assert.equal(after.slice(0, 2), ['Open', 'Pending']);
});

t('no provider: Unavailable, and it stays so across a restart', async () => {
  const p = h.phone('0022905c1a34', { persona: 'mpp', edosUrl });
  await h.until('Unavailable', () => states(p).includes('Unavailable') || undefined);
  const before = p.steps().length;
  p.handset.firmware.restart();
  await h.until('booted again', () => p.steps().slice(before).find((e) => e.step === 'customization' && e.state === 'done'));
  assert.equal(p.steps().slice(before).filter((e) => e.step === 'customization').map((e) => (e as Cust).customization), ['Unavailable']);
  assert.is(expectOk(c.mpp.listRules()).requests['0022905c1a34'], 1);
});

t.run();
