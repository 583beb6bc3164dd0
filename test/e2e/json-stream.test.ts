/**
 * The JSON stream as a lab reads it: a phone in a namespace boots against the companion, is
 * refused once (autoregistration off), is added and registers; every line it printed validates
 * against the published schema (startPhone checks each), and the two jq recipes in docs/cli.md
 * give what they promise when run by the real jq on that stream.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Lab } from '../support/lab.ts';
import { needs } from '../support/proc.ts';
import { ROOT, TempDirs, cm, isRegistered, startCompanion, startPhone } from '../support/sepi.ts';

const run = promisify(execFile);

/** The jq programs of docs/cli.md's "Two lab uses", in order. */
async function recipes(): Promise<Array<{ args: string[] }>> {
  const doc = await readFile(join(ROOT, 'docs', 'cli.md'), 'utf8');
  const out: Array<{ args: string[] }> = [];
  for (const m of doc.matchAll(/^\s+jq (-r(?: --unbuffered)?) '([^']+)'$/gm)) out.push({ args: [...m[1]!.split(' '), m[2]!] });
  return out;
}

test('every line validates, and the docs/cli.md jq recipes work on a real stream', async () => {
  await needs('jq');
  const lab = await Lab.create('10.86.0');
  const dirs = new TempDirs();
  try {
    const data = await dirs.make('cm');
    await startCompanion(lab, data, { security: { mode: 'none' }, autoRegistration: { enabled: false } });
    const ns = await lab.addHost('json', { mac: '00:11:22:33:44:e1' });
    const phone = startPhone(lab, ns, '0011223344e1', await dirs.make('nv'), ['--until', 'registered', '--timeout', '120']);
    await phone.waitForEvent('a refusal', (e) => e['step'] === 'register' && e['state'] === 'retry', 60_000);
    await cm(data, 'phone', 'add', '--mac', '0011223344e1', '--model', '8841', '--dn', '1201');
    assert.is(await phone.exit(120_000), 0, phone.tail());
    const events = phone.events(); // every line checked against the schema here
    assert.ok(events.some(isRegistered('device')));
    assert.ok(events.some((e) => e['type'] === 'flow' && e['to'] === 'registered'));
    assert.ok(events.some((e) => e['type'] === 'screen'));
    const stream = join(await dirs.make('stream'), 'events.jsonl');
    await writeFile(stream, phone.lines.filter((l) => l.startsWith('{')).join('\n') + '\n');

    const [timeline, retries] = await recipes();
    assert.ok(timeline && retries, 'docs/cli.md has both recipes');
    const a = (await run('jq', [...timeline.args, stream])).stdout.trim().split('\n');
    assert.ok(a.some((l) => /^\d+(\.\d+)? s {2}dhcp {2}IP 10\.86\.0\.\d+/.test(l)), a.join('\n'));
    assert.ok(a.some((l) => / s {2}register {2}Registered 1201 with 10\.86\.0\.1$/.test(l)), a.join('\n'));
    const b = (await run('jq', [...retries.args, stream])).stdout.trim().split('\n');
    assert.ok(b.some((l) => /^"register","refused",5,"Refused: Unknown device; autoregistration is off; retry in 5 s"$/.test(l)), b.join('\n'));
  } finally {
    await lab.destroy();
    await dirs.removeAll();
  }
});

test.run();
