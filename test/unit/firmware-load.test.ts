/**
 * Firmware loads in two banks (issue 11), on the in-process harness: the default file names a
 * load; the phone fetches its signed `.loads` and every component from the companion's TFTP
 * root, checks them against its firmware signer, writes them to the inactive bank, switches on
 * trial and reboots; the trial load registers and stays. A forged component leaves the active
 * bank alone; a trial boot that never registered falls back and is not tried again.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type { StepEvent } from '../../src/phone/events.ts';
import { makeCert } from '../support/certs.ts';
import { Harness, type HarnessPhone } from '../support/harness.ts';
import { freeTcpPort } from '../support/proc.ts';
import { publishLoad } from '../support/test-load.ts';

const signer = makeCert('sepi firmware signer (test)');
const LOAD = 'sepi88xx.2-0-0-0001';

/** Writes a load into the companion's TFTP root; `forge` changes a component after it was listed. */
const publish = (h: Harness, o: { forge?: boolean } = {}) => publishLoad(join(h.dataFolder, 'tftp-root'), LOAD, signer, o);

const powerOn = (p: HarnessPhone) => p.steps().filter((e) => e.step === 'power' && e.state === 'start') as Array<StepEvent & { load?: string; reason?: string }>;
const registered = (e: StepEvent) => e.step === 'register' && e.state === 'done';

test('a signed load is installed in the other bank, the phone reboots on it, registers, and it stays', async () => {
  const h = await Harness.start({ companion: { loadInformation: { '683': LOAD } } });
  try {
    await publish(h);
    const p = h.phone('00:11:22:33:44:e1', { firmwareCert: signer.pem });
    const installed = await h.event(p, 'installed', (e) => e.step === 'load' && e.state === 'done');
    assert.ok('bank' in installed && installed.bank === 'B');
    await h.event(p, 'registered on the new load', registered, p.steps().findIndex((e) => e.step === 'load' && e.state === 'done'));
    const boots = powerOn(p);
    assert.equal([boots[0]!.load, boots[1]!.load, boots[1]!.reason], ['sip88xx.14-2-1-0001-14', LOAD, 'load-installed']);
    await h.event(p, 'trial passed', (e) => e.step === 'load' && 'trial' in e && e.trial === 'passed');
    // Later boots (the companion resets an autoregistered phone onto its own file) stay on the new load.
    await h.event(p, 'registered on its own file', (e) => registered(e) && 'configKind' in e && e.configKind === 'device');
    assert.ok(powerOn(p).slice(1).every((b) => b.load === LOAD), JSON.stringify(powerOn(p).map((b) => b.load)));
    assert.ok(p.steps().filter((e) => e.step === 'load' && e.state === 'progress' && 'file' in e).length === 2, 'both components verified');
    assert.is(p.nvram.names().filter((n) => n.startsWith('bank-b/')).length, 2, 'both components in bank B');
  } finally {
    await h.stop();
  }
});

test('a component that is not the one the signed list names: nothing installed, the active load stays and registers', async () => {
  const h = await Harness.start({ companion: { loadInformation: { '683': LOAD } } });
  try {
    await publish(h, { forge: true });
    const p = h.phone('00:11:22:33:44:e2', { firmwareCert: signer.pem });
    const refused = await h.event(p, 'refused', (e) => e.step === 'load' && e.state === 'fail');
    assert.match(refused.message, /board\.txt is not the file the signed list names/);
    await h.event(p, 'registered on the old load', registered);
    assert.equal(powerOn(p).map((b) => b.load), ['sip88xx.14-2-1-0001-14']);
    // And a load signed by someone else is refused before any component is fetched.
    const other = makeCert('not the firmware signer');
    const q = h.phone('00:11:22:33:44:e3', { firmwareCert: other.pem });
    const r = await h.event(q, 'refused', (e) => e.step === 'load' && e.state === 'fail');
    assert.match(r.message, /is not signed by/);
    assert.not.ok(q.steps().some((e) => e.step === 'load' && e.state === 'progress'));
  } finally {
    await h.stop();
  }
});

test('a trial boot that never registered falls back to the other bank, and that load is not tried again', async () => {
  // The call manager the files name does not answer: no load can register here.
  const nobody = await freeTcpPort();
  const h = await Harness.start({ companion: { loadInformation: { '683': LOAD }, callManagers: [{ host: '127.0.0.1', sipPort: nobody, priority: 0 }] } });
  try {
    await publish(h);
    const p = h.phone('00:11:22:33:44:e4', { firmwareCert: signer.pem });
    await h.event(p, 'installed', (e) => e.step === 'load' && e.state === 'done');
    await h.until('the trial boot begins', () => powerOn(p).some((b) => b.load === LOAD) || undefined);
    // Power-cycled before the trial load ever registered.
    p.handset.firmware.reboot('reset', 'user-restart');
    const fell = await h.event(p, 'fell back', (e) => e.step === 'load' && 'trial' in e && e.trial === 'failed');
    assert.ok('activeLoad' in fell && fell.activeLoad === 'sip88xx.14-2-1-0001-14');
    const fellAt = p.steps().findIndex((e) => e.step === 'load' && 'trial' in e && e.trial === 'failed');
    const again = await h.event(p, 'not tried again', (e) => e.step === 'load' && e.state === 'fail', fellAt);
    assert.match(again.message, /failed its trial before/);
    assert.is(powerOn(p).at(-1)!.load, 'sip88xx.14-2-1-0001-14');
    assert.not.ok(p.steps().some((e) => e.step === 'load' && 'trial' in e && e.trial === 'passed'));
  } finally {
    await h.stop();
  }
});

test.run();
