/**
 * `make firmware` (issue 11), without the download of the Pi's Node runtime: the load holds one
 * esbuild bundle that runs with no type stripping, the boards, the external packages, and a
 * `.loads` file whose signature verifies with the build's firmware key and whose every line
 * names a file of the load with its size and SHA-256.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseSignedFile, verifySignedFile } from '../../src/wire/tlv.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

test('a load: the bundle runs, the .loads is signed by the firmware key and lists every file with its hash', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sepi-firmware-'));
  try {
    const out = await run(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'scripts', 'build-firmware.ts'), '--out', join(dir, 'out'), '--keys', join(dir, 'keys'), '--no-runtime', '--load-id', 'sepi88xx.1-0-0-0002'], { cwd: ROOT });
    assert.match(out.stdout, /firmware sepi88xx\.1-0-0-0002: \d+ files/);
    const load = join(dir, 'out', 'sepi88xx.1-0-0-0002');
    const loads = await readFile(join(load, 'sepi88xx.1-0-0-0002.loads'));
    // And beside the folder, as a TFTP root holds a load (out/firmware/<load>.loads, <load>/…).
    assert.equal(await readFile(join(dir, 'out', 'sepi88xx.1-0-0-0002.loads')), loads);
    const parsed = parseSignedFile(loads);
    if (!parsed.ok) return assert.unreachable(parsed.error.message);
    assert.equal(parsed.value.header.version, [1, 1]);
    assert.is(parsed.value.header.filename, 'sepi88xx.1-0-0-0002.loads');
    const cert = createPublicKey(await readFile(join(dir, 'keys', 'firmware.cert.pem')));
    assert.ok(verifySignedFile(loads, parsed.value.header, (d, data, sig) => cryptoVerify(d, data, cert, sig)), 'signed by the firmware key');
    const lines = Buffer.from(parsed.value.body).toString('utf8').trim().split('\r\n');
    assert.ok(lines.some((l) => l.startsWith('lib/sepi/sepi.mjs ')) && lines.some((l) => l.startsWith('board/')));
    for (const line of lines) {
      const [file, size, sha] = line.split(' ');
      const data = await readFile(join(load, file!));
      assert.is(data.length, Number(size), file);
      assert.is(createHash('sha256').update(data).digest('hex'), sha, file);
    }
    // The bundle runs as plain JavaScript: no TypeScript left for Node to strip.
    const bundle = join(load, 'lib', 'sepi', 'sepi.mjs');
    assert.not.match((await readFile(bundle, 'utf8')).slice(0, 2000), /import type /);
    assert.match((await run(process.execPath, [bundle, '--version'])).stdout, /^sepi /);
    const verified = await run(process.execPath, [bundle, 'tlv', 'verify', join(load, 'sepi88xx.1-0-0-0002.loads'), '--cert', join(dir, 'keys', 'firmware.cert.pem')]);
    assert.match(verified.stdout, /valid/);
    // A changed byte in the list, and the signature no longer holds.
    const forged = Buffer.from(loads);
    forged[forged.length - 5]! ^= 1;
    assert.not.ok(verifySignedFile(forged, parsed.value.header, (d, data, sig) => cryptoVerify(d, data, cert, sig)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
