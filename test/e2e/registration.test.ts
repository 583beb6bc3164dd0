/**
 * The phone's registration details against SIPp playing the call manager: the refresh comes
 * before the granted expiry on the same Call-ID, and a service-control NOTIFY is obeyed only
 * when its RegisterCallId names the phone's own REGISTER.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Lab } from '../support/lab.ts';
import { needs } from '../support/proc.ts';
import { ROOT, startCompanion, startPhone, tempDir } from '../support/sepi.ts';

test('refresh before expiry, NOTIFY for another registration refused, our own obeyed', async () => {
  await needs('sipp');
  const lab = await Lab.create('10.83.0');
  const data = await tempDir('reg-cm');
  const nv = await tempDir('reg-nv');
  try {
    const sippAddress = await lab.addServerAddress(2);
    // The companion hands out addresses and files; the call manager in them is SIPp.
    await startCompanion(lab, data, { callManagers: [{ host: sippAddress, sipPort: 5060 }], phones: [{ mac: '0011223344F1', model: '8841', dn: '1701' }] });
    const sipp = lab.spawn('sipp', lab.server, 'sipp', ['-sf', join(ROOT, 'test/fixtures/sipp-registrar.xml'), '-t', 't1', '-i', sippAddress, '-p', '5060', '-m', '1', '-nostdin', '-trace_err', '-error_file', join(data, 'sipp.err'), '-timeout', '60s', '-timeout_error']);
    await lab.waitForTcp(lab.server, sippAddress, 5060);
    const ns = await lab.addHost('reg', { mac: '00:11:22:33:44:f1' });
    const phone = startPhone(lab, ns, '0011223344F1', nv);
    const code = await sipp.exit(90_000);
    assert.is(code, 0, `sipp: ${await readFile(join(data, 'sipp.err'), 'utf8').catch(() => '')}\n${phone.tail()}`);
    await phone.waitForEvent('the reset', (e) => e['step'] === 'power' && e['reason'] === 'reset-reset', 30_000);
    const ev = phone.events();
    const reg = ev.find((e) => e['step'] === 'register' && e['state'] === 'done')!;
    assert.is(reg['expires'], 3);
    const refreshed = ev.find((e) => e['refreshed'] === true)!;
    assert.is(refreshed['expires'], 60);
    assert.ok(Number(refreshed['t']) - Number(reg['t']) < 3000, 'refreshed before the 3 s ran out');
    const sc = ev.filter((e) => e['serviceControl'] === 'reset').map((e) => e['accepted']);
    assert.equal(sc, [false, true]);
  } finally {
    await lab.destroy();
    await rm(data, { recursive: true, force: true });
    await rm(nv, { recursive: true, force: true });
  }
});

test.run();
