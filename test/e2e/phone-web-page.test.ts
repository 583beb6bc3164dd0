/**
 * The phone's web page driven in a real browser (headless chromium through playwright-core, as
 * web-pages.test.ts drives the companion's), every field found by its label: choose the admin
 * password at first use, sign out and in, read Customization on Info → Status, see the page
 * follow the phone (by Server-Sent Events with JavaScript, by its refresh without), press
 * Resync, set Profile_Rule, factory reset. The phone is a ScriptedPhone, so the test sees exactly
 * what the page asked of it; at every step the page's Customization and the LCD text it shows
 * say the same thing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Browser, type Page, chromium } from 'playwright-core';
import { SystemClock } from '../../src/common/clock.ts';
import { MemoryNvram } from '../../src/phone/nvram.ts';
import { ScriptedPhone } from '../../src/phone/web/scripted-port.ts';
import { type PhoneWeb, startPhoneWeb } from '../../src/phone/web/server.ts';
import { needs } from '../support/proc.ts';

const PASSWORD = 'lab admin passphrase';
/** Deadlines only so a broken build fails instead of hanging; nothing asserts how long a step took. */
const WAIT_MS = 20_000;

let browser: Browser;

test.before(async () => {
  await needs('chromium');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});

test.after(async () => {
  await browser?.close();
});

/** A fresh phone (NVRAM empty: no admin password yet) and its page, for one test. */
async function serve(): Promise<{ phone: ScriptedPhone; web: PhoneWeb; base: string }> {
  const nvram = new MemoryNvram();
  const phone = new ScriptedPhone({ persona: 'mpp', nvram });
  const web = await startPhoneWeb({ port: 0, host: '127.0.0.1', phone, nvram, clock: new SystemClock(), log: () => {} });
  return { phone, web, base: `http://127.0.0.1:${web.port}` };
}

/** Waits until the Info page's Customization reads `state`, and checks the LCD it shows agrees. */
async function showsCustomization(p: Page, state: string): Promise<void> {
  const cell = p.getByLabel('Customization', { exact: true });
  await cell.filter({ hasText: new RegExp(`^${state}$`) }).waitFor({ timeout: WAIT_MS });
  assert.is(await cell.innerText(), state);
  assert.match(await p.getByLabel('Phone screen').innerText(), new RegExp(`Customization: ${state.replace(/[-]/g, '\\-')}\\b`), 'the page and the LCD agree');
}

test('choose a password, sign in, read Customization, follow the phone, Resync, set Profile_Rule, factory reset', async () => {
  const { phone, web, base } = await serve();
  const ctx = await browser.newContext();
  try {
    const p = await ctx.newPage();
    await p.goto(`${base}/`);
    assert.is(await p.getByLabel('Product Name').innerText(), 'CP-8841-3PCC');
    assert.is(await p.getByLabel('MAC Address').innerText(), '00:11:22:33:44:55');
    await showsCustomization(p, 'Open');

    // First use: no shipped password, the admin chooses one.
    await p.getByRole('link', { name: 'Admin Login' }).click();
    await p.waitForURL(/\/admin\/setup$/);
    await p.getByLabel('New Password').fill(PASSWORD);
    await p.getByLabel('Confirm Password').fill(`${PASSWORD} typo`);
    await p.getByRole('button', { name: 'Set Password' }).click();
    assert.match(await p.getByRole('alert').innerText(), /not the same/);
    await p.getByLabel('New Password').fill(PASSWORD);
    await p.getByLabel('Confirm Password').fill(PASSWORD);
    await p.getByRole('button', { name: 'Set Password' }).click();
    await p.waitForURL(/\/admin\/advanced$/);

    // Out and in again with it; a wrong one first.
    await p.getByRole('button', { name: 'Sign Out' }).click();
    await p.waitForURL(`${base}/`);
    await p.getByRole('link', { name: 'Admin Login' }).click();
    await p.getByLabel('Password').fill('not the password');
    await p.getByRole('button', { name: 'Log In' }).click();
    assert.match(await p.getByRole('alert').innerText(), /Wrong password/);
    await p.getByLabel('Password').fill(PASSWORD);
    await p.getByRole('button', { name: 'Log In' }).click();
    await p.waitForURL(/\/admin\/advanced$/);

    // The Info page follows the phone: the firmware's event reaches the page by /events.
    await p.getByRole('link', { name: 'Info' }).click();
    await showsCustomization(p, 'Open');
    phone.setCustomization('Pending', 'asking EDOS');
    await showsCustomization(p, 'Pending');
    phone.setCustomization('Custom-Pending', 'EDOS profile');
    await showsCustomization(p, 'Custom-Pending');

    // Resync from Admin → Advanced.
    await p.getByRole('link', { name: 'Admin: Advanced' }).click();
    await p.getByRole('button', { name: 'Resync' }).click();
    assert.match(await p.getByRole('status').innerText(), /Resync requested/);
    assert.is(phone.resyncs, 1);
    // Cisco's URL: a GET only asks.
    await p.goto(`${base}/admin/resync`);
    assert.is(phone.resyncs, 1);
    await p.getByRole('button', { name: 'Resync' }).click();
    assert.is(phone.resyncs, 2);

    // Profile_Rule by hand while Custom-Pending: the port aborts customization, the page shows it.
    await p.getByLabel('Profile Rule').fill('https://prov.example.com/cfg/$MA.xml');
    await p.getByRole('button', { name: 'Submit All Changes' }).click();
    assert.match(await p.getByRole('status').innerText(), /Saved Profile_Rule/);
    assert.equal(phone.configured, [{ Profile_Rule: 'https://prov.example.com/cfg/$MA.xml' }]);
    assert.is(await p.getByLabel('Profile Rule').inputValue(), 'https://prov.example.com/cfg/$MA.xml');
    await p.getByRole('link', { name: 'Info' }).click();
    await showsCustomization(p, 'Aborted');

    // The wait scale, refused then set.
    await p.getByRole('link', { name: 'Admin: Advanced' }).click();
    await p.getByLabel(/^Wait Scale/).fill('-2');
    await p.getByRole('button', { name: 'Set Wait Scale' }).click();
    assert.match(await p.getByRole('alert').innerText(), /above 0/);
    await p.getByLabel(/^Wait Scale/).fill('0.01');
    await p.getByRole('button', { name: 'Set Wait Scale' }).click();
    assert.is(phone.waitScale(), 0.01);

    // Factory reset: only when confirmed; afterwards the page asks for a new password.
    await p.getByRole('button', { name: 'Factory Reset' }).click();
    assert.match(await p.getByRole('alert').innerText(), /Tick/);
    assert.is(phone.factoryResets, 0);
    await p.getByLabel('Yes, erase this phone').check();
    await p.getByRole('button', { name: 'Factory Reset' }).click();
    assert.match(await p.getByRole('status').innerText(), /erasing/);
    assert.is(phone.factoryResets, 1);
    await p.getByRole('link', { name: 'choose a new admin password' }).click();
    await p.waitForURL(/\/admin\/setup$/);
    await p.goto(`${base}/`);
    await showsCustomization(p, 'Open');
  } finally {
    await ctx.close();
    await web.close();
  }
});

test('without JavaScript on a phone-sized screen: the page reloads itself to follow the phone, and the forms still work', async () => {
  const { phone, web, base } = await serve();
  const ctx = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 360, height: 640 } });
  try {
    const p = await ctx.newPage();
    await p.goto(`${base}/admin/setup`);
    await p.getByLabel('New Password').fill(PASSWORD);
    await p.getByLabel('Confirm Password').fill(PASSWORD);
    await p.getByRole('button', { name: 'Set Password' }).click();
    await p.waitForURL(/\/admin\/advanced$/);
    await p.getByRole('button', { name: 'Resync' }).click();
    assert.match(await p.getByRole('status').innerText(), /Resync requested/);
    assert.is(phone.resyncs, 1);

    await p.goto(`${base}/`);
    assert.ok(await p.evaluate('document.documentElement.scrollWidth <= 360'), 'fits a phone-sized screen');
    await showsCustomization(p, 'Open');
    phone.setCustomization('Pending', 'asking EDOS');
    // No script runs, so only the <noscript> refresh can bring the new state.
    await showsCustomization(p, 'Pending');
    assert.is(phone.subscribers, 0, 'no event stream without JavaScript');
  } finally {
    await ctx.close();
    await web.close();
  }
});

test.run();
