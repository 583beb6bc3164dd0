/**
 * The companion's services against clients nobody here wrote: busybox udhcpc for DHCP,
 * tftp-hpa and atftp for TFTP, SIPp playing a Cisco phone against the registrar.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parsePhoneConfig } from '../../src/wire/cnf-xml.ts';
import { Lab } from '../support/lab.ts';
import { needs } from '../support/proc.ts';
import { ROOT, cm, cmJson, startCompanion, tempDir } from '../support/sepi.ts';

const run = promisify(execFile);
const peers = suite('companion against udhcpc, tftp-hpa, atftp and SIPp');
let lab: Lab;
let dir = '';
let data = '';
let client = '';
let companion: Awaited<ReturnType<typeof startCompanion>>;

const UDHCPC_SCRIPT = `#!/bin/sh
[ "$1" = bound ] && echo "BOUND ip=$ip subnet=$subnet router=$router serverid=$serverid lease=$lease opt150=$opt150 tftp=$tftp"
exit 0
`;

peers.before(async () => {
  await needs('busybox', 'tftp', 'atftp', 'sipp');
  lab = await Lab.create('10.79.0');
  dir = await tempDir('cmpeers');
  data = join(dir, 'cm');
  await run('mkdir', ['-p', data]);
  companion = await startCompanion(lab, data, { phones: [{ mac: '00:11:22:33:44:c0', model: '8841', dn: '1200', description: 'Known' }] });
  client = await lab.addHost('client', { address: '10.79.0.50/24', mac: '02:00:00:00:00:50' });
});

peers.after(async () => {
  await lab?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function udhcpc(ns: string): Promise<Record<string, string>> {
  const script = join(dir, 'udhcpc.sh');
  await writeFile(script, UDHCPC_SCRIPT);
  await chmod(script, 0o755);
  const { stdout } = await run('ip', ['netns', 'exec', ns, 'busybox', 'udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '5', '-T', '2', '-s', script, '-V', 'Cisco Systems, Inc. IP Phone CP-8841', '-O', '150', '-O', '66']);
  const line = stdout.split('\n').find((l) => l.startsWith('BOUND '));
  if (!line) throw new Error(`udhcpc got no lease:\n${stdout}`);
  return Object.fromEntries(line.slice(6).split(' ').map((kv) => kv.split('=') as [string, string]));
}

peers('busybox udhcpc gets a lease with options 150 and 66, and the same address after a restart', async () => {
  const ns = await lab.addHost('udhcpc', { mac: '02:00:00:00:00:61' });
  const lease = await udhcpc(ns);
  assert.match(lease['ip']!, /^10\.79\.0\.1\d\d$/);
  assert.is(lease['serverid'], '10.79.0.1');
  assert.is(lease['router'], '10.79.0.1');
  assert.is(lease['subnet'], '255.255.255.0');
  assert.is(lease['opt150'], '0a4f0001', 'option 150 = 10.79.0.1');
  assert.is(lease['tftp'], '10.79.0.1', 'option 66');
  // The lease is kept in SQLite: a restarted companion gives the same address back.
  await lab.stopAll();
  companion = await startCompanion(lab, data, { phones: [{ mac: '00:11:22:33:44:c0', model: '8841', dn: '1200' }] });
  const again = await udhcpc(ns);
  assert.is(again['ip'], lease['ip']);
  const other = await udhcpc(await lab.addHost('udhcpc2', { mac: '02:00:00:00:00:62' }));
  assert.is.not(other['ip'], lease['ip'], 'a second client gets another address');
  assert.ok(companion.lines.some((l) => /dhcp discover 020000000061 \(Cisco Systems, Inc\. IP Phone CP-8841\)/.test(l)));
});

peers('tftp-hpa fetches a device file and gets error 1 for an unknown one', async () => {
  const out = join(dir, 'sep.xml');
  await run('ip', ['netns', 'exec', client, 'tftp', '-m', 'binary', '10.79.0.1', '-c', 'get', 'SEP0011223344C0.cnf.xml', out]);
  const parsed = parsePhoneConfig(await readFile(out));
  assert.ok(parsed.ok && parsed.value.kind === 'device' && parsed.value.lines[0]?.dn === '1200');
  const missing = await run('ip', ['netns', 'exec', client, 'tftp', '-m', 'binary', '10.79.0.1', '-c', 'get', 'SEP0000000000AA.cnf.xml', join(dir, 'no.xml')]).then(
    (r) => r.stdout + r.stderr,
    (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
  );
  assert.match(missing, /Error code 1: File not found/);
});

peers('atftp fetches XMLDefault.cnf.xml with blksize and tsize negotiated', async () => {
  const out = join(dir, 'default.xml');
  const r = await run('ip', ['netns', 'exec', client, 'atftp', '--verbose', '--option', 'blksize 1428', '--option', 'tsize 0', '--get', '--remote-file', 'XMLDefault.cnf.xml', '--local-file', out, '10.79.0.1', '69']);
  const parsed = parsePhoneConfig(await readFile(out));
  assert.ok(parsed.ok && parsed.value.kind === 'default' && parsed.value.callManagers[0]?.host === '10.79.0.1');
  assert.match(r.stdout + r.stderr, /blksize.*1428/i);
  const missing = await run('ip', ['netns', 'exec', client, 'atftp', '--get', '--remote-file', 'SEP0000000000AB.cnf.xml', '--local-file', join(dir, 'x'), '10.79.0.1', '69']).then(
    (x) => x.stdout + x.stderr,
    (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
  );
  assert.match(missing, /File not found/i);
});

peers('SIPp as an unknown Cisco phone: 200 with Expires 120, a service-control reset, keep-alive accepted', async () => {
  const scenario = join(ROOT, 'test/fixtures/sipp-cisco-register.xml');
  const notify = join(ROOT, 'test/fixtures/sipp-cisco-notify.xml');
  const r = await run('ip', ['netns', 'exec', client, 'sipp', '-sf', scenario, '-oocsf', notify, '-t', 't1', '-i', '10.79.0.50', '-p', '5070', '-m', '1', '-timeout', '20s', '-timeout_error', '-nostdin', '-trace_err', '-error_file', join(dir, 'sipp-errors.log'), '10.79.0.1:5060']).then(
    () => 0,
    async (e: { code?: number }) => {
      const log = await readFile(join(dir, 'sipp-errors.log'), 'utf8').catch(() => '');
      throw new Error(`sipp failed (${e.code}):\n${log}`);
    },
  );
  assert.is(r, 0);
  const shown = await cmJson<{ dn: string; autoregistered: boolean }>(data, 'phone', 'show', 'SEP0011223344C1');
  assert.is(shown.autoregistered, true);
  assert.match(shown.dn, /^2\d\d\d$/);
  // SIPp answered the NOTIFY (its out-of-call scenario checked the event and the body).
  assert.ok(companion.lines.some((l) => /sip NOTIFY SEP0011223344C1 .*: 200 service-control reset/.test(l)), companion.tail());
  assert.ok(companion.lines.some((l) => /sip REGISTER SEP0011223344C1 .*: 200 backup keep-alive/.test(l)), companion.tail());
  const status = await cm(data, 'status');
  assert.match(status, /phones\s+2/);
});

peers.run();
