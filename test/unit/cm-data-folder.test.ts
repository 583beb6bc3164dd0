/**
 * The data folder is the companion's alone (issue 7, defects 6 and 10): a folder that existed
 * with the default umask, and files in it, end up 0700/0600 — the database and its WAL too — and
 * a pid file left by a power cut whose pid now belongs to another process does not block a start.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Companion } from '../../src/cm/companion.ts';
import { loopbackConfig } from '../../src/cm/config.ts';
import { expectOk } from '../../src/cm/admin/outcome.ts';
import { openDataFolder, startTime } from '../../src/cm/data-folder.ts';

const mode = async (p: string) => (await stat(p)).mode & 0o777;

test('a folder made beforehand with 0755 and 0644 files ends up 0700/0600, the database and its WAL included', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sepi-perm-'));
  try {
    await chmod(dir, 0o755);
    await mkdir(join(dir, 'pki'), { mode: 0o755 });
    await writeFile(join(dir, 'pki', 'old.pem'), 'x', { mode: 0o644 });
    await writeFile(join(dir, 'notes.txt'), 'x', { mode: 0o644 });
    const c = new Companion({ dataDir: dir, config: loopbackConfig(), log: () => {} });
    await c.start();
    try {
      c.phones.add({ mac: '001122334455', model: '8841', dn: '1001', password: 'secret' });
      c.phones.add({ mac: '001122334456', model: '8841', dn: '1002' });
      // No encrypted configuration yet: the status names the phones whose password is readable.
      assert.equal(expectOk(c.status.get()).passwordsInClear, ['SEP001122334455']);
      assert.is(await mode(dir), 0o700);
      const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
      assert.ok(files.some((f) => f.name === 'companion.sqlite-wal'), 'the WAL exists while serving');
      for (const f of files) assert.is(await mode(join(f.parentPath, f.name)), 0o600, `${f.name} is 0600`);
      for (const d of ['pki', 'tftp-root']) assert.is(await mode(join(dir, d)), 0o700, d);
    } finally {
      await c.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a pid file naming a live process that is not the companion that wrote it is taken over; a live owner is not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sepi-pid-'));
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    await new Promise((r) => other.once('spawn', r));
    // Written by a companion that died; the pid now belongs to `sleep` (another start time).
    await writeFile(join(dir, 'companion.pid'), `${other.pid} 1\n`);
    const release = await openDataFolder(dir);
    // The same for a file from the release before, with no start time: `sleep` serves nothing.
    await release();
    await writeFile(join(dir, 'companion.pid'), `${other.pid}\n`);
    const again = await openDataFolder(dir);
    // A live owner (ourselves, seen from a second opener with our real start time) is refused.
    await again();
    await writeFile(join(dir, 'companion.pid'), `${process.ppid} ${startTime(process.ppid)}\n`);
    const r = await openDataFolder(dir).then(() => 'opened', (e: Error) => e.message);
    assert.match(r, /another companion \(pid \d+\) is serving/);
  } finally {
    other.kill();
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
