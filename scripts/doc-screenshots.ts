/**
 * `make screenshots`: the PNGs of the main LCD screens in docs/images/, made the way a user makes
 * one — each frame as a `{"type":"screen"}` line piped into `sepi phone screenshot`. The phones
 * are real firmware on the in-process harness (virtual clock, a companion on 127.0.0.1), so the
 * screens are what a phone shows at those moments, not drawings of them.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expectOk } from '../src/cm/admin/outcome.ts';
import type { Key } from '../src/phone/keys.ts';
import { Harness, type HarnessPhone } from '../test/support/harness.ts';

const ROOT = join(import.meta.dirname, '..');
const OUT = join(ROOT, 'docs', 'images');

async function shoot(p: HarnessPhone, name: string, frame?: { rows: string[]; softkeys: string[] }): Promise<void> {
  const f = frame ?? p.handset.frame();
  const line = JSON.stringify({ type: 'screen', screen: f.rows, softkeys: f.softkeys }) + '\n';
  await new Promise<void>((resolve, reject) => {
    const c = execFile(join(ROOT, 'bin', 'sepi'), ['phone', 'screenshot', '--out', join(OUT, `${name}.png`)], (e) => (e ? reject(e) : resolve()));
    c.stdin!.end(line);
  });
  process.stdout.write(`docs/images/${name}.png\n`);
}

const press = (p: HarnessPhone, keys: string) => keys.split(' ').forEach((k) => p.handset.ui.press(k as Key));

await mkdir(OUT, { recursive: true });
const h = await Harness.start({ companion: { security: { mode: 'none' }, phones: [{ mac: '0011223344d1', model: '8841', dn: '1001' }] } });
try {
  const p = h.phone('00:11:22:33:44:d1');
  // The boot goes by faster than a test can look: keep the frame drawn while the file was fetched.
  let booting: { rows: string[]; softkeys: string[] } | undefined;
  p.handset.onScreen((f) => (booting ??= /Configuring CM/.test(f.rows.join('\n')) ? f : undefined));
  await h.until('registered', () => p.steps().find((e) => e.step === 'register' && e.state === 'done'));
  await shoot(p, 'lcd-booting', booting);
  await shoot(p, 'lcd-registered');
  press(p, 'settings');
  await shoot(p, 'lcd-settings');
  press(p, '5');
  await shoot(p, 'lcd-status-product');
  press(p, 'down down down');
  await shoot(p, 'lcd-status-registration');
  press(p, 'back 6');
  await h.until('network settings read', () => /DHCP/.test(p.handset.frame().rows.join('\n')) || undefined);
  await shoot(p, 'lcd-network-setup');
  await h.stop();

  // A Multiplatform phone, customization in progress: its Applications > Status > Product info.
  const m = await Harness.start({ companion: false });
  m.dhcp.tftpServer = '';
  const c = await m.startCompanion({ edos: {}, web: { port: 0 } });
  expectOk(c.mpp.setRule({ mac: '0022905c1ad1', fault: '503' }));
  const mpp = m.phone('0022905c1ad1', { persona: 'mpp', edosUrl: expectOk(c.status.get()).edosUrl! });
  await m.until('Pending', () => mpp.steps().some((e) => e.step === 'customization' && e.state === 'retry') || undefined);
  await shoot(mpp, 'lcd-mpp-pending');
  press(mpp, 'settings 5');
  await shoot(mpp, 'lcd-mpp-product-info');
  await m.stop();
} finally {
  await h.stop().catch(() => {});
}
