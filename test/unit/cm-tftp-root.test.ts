/**
 * The companion's TFTP root (issue 12): arbitrary files — loads, locales, ringtones — served over
 * TFTP and HTTP 6970 beside the generated ones, and nothing outside the folder, whatever the
 * name or a symbolic link inside it says.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemClock } from '../../src/common/clock.ts';
import { Companion } from '../../src/cm/companion.ts';
import { loopbackConfig } from '../../src/cm/config.ts';
import { NodeNetwork } from '../../src/phone/node-ports.ts';
import { tftpGet } from '../../src/phone/tftp-client.ts';

let dir = '';
let companion: Companion;
const network = new NodeNetwork();
const load = randomBytes(300_000);

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sepi-tftp-root-'));
  companion = new Companion({ dataDir: dir, config: loopbackConfig(), log: () => {} });
  await companion.start();
  const root = join(dir, 'tftp-root');
  await mkdir(join(root, 'English_United_States'), { recursive: true });
  await writeFile(join(root, 'sip88xx.14-2-1-0001-14.loads'), load);
  await writeFile(join(root, 'English_United_States', 'g3-tones.xml'), '<tones/>');
  await writeFile(join(dir, 'outside.txt'), 'not for phones');
  await symlink(join(dir, 'outside.txt'), join(root, 'escape.txt'));
  await symlink(join(dir, 'companion.sqlite'), join(root, 'db'));
});

test.after(async () => {
  await companion?.stop();
  await network.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const tftp = (name: string) => tftpGet(
  { network, clock: new SystemClock(), port: companion.endpoints.tftp!, request: { blksize: 1428, tsize: true, timeoutSecs: 1 }, retransmitMs: 500, retries: 3, maxBytes: 1 << 20 },
  '127.0.0.1', name, new AbortController().signal,
);
const http = (path: string) => fetch(`http://127.0.0.1:${companion.endpoints.http}/${path}`);

test('files of the root are served as they are, over TFTP and HTTP, in folders too', async () => {
  const t = await tftp('sip88xx.14-2-1-0001-14.loads');
  assert.ok(t.kind === 'file' && t.data.equals(load), 'the load over TFTP, byte for byte');
  const h = await http('English_United_States/g3-tones.xml');
  assert.is(h.status, 200);
  assert.is(await h.text(), '<tones/>');
  // The generated files are still the generated ones.
  assert.is((await http('XMLDefault.cnf.xml')).status, 200);
});

test('nothing outside the root: .. segments, absolute names, symbolic links that leave it', async () => {
  for (const name of ['../outside.txt', '..\\outside.txt', 'English_United_States/../../outside.txt', 'English_United_States\\..\\..\\outside.txt', '/etc/passwd', '//../outside.txt', 'escape.txt', 'db', './escape.txt', 'English_United_States', '']) {
    const t = await tftp(name);
    assert.ok(t.kind !== 'file', `TFTP ${name}: ${t.kind}`);
  }
  for (const path of ['escape.txt', 'db', '..%2foutside.txt', 'English_United_States%2f..%2f..%2foutside.txt', '..%5coutside.txt', 'English_United_States%5c..%5c..%5coutside.txt', '%2e%2e/outside.txt', '%2e%2e%2foutside.txt', '%2fetc%2fpasswd', 'x%00.txt']) {
    const r = await http(path);
    assert.ok(r.status === 404 || r.status === 400, `HTTP ${path}: ${r.status}`);
  }
});

test.run();
