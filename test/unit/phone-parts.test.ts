import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from '../../src/common/clock.ts';
import { FileNvram } from '../../src/phone/nvram.ts';
import { LCD_160x128, LCD_320x240, renderScreen, wrap } from '../../src/phone/screen.ts';
import { applyEvent, initialStatus } from '../../src/phone/status.ts';
import { chooseTftpServers } from '../../src/phone/tftp-server-choice.ts';
import { loadSettings, validateSettings, DEFAULT_SETTINGS } from '../../src/phone/settings.ts';
import type { PhoneEvent, StepEvent } from '../../src/phone/events.ts';
import { MacAddress } from '../../src/wire/mac.ts';

const lease = { tftpServers: ['10.0.0.5', '10.0.0.6'], tftpServerName: 'tftp.lab', nextServer: '10.0.0.1' };

test('TFTP server choice: alternate > option 150 in order > option 66 > siaddr', () => {
  assert.equal(chooseTftpServers({ alternateTftp: false, tftpServer1: '', tftpServer2: '' }, lease), [
    { host: '10.0.0.5', source: 'option 150' }, { host: '10.0.0.6', source: 'option 150' }, { host: 'tftp.lab', source: 'option 66' }, { host: '10.0.0.1', source: 'siaddr' },
  ]);
  assert.equal(chooseTftpServers({ alternateTftp: true, tftpServer1: '192.0.2.1', tftpServer2: '192.0.2.2' }, lease), [
    { host: '192.0.2.1', source: 'alternate' }, { host: '192.0.2.2', source: 'alternate' },
  ]);
  assert.equal(chooseTftpServers({ alternateTftp: false, tftpServer1: '', tftpServer2: '' }, { tftpServers: [], tftpServerName: undefined, nextServer: '0.0.0.0' }), []);
  assert.equal(chooseTftpServers({ alternateTftp: false, tftpServer1: '', tftpServer2: '' }, { tftpServers: ['10.0.0.1'], tftpServerName: '10.0.0.1', nextServer: '10.0.0.1' }).length, 1, 'duplicates asked once');
});

test('NVRAM writes are atomic: no temp files left, torn or garbage documents read as absent', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sepi-nv-'));
  const nv = new FileNvram(dir);
  await nv.write('lease', { address: '10.0.0.9' });
  await nv.write('lease', { address: '10.0.0.10' });
  assert.equal(await nv.read('lease'), { address: '10.0.0.10' });
  assert.equal((await readdir(dir)).sort(), ['lease.json']);
  // What a power cut can leave behind: a half-written temp file beside the good document.
  await writeFile(join(dir, 'lease.json.tmp-1-abc'), '{"addr');
  assert.equal(await nv.read('lease'), { address: '10.0.0.10' });
  await writeFile(join(dir, 'boot.json'), '{not json');
  assert.is(await nv.read('boot'), undefined);
  await nv.writeBytes('config/last-good.cnf.xml', Buffer.from('<Default/>'));
  assert.is((await nv.readBytes('config/last-good.cnf.xml'))!.toString(), '<Default/>');
  await nv.remove('config');
  assert.is(await nv.readBytes('config/last-good.cnf.xml'), undefined);
  assert.is(await nv.read('../etc/passwd').then(() => 'read', (e: Error) => e.name), 'RangeError');
  await nv.wipe();
  assert.equal(await readdir(dir), []);
  await rm(dir, { recursive: true });
});

test('settings from NVRAM: damaged fields fall back to defaults; bad combinations are named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sepi-nv-'));
  await writeFile(join(dir, 'settings.json'), JSON.stringify({ alternateTftp: 'yes', tftpServer1: '10.0.0.7', dhcpEnabled: true }));
  const s = await loadSettings(new FileNvram(dir));
  assert.is(s.alternateTftp, false);
  assert.is(s.tftpServer1, '10.0.0.7');
  assert.match(validateSettings({ ...DEFAULT_SETTINGS, alternateTftp: true })!, /TFTP Server 1/);
  assert.match(validateSettings({ ...DEFAULT_SETTINGS, dhcpEnabled: false })!, /static address/);
  assert.is(validateSettings(DEFAULT_SETTINGS), undefined);
  await rm(dir, { recursive: true });
});

test('virtual clock: timers fire in order, sleeps abort', async () => {
  const c = new VirtualClock(0);
  const seen: number[] = [];
  c.timer(300, () => seen.push(300));
  c.timer(100, () => seen.push(100));
  void c.sleep(200).then(() => seen.push(200));
  const ac = new AbortController();
  const aborted = c.sleep(50, ac.signal).then(() => 'slept', () => 'aborted');
  ac.abort();
  assert.is(await aborted, 'aborted');
  await c.advance(250);
  assert.equal(seen, [100, 200]);
  await c.advance(100);
  assert.equal(seen, [100, 200, 300]);
  assert.is(c.now(), 350);
});

const ev = (step: StepEvent['step'], state: StepEvent['state'], message: string, extra: Record<string, unknown> = {}): PhoneEvent => ({ type: 'event', step, state, message, ms: 0, t: 0, ...extra }) as PhoneEvent;

test('status: boot events lead to Registered; a failure is shown until the next success', () => {
  let s = initialStatus('8841', 'SEP001122334455');
  s = applyEvent(s, ev('power', 'start', 'boot'));
  assert.is(s.phase, 'Booting');
  s = applyEvent(s, ev('dhcp', 'done', 'IP', { address: '10.0.0.9' }));
  s = applyEvent(s, ev('config', 'retry', 'No configuration on 10.0.0.1'));
  assert.is(s.problem, 'No configuration on 10.0.0.1');
  s = applyEvent(s, ev('config', 'done', 'ok', { file: 'SEP001122334455.cnf.xml' }));
  assert.is(s.problem, undefined);
  s = applyEvent(s, ev('register', 'done', 'Registered', { line: '1001', cm: '10.0.0.1' }));
  assert.ok(s.registered);
  s = applyEvent(s, ev('dhcp', 'progress', 'Lease renewed'));
  assert.ok(s.registered && s.phase === 'Registered', 'renewals do not disturb the screen');
  s = applyEvent(s, ev('register', 'fail', 'Lost CM'));
  assert.not.ok(s.registered);
  assert.is(s.problem, 'Lost CM');
});

test('screens are always exactly the panel size, whatever the status says', () => {
  const text = fc.string({ maxLength: 200 });
  fc.assert(
    fc.property(fc.record({ phase: text, problem: fc.option(text, { nil: undefined }), line: fc.option(text, { nil: undefined }), registered: fc.boolean(), log: fc.array(text, { maxLength: 5 }), address: fc.option(text, { nil: undefined }) }), fc.constantFrom(LCD_160x128, LCD_320x240), (p, g) => {
      const s = { ...initialStatus('8841', MacAddress.parse('001122334455')!.deviceName), ...p };
      const f = renderScreen(s, g);
      return f.rows.length === g.rows && f.rows.every((r) => r.length === g.cols);
    }),
    { numRuns: 500 },
  );
});

test('a refusal reason fits the small panel and is not cut', () => {
  let s = initialStatus('8841', 'SEP001122334403');
  s = applyEvent(s, ev('register', 'retry', 'Refused: Unknown device; autoregistration is off; retry in 20 s'));
  const shown = renderScreen(s, LCD_160x128).rows.join(' ');
  assert.match(shown, /Unknown/);
  assert.match(shown, /autoregistration/);
  assert.match(shown, /retry in 20 s/);
});

test('wrap breaks at spaces and cuts only words longer than the line', () => {
  assert.equal(wrap('TFTP server 10.0.0.1 not answering', 12), ['TFTP server', '10.0.0.1 not', 'answering']);
  assert.equal(wrap('SEP001122334455.cnf.xml', 10), ['SEP0011223', '34455.cnf.', 'xml']);
});

test.run();
