/**
 * Activation-code onboarding in network namespaces (issue 8), with the command contract lab
 * automation relies on: real DHCP, a companion process driven through `sepi cm`, phone processes
 * given `--activation-code`, a factory made with `sepi factory init` whose CA the companion takes
 * with `sepi cm trust import-manufacturing` (as on another machine), and mutual TLS on 6971.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Lab } from '../support/lab.ts';
import { SEPI, TempDirs, cm, cmJson, isRegistered, startCompanion, startPhone } from '../support/sepi.ts';

const run = promisify(execFile);

test('BAT phone onboards by code, secure shipping refuses another MAC, and the codes export as CSV', async () => {
  const lab = await Lab.create('10.90.0');
  const dirs = new TempDirs();
  try {
    const factory = await dirs.make('factory');
    const init = await run(SEPI, ['factory', 'init', '--dir', factory]);
    assert.match(init.stdout, /made CN=sepi Manufacturing CA/);
    const data = await dirs.make('cm');
    // No factory configured on the companion: it learns the CA the way another machine would.
    await startCompanion(lab, data, { activation: { manufacturingCaFiles: [] } });
    assert.match(await cm(data, 'trust', 'import-manufacturing', join(factory, 'manufacturing-ca.cert.pem')), /now accepts MICs from CN=sepi Manufacturing CA/);
    await cm(data, 'device-defaults', 'set', '--model', '8841', '--onboarding', 'activation-code');
    await cm(data, 'user', 'add', '--id', 'alice', '--password', 'alice-secret-1', '--primary-dn', '1701');
    const bat = await cmJson<{ deviceName: string; activationCode: { code: string } }>(data, 'phone', 'add', '--model', '8841', '--require-activation-code', '--owner', 'alice', '--dn', '1701');
    assert.match(bat.deviceName, /^BAT[0-9A-F]{12}$/);
    assert.match(bat.activationCode.code, /^\d{4}-\d{4}-\d{4}-\d{4}$/);
    const shipped = await cmJson<{ deviceName: string; activationCode: { code: string } }>(data, 'phone', 'add', '--mac', '00:11:22:33:44:e5', '--model', '8841', '--require-activation-code', '--dn', '1702');

    const csv = await cm(data, 'codes', 'export', '--csv');
    const lines = csv.trim().split('\r\n');
    assert.is(lines[0], 'Device Name,Description,Device Type,Owner User ID,Activation Code,Activation Code Expiry (UTC ISO-8601),Status');
    assert.ok(lines.some((l) => l.startsWith(`${bat.deviceName},,Cisco 8841,alice,${bat.activationCode.code},`)), csv);
    assert.is(lines.length, 3);

    // Another phone of the model with the shipped phone's code: refused; with the BAT code: it onboards.
    const thiefNs = await lab.addHost('thief', { mac: '00:11:22:33:44:e4' });
    const thief = startPhone(lab, thiefNs, '0011223344e4', await dirs.make('nv'), ['--factory', factory, '--activation-code', shipped.activationCode.code, '--until', 'registered', '--timeout', '15']);
    await thief.waitForEvent('mac mismatch', (e) => e['step'] === 'onboarding' && e['state'] === 'fail' && e['reason'] === 'mac_mismatch', 60_000);
    await thief.stop();

    const ns = await lab.addHost('bat', { mac: '00:11:22:33:44:e6' });
    const phone = startPhone(lab, ns, '0011223344e6', await dirs.make('nv'), ['--factory', factory, '--activation-code', bat.activationCode.code, '--until', 'registered', '--timeout', '90']);
    assert.is(await phone.exit(120_000), 0, phone.tail());
    const reg = phone.events().find(isRegistered('device'))!;
    assert.is(reg['line'], '1701');
    assert.ok(phone.events().some((e) => e['step'] === 'onboarding' && e['state'] === 'done' && e['deviceName'] === 'SEP0011223344E6'));
    const shown = await cmJson<{ deviceName: string; owner?: string; requiresActivationCode: boolean; mac: string }>(data, 'phone', 'show', '00:11:22:33:44:e6');
    assert.equal([shown.deviceName, shown.owner, shown.requiresActivationCode, shown.mac], ['SEP0011223344E6', 'alice', false, '0011223344E6']);
    const after = await cm(data, 'codes', 'export', '--csv');
    assert.not.ok(after.includes(bat.activationCode.code), 'a used code is no longer outstanding');

    // Bulk: a template, a CSV with a bad row (refused by line, nothing made), then the good file.
    await cm(data, 'template', 'add', 'lab-8841', '--model', '8841', '--require-activation-code', '--owner', 'alice');
    const csvFile = join(data, 'phones.csv');
    await writeFile(csvFile, 'MAC ADDRESS,DESCRIPTION,DIRECTORY NUMBER 1\r\n,desk 1,1711\r\n00:11:22:33:44:e8,desk 2,17x2\r\n');
    const refused = await run(SEPI, ['cm', '--data', data, 'bat', 'insert', '--csv', csvFile, '--template', 'lab-8841', '--dummy-mac']).catch((e: { code: number; stderr: string }) => e);
    assert.ok('stderr' in refused && /line 3: "17x2" is not a directory number/.test(refused.stderr), JSON.stringify(refused));
    await writeFile(csvFile, 'MAC ADDRESS,DESCRIPTION,DIRECTORY NUMBER 1\r\n,desk 1,1711\r\n00:11:22:33:44:e8,desk 2,1712\r\n');
    const inserted = await cmJson<{ count: number; phones: Array<{ deviceName: string; activationCode?: string }> }>(data, 'bat', 'insert', '--csv', csvFile, '--template', 'lab-8841', '--dummy-mac');
    assert.is(inserted.count, 2);
    assert.ok(inserted.phones.every((x) => x.activationCode));
    const blanked = await cmJson<{ deviceName: string }>(data, 'phone', 'set-mac', 'SEP0011223344E8', '--blank');
    assert.match(blanked.deviceName, /^BAT/);
  } finally {
    await lab.destroy();
    await dirs.removeAll();
  }
});


/** A wrong code that still passes the check digit (so it reaches the service). */
const wrongCode = (n: number) => {
  const fifteen = String(100_000_000_000_000 + n).slice(-15);
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    let d = Number(fifteen[14 - i]);
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return fifteen + String((10 - (sum % 10)) % 10);
};
const keys = (code: string) => `${code.replace(/-/g, '').split('').join(' ')} soft1`;
const onboardingFail = (reason: string) => (e: Record<string, unknown>) => e['step'] === 'onboarding' && e['state'] === 'fail' && e['reason'] === reason;
const onboarded = (e: Record<string, unknown>) => e['step'] === 'onboarding' && e['state'] === 'done';
/** The LCD shows the code entry (keys sent before it shows would land on another screen). */
const codeScreen = (e: Record<string, unknown>) => e['type'] === 'screen' && String((e['screen'] as string[] | undefined)?.[0] ?? '').startsWith('Activation code');

test('every use case in namespaces: wrong model, two phones racing, a reused code, secure shipping, a damaged phone replaced, re-onboarding, brute force', async () => {
  const lab = await Lab.create('10.91.0');
  const dirs = new TempDirs();
  try {
    const factory = await dirs.make('factory');
    await run(SEPI, ['factory', 'init', '--dir', factory]);
    const data = await dirs.make('cm');
    await startCompanion(lab, data, { activation: { manufacturingCaFiles: [join(factory, 'manufacturing-ca.cert.pem')] } });
    for (const model of ['8841', '7841']) await cm(data, 'device-defaults', 'set', '--model', model, '--onboarding', 'activation-code');
    const add = (...args: string[]) => cmJson<{ deviceName: string; activationCode: { code: string } }>(data, 'phone', 'add', '--require-activation-code', ...args);
    const phone = async (name: string, mac: string, extra: string[]) => {
      const ns = await lab.addHost(name, { mac: mac.replace(/(..)(?!$)/g, '$1:') });
      return startPhone(lab, ns, mac, await dirs.make('nv'), ['--factory', factory, ...extra]);
    };

    // Wrong model: a 7841's code typed on an 8841.
    const for7841 = await add('--model', '7841', '--dn', '2101');
    const wrongModel = await phone('wm', '0011223344a1', ['--activation-code', for7841.activationCode.code]);
    await wrongModel.waitForEvent('model mismatch', onboardingFail('model_mismatch'), 60_000);
    await wrongModel.stop();

    // Two phones racing with one code: exactly one wins; a third phone later finds it used.
    const shared = await add('--model', '8841', '--dn', '2102');
    const racers = await Promise.all([phone('r1', '0011223344a2', ['--activation-code', shared.activationCode.code]), phone('r2', '0011223344a3', ['--activation-code', shared.activationCode.code])]);
    const settled = await Promise.all(racers.map((r) => r.waitForEvent('activated or refused', (e) => onboarded(e) || onboardingFail('invalid_code')(e), 60_000)));
    assert.is(settled.filter(onboarded).length, 1, JSON.stringify(settled));
    const winner = racers[settled.findIndex(onboarded)]!;
    assert.is((await winner.waitForEvent('winner registers', isRegistered('device'), 60_000))['line'], '2102');
    for (const r of racers) await r.stop();
    const late = await phone('late', '0011223344a4', ['--activation-code', shared.activationCode.code]);
    await late.waitForEvent('a used code', onboardingFail('invalid_code'), 60_000);
    await late.stop();

    // Secure shipping: the code of a phone provisioned with its MAC works on that phone.
    const shipped = await add('--model', '8841', '--mac', '00:11:22:33:44:a5', '--dn', '2105', '--password', 'line-2105');
    const own = await phone('own', '0011223344a5', ['--activation-code', shipped.activationCode.code]);
    assert.is((await own.waitForEvent('registered', isRegistered('device'), 60_000))['line'], '2105');
    await own.stop();

    // Damaged: its MAC blanked (BAT again), a new code, the replacement takes the line.
    const bat = await cmJson<{ deviceName: string }>(data, 'phone', 'set-mac', 'SEP0011223344A5', '--blank');
    const fresh = await cmJson<{ code: string }>(data, 'phone', 'code', 'new', bat.deviceName);
    const replacement = await phone('repl', '0011223344a6', ['--activation-code', fresh.code, '--keys', 'stdin']);
    assert.is((await replacement.waitForEvent('replacement registered', isRegistered('device'), 60_000))['line'], '2105');

    // Re-onboarding the registered replacement: a new code, a reset, the code typed on its keypad.
    const again = await cmJson<{ code: string }>(data, 'phone', 'code', 'new', 'SEP0011223344A6');
    const mark = replacement.events().length;
    await cm(data, 'phone', 'reset', 'SEP0011223344A6');
    await replacement.waitForEvent('the code screen', codeScreen, 60_000, mark);
    replacement.send(keys(again.code));
    assert.is((await replacement.waitForEvent('registered again', isRegistered('device'), 60_000, mark))['line'], '2105');
    await replacement.stop();

    // Brute force: five wrong codes, then the phone is locked out and told for how long.
    const guesser = await phone('guess', '0011223344a7', ['--keys', 'stdin']);
    await guesser.waitForEvent('the code screen', codeScreen, 60_000);
    for (let i = 0; i < 5; i++) {
      const before = guesser.events().length;
      guesser.send(keys(wrongCode(i)));
      await guesser.waitForEvent(`wrong code ${i + 1}`, onboardingFail('invalid_code'), 30_000, before);
      await guesser.waitForEvent('asked again', codeScreen, 30_000, before);
    }
    guesser.send(keys(wrongCode(9)));
    const locked = await guesser.waitForEvent('locked out', (e) => e['step'] === 'onboarding' && e['onboarding'] === 'locked-out', 30_000);
    assert.ok(Number(locked['retryAfterSecs']) > 800, JSON.stringify(locked));
    const audit = await cm(data, 'audit');
    assert.match(audit, /phone:0011223344A7 +activation +.*rate_limited/);
    await guesser.stop();
  } finally {
    await lab.destroy();
    await dirs.removeAll();
  }
});

test('an expired code is refused', async () => {
  const lab = await Lab.create('10.92.0');
  const dirs = new TempDirs();
  try {
    const factory = await dirs.make('factory');
    await run(SEPI, ['factory', 'init', '--dir', factory]);
    const data = await dirs.make('cm');
    // Codes that live 1.8 seconds.
    await startCompanion(lab, data, { activation: { ttlHours: 0.0005, manufacturingCaFiles: [join(factory, 'manufacturing-ca.cert.pem')] } });
    await cm(data, 'device-defaults', 'set', '--model', '8841', '--onboarding', 'activation-code');
    const bat = await cmJson<{ activationCode: { code: string } }>(data, 'phone', 'add', '--model', '8841', '--require-activation-code', '--dn', '2201');
    await new Promise((r) => setTimeout(r, 2500));
    const ns = await lab.addHost('late', { mac: '00:11:22:33:44:b1' });
    const p = startPhone(lab, ns, '0011223344b1', await dirs.make('nv'), ['--factory', factory, '--activation-code', bat.activationCode.code]);
    await p.waitForEvent('expired', onboardingFail('expired'), 60_000);
    assert.match(p.tail(), /Activation code expired/);
  } finally {
    await lab.destroy();
    await dirs.removeAll();
  }
});

test('one machine, defaults only: the phone makes the lab factory on first need and the companion, started before it existed, trusts it', async () => {
  const lab = await Lab.create('10.93.0');
  const dirs = new TempDirs();
  try {
    // Both processes see one fresh XDG_STATE_HOME, as on a lab machine where nothing was set up.
    const env = { XDG_STATE_HOME: await dirs.make('state') };
    const data = await dirs.make('cm');
    await startCompanion(lab, data, undefined, { env });
    await cm(data, 'device-defaults', 'set', '--model', '8841', '--onboarding', 'activation-code');
    const bat = await cmJson<{ activationCode: { code: string } }>(data, 'phone', 'add', '--model', '8841', '--require-activation-code', '--dn', '2301');
    const ns = await lab.addHost('fresh', { mac: '00:11:22:33:44:c1' });
    const p = startPhone(lab, ns, '0011223344c1', await dirs.make('nv'), ['--activation-code', bat.activationCode.code, '--until', 'registered', '--timeout', '90'], env);
    assert.is(await p.exit(120_000), 0, p.tail());
    assert.is(p.events().find(isRegistered('device'))!['line'], '2301');
  } finally {
    await lab.destroy();
    await dirs.removeAll();
  }
});

test.run();
