/** The Settings menu: what each key does, the **# lock, and scrolling bounds. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LCD_160x128 } from '../../src/phone/screen.ts';
import { initialStatus } from '../../src/phone/status.ts';
import { PhoneUi, type PhoneControls } from '../../src/phone/ui.ts';

function phone() {
  const calls: string[] = [];
  const status = { ...initialStatus('8841', 'SEP001122334455'), registered: true, phase: 'Registered', log: Array.from({ length: 12 }, (_, i) => `event number ${i} with some words`) };
  const controls: PhoneControls = {
    status,
    trustSummary: () => ['CTL: none', 'ITL: 3 (SAST CCM+TFTP TVS)'],
    eraseTrustList: async () => void calls.push('erase'),
    factoryReset: async () => void calls.push('factory'),
    restart: () => void calls.push('restart'),
  };
  let draws = 0;
  const ui = new PhoneUi(controls, () => draws++);
  return { ui, calls, draws: () => draws };
}
const screen = (ui: PhoneUi) => ui.frame(LCD_160x128).rows.join('\n');

test('erase needs **#, and leaving the menu locks again', () => {
  const { ui, calls } = phone();
  for (const k of ['settings', '1', 'soft1'] as const) ui.press(k);
  assert.match(screen(ui), /Locked: \*\*# unlocks/);
  assert.equal(calls, []);
  for (const k of ['*', '*', '#'] as const) ui.press(k);
  assert.match(screen(ui), /Unlocked/);
  for (const k of ['back', 'back', 'settings', '1', 'soft1'] as const) ui.press(k);
  assert.equal(calls, [], 'locked again after leaving the menu');
  for (const k of ['*', '*', '#', 'soft1'] as const) ui.press(k);
  assert.equal(calls, ['erase']);
  assert.match(screen(ui), /^1001|SEP001122334455/, 'back on the home screen');
});

test('factory reset and restart from the menu; Restart softkey when registered', () => {
  const { ui, calls } = phone();
  for (const k of ['settings', '4', 'soft1', '*', '*', '#', 'soft1'] as const) ui.press(k);
  ui.press('soft2');
  for (const k of ['settings', 'down', 'down', 'select'] as const) ui.press(k);
  assert.equal(calls, ['factory', 'restart', 'restart']);
});

test('status messages scroll no further than the oldest line, and back', () => {
  const { ui } = phone();
  ui.press('settings');
  ui.press('2');
  const newest = screen(ui);
  for (let i = 0; i < 100; i++) ui.press('up');
  const oldest = screen(ui);
  assert.match(oldest, /event number 0/);
  ui.press('down');
  assert.is.not(screen(ui), oldest, 'one down moves at once: the offset did not run past the top');
  for (let i = 0; i < 100; i++) ui.press('down');
  assert.is(screen(ui), newest);
});

test('Status: product information, network, trust list, registration, last boot with times; up and down between them', () => {
  const { ui } = phone();
  const st = (ui as unknown as { phone: PhoneControls }).phone.status;
  Object.assign(st, { load: 'sip88xx.14-2-1-0001-14', inactiveLoad: 'sip88xx.12-8-1-0001-455', address: '10.99.0.100', tftpServer: '10.99.0.1', configFile: 'SEP001122334455.cnf.xml', line: '1001', callManager: '10.99.0.1',
    boot: [{ step: 'dhcp', state: 'done', t: 140, message: 'IP' }, { step: 'config', state: 'fail', t: 900, message: 'x' }, { step: 'register', state: 'done', t: 2500, message: 'Registered' }] });
  for (const k of ['settings', '5'] as const) ui.press(k);
  assert.match(screen(ui), /Product info 1\/5[\s\S]*8841 SEP001122334455[\s\S]*Load:sip88xx\.14-2-1-\s*0001-14[\s\S]*Inactive:sip88xx\.12-\s*8-1-0001-455/);
  ui.press('down');
  assert.match(screen(ui), /Network 2\/5[\s\S]*IP 10\.99\.0\.100[\s\S]*TFTP 10\.99\.0\.1/);
  ui.press('down');
  assert.match(screen(ui), /ITL: 3/);
  ui.press('down');
  assert.match(screen(ui), /Registered 1001/);
  ui.press('down');
  assert.match(screen(ui), /Last boot[\s\S]*0\.1s dhcp[\s\S]*0\.9s !config[\s\S]*2\.5s register/);
  ui.press('down');
  assert.match(screen(ui), /Product info/, 'round again');
  ui.press('up');
  assert.match(screen(ui), /Last boot/);
  ui.press('back');
  assert.match(screen(ui), /Settings[\s\S]*>5 Status/);
});


test('speed dials on the home screen: up and down highlight one, Select calls it, Back lets go; none offered without calls', () => {
  const dialed: string[] = [];
  const status = {
    ...initialStatus('8841', 'SEP001122334455'), registered: true, phase: 'Registered', line: '3000',
    speedDials: [{ button: 2, number: '8999', label: 'IVR' }, { button: 3, number: '2000', label: 'Help' }],
  };
  const make = (withCalls: boolean) => new PhoneUi({
    status, trustSummary: () => [], eraseTrustList: async () => {}, factoryReset: async () => {}, restart: () => {},
    ...(withCalls ? { calls: { available: true, press: () => false, frame: () => undefined, dial: (n: string) => (dialed.push(n), true) } } : {}),
  }, () => {});
  const ui = make(true);
  const rows = () => screen(ui).split('\n').filter((r) => /SD /.test(r)).map((r) => r.trim());
  assert.equal(rows(), ['SD 8999 IVR', 'SD 2000 Help'], 'shown, none highlighted');
  ui.press('select');
  assert.equal(dialed, [], 'Select with nothing highlighted calls nobody');
  ui.press('up');
  assert.equal(rows(), ['SD 8999 IVR', '>SD 2000 Help'], 'up from nothing: the last');
  ui.press('down');
  assert.equal(rows(), ['>SD 8999 IVR', 'SD 2000 Help'], 'down wraps to the first');
  ui.press('back');
  assert.equal(rows(), ['SD 8999 IVR', 'SD 2000 Help'], 'Back lets go');
  ui.press('down');
  ui.press('down');
  ui.press('select');
  assert.equal(dialed, ['2000']);
  assert.equal(rows(), ['SD 8999 IVR', 'SD 2000 Help'], 'the highlight goes with the call');
  ui.press('down');
  ui.press('settings');
  ui.press('back');
  assert.equal(rows(), ['SD 8999 IVR', 'SD 2000 Help'], 'the menu in between lets go too');

  // A number the phone cannot dial is refused before any call: the home screen says so.
  const refusing = new PhoneUi({
    status: { ...status, speedDials: [{ button: 2, number: '8999', label: 'IVR' }] }, trustSummary: () => [], eraseTrustList: async () => {}, factoryReset: async () => {}, restart: () => {},
    calls: { available: true, press: () => false, frame: () => undefined, dial: () => false },
  }, () => {});
  refusing.press('down');
  refusing.press('select');
  assert.match(screen(refusing), /Cannot call 8999/);
  refusing.press('down');
  assert.not.match(screen(refusing), /Cannot call/, 'the note goes with the next key');

  // A key a call took (an incoming call answered, say) lets the highlight go: Select after it calls nobody.
  let taking = false;
  const busy = new PhoneUi({
    status, trustSummary: () => [], eraseTrustList: async () => {}, factoryReset: async () => {}, restart: () => {},
    calls: { available: true, press: () => taking, frame: () => undefined, dial: (n: string) => (dialed.push(n), true) },
  }, () => {});
  busy.press('down');
  taking = true;
  busy.press('soft1');
  taking = false;
  busy.press('select');
  assert.equal(dialed, ['2000'], 'nothing called after the call');

  const plain = make(false);
  plain.press('down');
  plain.press('select');
  assert.not.match(screen(plain), />SD/, 'no calls (no registered line): nothing to highlight');
  assert.equal(dialed, ['2000']);
});

test.run();
