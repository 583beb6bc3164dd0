/**
 * A real Multiplatform phone (the firmware on the in-process harness, against the companion's
 * EDOS stand-in) and its own web page, driven in headless chromium with every field found by its
 * label: the page's Customization and the LCD it shows agree with the phone's LCD at every step;
 * the admin chooses a password at first use and signs in; Profile_Rule set on the page while
 * Pending aborts customization and provisions the phone; Resync on the page makes the phone
 * resync at once; the wait scale set on the page is the firmware's.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Browser, type Page, chromium } from 'playwright-core';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import { SystemClock } from '../../src/common/clock.ts';
import { handsetWebPort } from '../../src/phone/handset-web.ts';
import { type PhoneWeb, startPhoneWeb } from '../../src/phone/web/server.ts';
import { Harness, type HarnessPhone } from '../support/harness.ts';
import { needs } from '../support/proc.ts';

const PASSWORD = 'mpp lab admin passphrase';
const WAIT_MS = 20_000;
let browser: Browser;
let h: Harness;
let web: PhoneWeb | undefined;

test.before(async () => {
  await needs('chromium');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});
test.after(async () => {
  await web?.close();
  await h?.stop();
  await browser?.close();
});

/** The page says `state`, the phone's status says it, and the page's LCD is the phone's LCD. */
async function agree(page: Page, p: HarnessPhone, state: string): Promise<void> {
  // The LCD on Applications > Status > Product info, which says the state in its own words.
  p.handset.ui.press('settings');
  p.handset.ui.press('5');
  assert.match(p.handset.frame().rows.join(' '), new RegExp(`Customization:\\s+${state}\\b`));
  await page.goto(new URL('/', page.url()).toString());
  assert.is(await page.getByLabel('Customization', { exact: true }).innerText(), state);
  assert.is(p.handset.status.customization, state);
  const lcd = (await page.getByLabel('Phone screen').innerText()).split('\n').map((r) => r.trimEnd());
  const rows = p.handset.frame().rows.map((r) => r.trimEnd());
  for (const row of rows.filter((r) => r.trim() !== '')) assert.ok(lcd.includes(row), `page LCD lacks "${row}":\n${lcd.join('\n')}`);
  assert.match(lcd.join(' '), new RegExp(`Customization:\\s+${state}\\b`));
  p.handset.ui.press('back');
  p.handset.ui.press('back');
}

test('the real phone and its page: Pending on the page and the LCD, Profile_Rule set on the page aborts it, Resync from the page', async () => {
  h = await Harness.start({ companion: false });
  h.dhcp.tftpServer = '';
  const c = await h.startCompanion({ edos: {}, web: { port: 0 }, phones: [{ mac: '0022905c1c01', model: '8841', dn: '1601' }] });
  expectOk(c.mpp.setRule({ mac: '0022905c1c01', fault: '503' }));
  const p = h.phone('0022905c1c01', { persona: 'mpp', edosUrl: expectOk(c.status.get()).edosUrl! });
  await h.until('Pending on the ladder', () => p.steps().some((e) => e.step === 'customization' && e.state === 'retry') || undefined);
  web = await startPhoneWeb({ port: 0, host: '127.0.0.1', phone: handsetWebPort(p.handset), nvram: p.nvram, clock: new SystemClock(), log: () => {} });
  const base = `http://127.0.0.1:${web.port}`;
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${base}/`);
  assert.is(await page.getByLabel('Product Name').innerText(), 'CP-8841-3PCC');
  await agree(page, p, 'Pending');

  // First use: the admin chooses the password (no shipped default), then signs in.
  await page.goto(`${base}/admin/`);
  await page.getByLabel('New Password').fill(PASSWORD);
  await page.getByLabel('Confirm Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Set Password' }).click();
  await page.getByRole('button', { name: 'Sign Out' }).waitFor({ timeout: WAIT_MS });
  await page.goto(`${base}/admin/advanced`);
  await page.getByLabel('Wait Scale').fill('0.5');
  await page.getByRole('button', { name: 'Set Wait Scale' }).click();
  await page.getByLabel('Wait Scale').waitFor({ timeout: WAIT_MS });
  assert.is(p.handset.firmware.waitScale, 0.5);

  // Profile_Rule by hand while Pending: Aborted, and the phone provisions from it.
  const before = p.steps().length;
  await page.getByLabel('Profile Rule').fill(`http://127.0.0.1:${c.endpoints.http}/mpp/$PSN/$MA.xml`);
  await page.getByRole('button', { name: 'Submit All Changes' }).click();
  await h.until('registered from the rule', () => p.steps().slice(before).find((e) => e.step === 'register' && e.state === 'done'));
  await agree(page, p, 'Aborted');
  const aborted = p.steps().slice(before).find((e) => e.step === 'customization' && 'customization' in e && e.customization === 'Aborted');
  assert.match(aborted?.message ?? '', /\(web\)/);

  // Resync from the page: the phone resyncs now (trigger explicit).
  const mark = p.steps().length;
  await page.goto(`${base}/admin/advanced`);
  await page.getByRole('button', { name: 'Resync', exact: true }).click();
  await h.until('an explicit resync', () => p.steps().slice(mark).find((e) => e.step === 'profile' && e.state === 'done' && 'trigger' in e && e.trigger === 'explicit'));
  await agree(page, p, 'Aborted');

  // The screen as a PNG, decoded by the browser itself: the 160x128 panel.
  await page.goto(`${base}/`);
  // A string: the test's TypeScript has no DOM types, the page's script does.
  const size = await page.evaluate(`(async () => { const img = new Image(); img.src = '/screen.png'; await img.decode(); return [img.naturalWidth, img.naturalHeight]; })()`);
  assert.equal(size, [160, 128]);
  await ctx.close();
});

test.run();
