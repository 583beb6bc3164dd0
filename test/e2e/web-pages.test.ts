/**
 * The administration pages and the Self-Care portal driven in a real browser (headless
 * chromium through playwright-core), fields found by their labels (issue 8): sign in with the
 * generated admin password, add users and phones, Device Defaults, a CSV insert with a bad row,
 * the code export; then Self-Care on a phone-sized screen showing only the user's own phones,
 * each code with a QR code that zbarimg (a reader nobody here wrote) decodes back to the digits;
 * a form posted without its CSRF token refused; and the universal templates page: device and
 * line templates, a user profile given to a user, autoregistration's templates.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Browser, type Page, chromium } from 'playwright-core';
import { Companion } from '../../src/cm/companion.ts';
import { loopbackConfig } from '../../src/cm/config.ts';
import { needs } from '../support/proc.ts';

const run = promisify(execFile);
let dir = '';
let companion: Companion;
let browser: Browser;
let base = '';

test.before(async () => {
  await needs('chromium', 'zbarimg');
  dir = await mkdtemp(join(tmpdir(), 'sepi-web-'));
  companion = new Companion({ dataDir: dir, config: loopbackConfig({ activation: { manufacturingCaFiles: [] } }), log: () => {} });
  await companion.start();
  base = `https://127.0.0.1:${companion.endpoints.web}`;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});

test.after(async () => {
  await browser?.close();
  await companion?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function signIn(p: Page, path: string, user: string, password: string): Promise<void> {
  await p.goto(`${base}${path}`);
  await p.getByLabel('User ID').fill(user);
  await p.getByLabel('Password').fill(password);
  await p.getByRole('button', { name: 'Sign In' }).click();
}

const codes: Record<string, string> = {};

test('administration: sign in with the generated password, users, Device Defaults, phones with codes, a CSV insert with a bad row, the export', async () => {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true });
  const p = await ctx.newPage();
  await signIn(p, '/ccmadmin/', 'admin', 'not-the-password');
  assert.match(await p.getByRole('alert').innerText(), /Wrong user ID or password/);
  const adminPassword = (await readFile(join(dir, 'initial-admin-password'), 'utf8')).trim();
  await signIn(p, '/ccmadmin/', 'admin', adminPassword);
  await p.waitForURL(/\/ccmadmin\/phones$/);

  await p.getByRole('link', { name: 'Users' }).click();
  for (const [id, pw] of [['alice', 'alice-secret-1'], ['bob', 'bob-secret-22']]) {
    await p.getByLabel('User ID').fill(id!);
    await p.getByLabel('Password').fill(pw!);
    await p.getByRole('button', { name: 'Save' }).click();
    assert.match(await p.getByRole('status').innerText(), new RegExp(`Added ${id}`));
  }

  await p.getByRole('link', { name: 'Device Defaults' }).click();
  await p.getByLabel('Device Type').selectOption('8841');
  await p.getByLabel('On-Premise Onboarding Method').selectOption('activation-code');
  await p.getByRole('button', { name: 'Save' }).first().click();
  assert.match(await p.locator('table').innerText(), /Cisco 8841\s+Activation Code/);

  await p.getByRole('link', { name: 'Phones' }).click();
  for (const [owner, description] of [['alice', 'Alice <b>desk</b>'], ['bob', 'Bob desk']]) {
    await p.getByLabel('Phone Type').selectOption('8841');
    await p.getByLabel('Description').fill(description!);
    await p.getByLabel('Owner User ID').selectOption(owner!);
    await p.getByRole('button', { name: 'Save' }).click();
    const note = await p.getByRole('status').innerText();
    const m = /Added (BAT[0-9A-F]{12}); activation code (\d{4}-\d{4}-\d{4}-\d{4})/.exec(note);
    assert.ok(m, note);
    codes[owner!] = `${m![1]} ${m![2]}`;
  }
  // A value with markup is shown as text, not obeyed.
  assert.ok((await p.locator('td', { hasText: 'Alice <b>desk</b>' }).count()) === 1, 'the description is escaped');

  await p.getByRole('link', { name: 'Bulk Administration' }).click();
  await p.getByLabel('Template Name', { exact: true }).fill('lab 8841');
  await p.getByRole('button', { name: 'Save' }).click();
  await p.getByLabel('Phone Template Name').selectOption('lab 8841');
  await p.getByLabel(/^CSV File/).fill('MAC ADDRESS,DESCRIPTION,DIRECTORY NUMBER 1\n,desk 1,1901\nzz:zz,desk 2,1902\n');
  await p.getByLabel('Create Dummy MAC Address').check();
  await p.getByRole('button', { name: 'Insert' }).click();
  assert.match(await p.getByRole('alert').innerText(), /line 3: "zz:zz" is not a MAC address/);
  await p.getByLabel('Phone Template Name').selectOption('lab 8841');
  await p.getByLabel(/^CSV File/).fill('MAC ADDRESS,DESCRIPTION,DIRECTORY NUMBER 1\n,desk 1,1901\n,desk 2,1902\n');
  await p.getByLabel('Create Dummy MAC Address').check();
  await p.getByRole('button', { name: 'Insert' }).click();
  assert.match(await p.getByRole('status').innerText(), /Inserted 2 phone\(s\)/);

  const [download] = await Promise.all([p.waitForEvent('download'), p.getByRole('link', { name: 'Export Activation Codes' }).click().catch(() => {})]);
  const csv = await readFile((await download.path())!, 'utf8');
  assert.match(csv, /^Device Name,Description,Device Type,Owner User ID,Activation Code/);
  assert.is(csv.trim().split('\r\n').length, 5, 'header and four outstanding codes');
  assert.ok(csv.includes(codes['alice']!.split(' ')[1]!));

  // A form posted without its token is refused, and nothing changes.
  const forged = await p.request.post(`${base}/ccmadmin/users`, { form: { id: 'mallory', newPassword: 'mallory-secret' } });
  assert.is(forged.status(), 403);
  assert.not.ok(companion.onboarding.users().kind === 'ok' && JSON.stringify(companion.onboarding.users()).includes('mallory'));
  await ctx.close();
});

test('universal templates: a device and a line template, a user profile given to alice, autoregistration\'s pair', async () => {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  const p = await ctx.newPage();
  await signIn(p, '/ccmadmin/', 'admin', (await readFile(join(dir, 'initial-admin-password'), 'utf8')).trim());
  await p.waitForURL(/\/ccmadmin\/phones$/);
  await p.getByRole('link', { name: 'Universal Templates' }).click();
  await p.getByLabel('Device Template Name').fill('desk');
  await p.getByLabel(/^Device Description/).fill('#FirstName# <i>#LastName#</i> (#Product#)');
  await p.getByLabel('Device Pool', { exact: true }).fill('Floor 3');
  await p.getByLabel(/^Speed Dials/).fill('8999=Self-provisioning');
  await p.getByRole('button', { name: 'Save Device Template' }).click();
  assert.match(await p.getByRole('status').innerText(), /Saved device template desk/);
  assert.ok((await p.locator('td', { hasText: '#FirstName# <i>#LastName#</i> (#Product#)' }).count()) === 1, 'the pattern is shown as text, escaped');
  await p.getByLabel('Device Template Name').fill('bad');
  await p.getByLabel(/^Device Description/).fill('#Surname#');
  await p.getByRole('button', { name: 'Save Device Template' }).click();
  assert.match(await p.getByRole('alert').innerText(), /unknown token #Surname#/);

  await p.getByLabel('Line Template Name').fill('desk-line');
  await p.getByLabel('Display Name (Alerting Name)').fill('#FirstName# #LastName#');
  await p.getByLabel('Line Text Label').fill('#LastName# #DN#');
  await p.getByLabel('External Phone Number Mask').fill('408555XXXX');
  await p.getByRole('button', { name: 'Save Line Template' }).click();
  assert.match(await p.getByRole('status').innerText(), /Saved line template desk-line/);

  await p.getByLabel('User Profile Name').fill('staff');
  await p.getByLabel('Profile Universal Device Template').selectOption('desk');
  await p.getByLabel('Profile Universal Line Template').selectOption('desk-line');
  await p.getByLabel('Allow End User to Provision their own phones').check();
  await p.getByLabel(/^Limit for the Number of Phones/).fill('3');
  await p.getByRole('button', { name: 'Save User Profile' }).click();
  assert.match(await p.getByRole('status').innerText(), /Saved user profile staff/);
  await p.getByLabel('End User', { exact: true }).selectOption('alice');
  await p.getByLabel('User Profile of the End User').selectOption('staff');
  await p.getByRole('button', { name: 'Assign User Profile' }).click();
  assert.match(await p.getByRole('status').innerText(), /alice has user profile staff/);
  const alice = companion.ivr.user('alice');
  assert.ok(alice.kind === 'ok' && alice.value.profile === 'staff' && alice.value.selfProvisioning && alice.value.limit === 3 && alice.value.deviceTemplate === 'desk', JSON.stringify(alice));

  await p.getByLabel('Autoregistration Universal Device Template').selectOption('desk');
  await p.getByRole('button', { name: 'Save Autoregistration' }).click();
  assert.match(await p.getByRole('status').innerText(), /Saved the autoregistration templates/);
  const auto = companion.templates.autoRegistration();
  assert.ok(auto.kind === 'ok' && auto.value.deviceTemplate === 'desk' && auto.value.lineTemplate === null, JSON.stringify(auto));
  const forged = await p.request.post(`${base}/ccmadmin/universal-templates/udt`, { form: { udtName: 'mallory' } });
  assert.is(forged.status(), 403, 'no CSRF token, refused');
  await ctx.close();
});

test('Self-Care on a phone-sized screen: only your own phones, the code and a QR code that decodes to its digits', async () => {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 360, height: 640 } });
  const p = await ctx.newPage();
  await signIn(p, '/ucmuser/', 'alice', 'alice-secret-1');
  await p.waitForURL(/\/ucmuser\/phones$/);
  const [aliceDevice, aliceCode] = codes['alice']!.split(' ');
  const [bobDevice] = codes['bob']!.split(' ');
  assert.is(await p.getByLabel(`Activation code for ${aliceDevice}`).innerText(), aliceCode);
  assert.not.ok((await p.content()).includes(bobDevice!), 'another user\'s phone is not listed');
  assert.ok(await p.evaluate('document.documentElement.scrollWidth <= 360'), 'fits a phone-sized screen');

  const png = await p.request.get(`${base}/ucmuser/qr/${aliceDevice}.png`);
  assert.is(png.headers()['content-type'], 'image/png');
  const file = join(dir, 'qr.png');
  await writeFile(file, await png.body());
  const decoded = await run('zbarimg', ['--raw', '-q', file]);
  assert.is(decoded.stdout.trim(), aliceCode!.replace(/-/g, ''), 'zbarimg reads the 16 digits');
  assert.is((await p.request.get(`${base}/ucmuser/qr/${bobDevice}.png`)).status(), 404, 'nor another user\'s QR code');

  await p.getByRole('button', { name: 'Sign Out' }).click();
  await p.waitForURL(/\/ucmuser\/$/);
  assert.is((await p.request.get(`${base}/ucmuser/qr/${aliceDevice}.png`)).status(), 404, 'signed out, nothing');
  // Every sign-in and every view is in the audit log, without the code.
  const audit = companion.onboarding.audit();
  if (audit.kind !== 'ok') return assert.unreachable();
  assert.ok(audit.value.some((e) => e.actor === 'user:alice' && e.action === 'self-care-view' && e.device === aliceDevice));
  assert.ok(audit.value.some((e) => e.actor === 'user:admin' && e.action === 'admin-sign-in' && e.result === 'refused'));
  assert.not.ok(JSON.stringify(audit.value).includes(aliceCode!.replace(/-/g, '')) || JSON.stringify(audit.value).includes(aliceCode!));
  await ctx.close();
});

test.run();
