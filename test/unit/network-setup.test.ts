/**
 * Settings > Network setup on the keypad of a real firmware (in-process harness): Alternate TFTP
 * turned on and TFTP Server 1 typed with * for the dots, Save refused while locked, then after
 * **# stored in NVRAM and the phone reset, its next boot asking the alternate server; a setting
 * that cannot work (DHCP off with no static address) refused in words, nothing stored.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Key } from '../../src/phone/keys.ts';
import { loadSettings } from '../../src/phone/settings.ts';
import { Harness } from '../support/harness.ts';

const t = suite('Settings > Network setup');
let h: Harness;
t.after.each(async () => {
  await h?.stop();
});

const press = (p: { handset: { ui: { press(k: Key): void } } }, keys: string) => {
  for (const k of keys.split(' ')) p.handset.ui.press(k as Key);
};
const screen = (p: { handset: { frame(): { rows: string[] } } }) => p.handset.frame().rows.join('\n');

t('Alternate TFTP and TFTP Server 1 typed on the keypad, saved after **#, used at the next boot', async () => {
  h = await Harness.start({ companion: { security: { mode: 'none' }, phones: [{ mac: '0011223344c1', model: '8841', dn: '1801' }] } });
  const p = h.phone('00:11:22:33:44:c1');
  await h.until('registered', () => p.steps().find((e) => e.step === 'register' && e.state === 'done'));
  press(p, 'settings 6');
  await h.until('settings read', () => /DHCP Yes/.test(screen(p)) || undefined);
  assert.match(screen(p), /^Network setup/);
  press(p, 'down select down select 1 2 7 * 0 * 0 * 1 select');
  assert.match(screen(p), /Alt TFTP Yes[\s\S]*TFTP1 127\.0\.0\.1/);
  press(p, 'soft3');
  assert.match(screen(p), /Locked: \*\*# unlocks/);
  assert.is((await loadSettings(p.nvram)).alternateTftp, false, 'nothing stored while locked');
  const before = p.steps().length;
  press(p, '* * # soft3');
  await h.until('registered again', () => p.steps().slice(before).find((e) => e.step === 'register' && e.state === 'done'));
  const stored = await loadSettings(p.nvram);
  assert.equal([stored.alternateTftp, stored.tftpServer1], [true, '127.0.0.1']);
  const after = p.steps().slice(before);
  assert.ok(after.some((e) => e.step === 'reboot' && 'reason' in e && e.reason === 'settings-changed'));
  const tftp = after.find((e) => e.step === 'tftp' && e.state === 'done');
  assert.ok(tftp && 'source' in tftp && tftp.source === 'alternate', JSON.stringify(tftp));
});

t('DHCP off without a static address is refused in words and nothing is stored', async () => {
  h = await Harness.start({ companion: { security: { mode: 'none' } } });
  const p = h.phone('00:11:22:33:44:c2');
  press(p, 'settings 6');
  await h.until('settings read', () => /DHCP Yes/.test(screen(p)) || undefined);
  press(p, 'select * * # soft3');
  await h.until('refused', () => /DHCP is off/.test(screen(p)) || undefined);
  assert.is((await loadSettings(p.nvram)).dhcpEnabled, true);
  press(p, 'back');
  assert.match(screen(p), /Settings/);
});

t.run();
