/**
 * SIPp as an independent caller of the self-provisioning IVR (issue 10), on loopback: a
 * third-party line (1105, digest) calls the IVR's extension offering telephone-event, gets the
 * first prompts' words as text/plain INFOs in the dialog (docs/protocols/ivr.md), plays RFC 2833
 * digits from SIPp's own captures, and hangs up; the companion's log must show the IVR heard
 * exactly those digits. The scenario checks the INFOs (its exit code); the test reads the log.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import { Companion } from '../../src/cm/companion.ts';
import { loopbackConfig } from '../../src/cm/config.ts';
import { Proc, needs } from '../support/proc.ts';
import { ROOT, tempDir } from '../support/sepi.ts';

const LO = '127.0.0.1';
const t = suite('SIPp calls the IVR with RFC 2833 digits');
let dir = '';
let companion: Companion;
const lines: string[] = [];

t.before(async () => {
  await needs('sipp');
  if (!existsSync('/usr/share/sip-tester/dtmf_2833_1.pcap')) throw new Error('needs /usr/share/sip-tester/dtmf_2833_*.pcap (the sip-tester package)');
  dir = await tempDir('ivr-sipp');
  companion = new Companion({ dataDir: join(dir, 'cm'), config: loopbackConfig({ security: { mode: 'none' }, autoRegistration: { enabled: false } }), log: (l) => lines.push(l) });
  await companion.start();
  expectOk(companion.phones.add({ mac: '0011223344B5', model: '8841', dn: '1105', password: 'line-secret' }));
  expectOk(companion.ivr.set({ extension: '8999', auth: 'users' }));
});

t.after(async () => {
  await companion?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

t('the prompts arrive as text/plain INFOs, the digits 1 2 3 reach the IVR', async () => {
  const sipp = new Proc('sipp-ivr', 'sipp', [
    '-sf', join(ROOT, 'test/fixtures/sipp-ivr-caller.xml'), '-s', '8999', '-i', LO, '-p', '0', '-t', 't1', '-m', '1', '-nostdin',
    '-trace_err', '-error_file', join(dir, 'sipp.err'), '-timeout', '60s', '-timeout_error', `${LO}:${companion.endpoints.sip}`,
  ]);
  const code = await sipp.exit(60_000);
  assert.is(code, 0, `SIPp's scenario passed:\n${await readFile(join(dir, 'sipp.err'), 'utf8').catch(() => '')}\n${sipp.tail()}\n${lines.slice(-20).join('\n')}`);
  for (let i = 0; i < 100 && !lines.some((l) => /ivr SEP0011223344B5 \(1105\): call over/.test(l)); i++) await new Promise((r) => setTimeout(r, 50));
  const over = lines.find((l) => /ivr SEP0011223344B5 \(1105\): call over/.test(l));
  assert.ok(over, lines.join('\n'));
  assert.match(over!, /call over: the caller hung up .*digits "123"/);
  assert.ok(lines.some((l) => /ivr SEP0011223344B5 \(1105\): answered \(PCMU, telephone-event\)/.test(l)));
});

t.run();
