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

test.run();
