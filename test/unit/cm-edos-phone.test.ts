/**
 * The companion's EDOS stand-in and provisioning server against the Multiplatform phone (the
 * `mpp` persona) in the in-process harness: a redirect to the companion's own `/mpp/$PSN/$MA.xml`
 * takes the phone to Acquired and registered with its line (digest with its password); "no
 * provider" makes it Unavailable; a fault keeps it Pending and asking again.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import type { Companion } from '../../src/cm/companion.ts';
import { ManufacturingCa } from '../../src/factory/manufacturing-ca.ts';
import type { StepEvent } from '../../src/phone/events.ts';
import { Harness, type HarnessPhone } from '../support/harness.ts';

const t = suite('EDOS and profiles with a Multiplatform phone');
let h: Harness;
let c: Companion;
let factory: ManufacturingCa;
let dir = '';
let edosUrl = '';

const customization = (p: HarnessPhone) => p.steps().filter((e) => e.step === 'customization' && e.state === 'done').map((e) => (e as StepEvent & { customization?: string }).customization);

t.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sepi-edos-phone-'));
  h = await Harness.start({ companion: false });
  factory = (await ManufacturingCa.open(join(dir, 'factory'), h.clock.now())).ca;
  c = await h.startCompanion({
    edos: { port: 0, factory: join(dir, 'factory') }, web: { port: 0 },
    phones: [{ mac: '0022905c1a2b', model: '8841', dn: '1301', password: 'pw-1301' }],
  });
  edosUrl = expectOk(c.status.get()).edosUrl!;
});

t.after(async () => {
  await h?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

t('a redirect to the companion\'s profile: Custom-Pending, Acquired, registered on the generated line', async () => {
  expectOk(c.mpp.setRule({ mac: '0022905c1a2b', profileRule: `http://127.0.0.1:${c.endpoints.http}/mpp/$PSN/$MA.xml` }));
  const p = h.phone('0022905c1a2b', { persona: 'mpp', edosUrl, micIssuer: factory });
  const reg = await h.event(p, 'registered', (e) => e.step === 'register' && e.state === 'done');
  assert.match(reg.message, /Registered 1301/);
  assert.equal(customization(p).slice(-3), ['Pending', 'Custom-Pending', 'Acquired']);
  assert.match(h.companionLog.join('\n'), /sip REGISTER SEP0022905C1A2B .*: 401 challenge[\s\S]*sip REGISTER SEP0022905C1A2B .*: 200 1301 registered/);
  assert.equal(expectOk(c.mpp.listRules()).requests, { '0022905c1a2b': 1 });
});

t('no provider: Unavailable; a fault: Pending, asked again on the ladder', async () => {
  expectOk(c.mpp.setRule({ mac: '0022905c1a2c', none: true }));
  const none = h.phone('0022905c1a2c', { persona: 'mpp', edosUrl, micIssuer: factory });
  await h.until('Unavailable', () => customization(none).includes('Unavailable'));
  expectOk(c.mpp.setRule({ model: '8841', fault: '503' }));
  const faulty = h.phone('0022905c1a2d', { persona: 'mpp', edosUrl, micIssuer: factory });
  await h.until('asked twice', () => (expectOk(c.mpp.listRules()).requests['0022905c1a2d'] ?? 0) >= 2);
  assert.not.ok(customization(faulty).some((s) => s !== 'Open' && s !== 'Pending'), customization(faulty).join());
  assert.match(h.companionLog.join('\n'), /edos 127\.0\.0\.1 0022905c1a2d CP-8841-3PCC: fault 503 \(model rule/);
});

t.run();
