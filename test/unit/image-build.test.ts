/**
 * `make image` (issue 11) without the download of the Pi's Node runtime (`--no-runtime`; the
 * qemu-user smoke test, test/e2e/image-qemu.test.ts, builds the whole image and runs it): the
 * tarball's listing read by our reader and by GNU tar, owners, modes and paths, the systemd unit's
 * capabilities, user and sandbox (and `systemd-analyze verify` on it), two builds byte-identical,
 * and sepi-setup laying the board's fragments and the DHCP-client exclusions over a root.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { type ReadEntry, readTar, writeTar } from '../../scripts/image/tar.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const LOAD = 'sepi88xx.1-0-0-0003';
const EPOCH = 1_767_225_600; // 2026-01-01

let dir: string;
let keys: string;
let load: string;

async function image(out: string, ...extra: string[]): Promise<{ stdout: string; entries: ReadEntry[] }> {
  const r = await run(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'scripts', 'build-image.ts'), '--no-runtime', '--firmware', load, '--keys', keys, '--out', out, ...extra], { cwd: ROOT, env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) } });
  return { stdout: r.stdout, entries: readTar(gunzipSync(await readFile(out))) };
}

/** key -> values of a unit file's [Service]/[Unit] lines (a key may repeat). */
function unitKeys(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (kv) m.set(kv[1]!, [...(m.get(kv[1]!) ?? []), kv[2]!]);
  }
  return m;
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sepi-image-'));
  keys = join(dir, 'keys');
  // One load for every build here: the image's own determinism, not the firmware build's.
  await run(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'scripts', 'build-firmware.ts'), '--out', join(dir, 'fw'), '--keys', keys, '--no-runtime', '--load-id', LOAD], { cwd: ROOT });
  load = join(dir, 'fw', LOAD);
});

test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the tar writer: long paths (pax), links and modes, read back by GNU tar and by our reader', async () => {
  const long = `opt/${'x'.repeat(120)}/${'y'.repeat(120)}/file`;
  const tar = writeTar([
    { path: 'b/file', type: 'file', mode: 0o755, data: Buffer.from('hello\n') },
    { path: long, type: 'file', mode: 0o644, data: Buffer.alloc(1000, 7) },
    { path: 'a', type: 'dir', mode: 0o750 },
    { path: 'a/link', type: 'symlink', target: `/${'z'.repeat(150)}` },
  ], { mtime: EPOCH });
  assert.is(tar.length % 10240, 0);
  const back = readTar(tar);
  assert.equal(back.map((e) => [e.path, e.type, e.mode]), [['a', 'dir', 0o750], ['a/link', 'symlink', 0o777], ['b/file', 'file', 0o755], [long, 'file', 0o644]]);
  assert.is(back[1]!.linkname, `/${'z'.repeat(150)}`);
  assert.is(back[2]!.data.toString(), 'hello\n');
  assert.ok(back.every((e) => e.mtime === EPOCH && e.uid === 0 && e.gid === 0 && e.uname === 'root'));
  const file = join(dir, 'w.tar');
  await writeFile(file, tar);
  const listed = (await run('tar', ['-tvf', file])).stdout.trim().split('\n');
  assert.is(listed.length, 4);
  assert.match(listed[1]!, /^lrwxrwxrwx root\/root .* a\/link -> \/z{150}$/);
  assert.ok(listed[3]!.endsWith(long), listed[3]);
  assert.throws(() => writeTar([{ path: '../etc/passwd', type: 'dir', mode: 0o755 }], { mtime: 0 }), /bad entry path/);
  assert.throws(() => writeTar([{ path: 'a', type: 'dir', mode: 0o755 }, { path: 'a', type: 'dir', mode: 0o755 }], { mtime: 0 }), /twice/);
});

test('the image: paths, owners and modes, no directory of the OS touched, byte-identical twice', async () => {
  const a = await image(join(dir, 'a.tar.gz'));
  const b = await image(join(dir, 'b.tar.gz'));
  assert.match(a.stdout, new RegExp(`^image ${LOAD.replace(/\./g, '\\.')} \\(rpi3-st7735r, no Node runtime\\)`));
  assert.ok((await readFile(join(dir, 'a.tar.gz'))).equals(await readFile(join(dir, 'b.tar.gz'))), 'two builds byte-identical');
  const byPath = new Map(a.entries.map((e) => [e.path, e]));
  // GNU tar reads the same names (an independent reader).
  const gnu = (await run('tar', ['-tzf', join(dir, 'a.tar.gz')], { maxBuffer: 1 << 24 })).stdout.trim().split('\n').map((p) => p.replace(/\/$/, ''));
  assert.equal(gnu, a.entries.map((e) => e.path));
  assert.equal(gnu, [...gnu].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))), 'sorted');

  for (const e of a.entries) {
    assert.ok(e.uid === 0 && e.gid === 0 && e.uname === 'root' && e.gname === 'root' && e.mtime === EPOCH, `${e.path}: owner root, mtime fixed`);
    assert.ok(['file', 'dir', 'symlink'].includes(e.type), `${e.path}: ${e.type}`);
    if (e.type === 'dir') assert.ok(e.path === 'opt/sepi' || e.path.startsWith('opt/sepi/'), `${e.path}: a directory of the OS in the image (extracting over / would reset it)`);
    if (e.type === 'dir') assert.is(e.mode, 0o755, e.path);
    if (e.type === 'file') assert.ok(e.mode === 0o644 || e.mode === 0o755, `${e.path}: mode ${e.mode.toString(8)}`);
    // /lib, /bin, /sbin are links into /usr on Debian: an entry there would replace the link.
    assert.not.match(e.path, /^(lib|lib64|bin|sbin)(\/|$)/, e.path);
  }
  const home = `opt/sepi/${LOAD}`;
  const want: Array<[string, ReadEntry['type'], number | string]> = [
    ['opt/sepi/current', 'symlink', LOAD],
    [`${home}/lib/sepi/sepi.mjs`, 'file', 0o644],
    [`${home}/${LOAD}.loads`, 'file', 0o644],
    [`${home}/board/rpi3-st7735r/board.json`, 'file', 0o644],
    [`${home}/board/rpi3-st7735r/config.txt`, 'file', 0o644],
    [`${home}/lib/node_modules/blessed/package.json`, 'file', 0o644],
    [`${home}/lib/node_modules/serialport/package.json`, 'file', 0o644],
    ['opt/sepi/bin/sepi', 'file', 0o755],
    ['opt/sepi/bin/sepi-setup', 'file', 0o755],
    ['opt/sepi/firmware.cert.pem', 'file', 0o644],
    ['opt/sepi/image.md', 'file', 0o644],
    ['usr/lib/systemd/system/sepi-phone.service', 'file', 0o644],
    ['usr/lib/systemd/system/sepi-user.service', 'file', 0o644],
    ['usr/lib/sysusers.d/sepi.conf', 'file', 0o644],
    ['etc/default/sepi-phone', 'file', 0o644],
    ['etc/NetworkManager/conf.d/sepi-unmanaged.conf', 'file', 0o644],
    ['etc/systemd/network/00-sepi-phone.network', 'file', 0o644],
    ['etc/systemd/system/multi-user.target.wants/sepi-phone.service', 'symlink', '/usr/lib/systemd/system/sepi-phone.service'],
    ['etc/systemd/system/getty@tty1.service', 'symlink', '/dev/null'],
    ['usr/local/bin/sepi', 'symlink', '/opt/sepi/bin/sepi'],
  ];
  for (const [path, type, modeOrTarget] of want) {
    const e = byPath.get(path);
    if (!e) return assert.unreachable(`no ${path} in the image`);
    assert.is(e.type, type, path);
    if (type === 'symlink') assert.is(e.linkname, modeOrTarget, path);
    else assert.is(e.mode, modeOrTarget, path);
  }
  // The load as built, minus the runtime's tarball (unpacked to node/ when there is one).
  assert.ok((await readFile(join(load, 'lib', 'sepi', 'sepi.mjs'))).equals(byPath.get(`${home}/lib/sepi/sepi.mjs`)!.data));
  assert.ok((await readFile(join(keys, 'firmware.cert.pem'))).equals(byPath.get('opt/sepi/firmware.cert.pem')!.data));
  assert.not.ok([...byPath.keys()].some((p) => p.endsWith('.tgz') || p.startsWith(`${home}/node/`)), 'no runtime in a --no-runtime image');
  assert.not.ok(byPath.has('README.md'), 'rootfs/README.md stays out');
  const sysusers = byPath.get('usr/lib/sysusers.d/sepi.conf')!.data.toString();
  assert.match(sysusers, /^u sepi - ".*" \/var\/lib\/sepi /m);
  assert.match(sysusers, /^m sepi input$/m);
  assert.match(byPath.get('etc/NetworkManager/conf.d/sepi-unmanaged.conf')!.data.toString(), /^unmanaged-devices=interface-name:eth0$/m);
  assert.match(byPath.get('etc/systemd/network/00-sepi-phone.network')!.data.toString(), /^Name=eth0$[\s\S]*^Unmanaged=yes$/m);
});

test('the unit: the firmware on tty1 as user sepi, three capabilities, read-only but its NVRAM, messages in the journal', async () => {
  const { entries } = await image(join(dir, 'u.tar.gz'));
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const text = byPath.get('usr/lib/systemd/system/sepi-phone.service')!.data.toString();
  const u = unitKeys(text);
  const one = (k: string) => {
    const vals = u.get(k);
    assert.is(vals?.length, 1, `${k}= once`);
    return vals![0]!;
  };
  assert.is(one('User'), 'sepi');
  assert.is(one('Group'), 'sepi');
  const caps = ['CAP_NET_ADMIN', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'];
  assert.equal(one('AmbientCapabilities').split(/\s+/).sort(), caps);
  assert.equal(one('CapabilityBoundingSet').split(/\s+/).sort(), caps);
  assert.is(one('NoNewPrivileges'), 'yes');
  assert.is(one('ProtectSystem'), 'strict');
  assert.is(one('ReadWritePaths'), '/var/lib/sepi');
  assert.is(one('StateDirectory'), 'sepi');
  assert.is(one('TTYPath'), '/dev/tty1');
  assert.is(one('StandardInput'), 'tty');
  assert.is(one('StandardOutput'), 'tty');
  assert.is(one('StandardError'), 'journal');
  assert.is(one('EnvironmentFile'), '/etc/default/sepi-phone');
  assert.is(one('Requires'), 'sepi-user.service');
  assert.is(one('WantedBy'), 'multi-user.target');
  assert.match(one('Conflicts'), /getty@tty1\.service/);
  assert.not.ok(u.has('MemoryDenyWriteExecute') || u.has('PrivateDevices') || u.has('DeviceAllow'), 'Node JITs code; the keypad and the tty are devices');
  // ExecStart: the load's own Node on its bundle, every variable set in the settings file.
  const exec = one('ExecStart');
  assert.ok(exec.startsWith('/opt/sepi/current/node/bin/node /opt/sepi/current/lib/sepi/sepi.mjs phone '), exec);
  const env = byPath.get('etc/default/sepi-phone')!.data.toString();
  const vars = [...exec.matchAll(/\$\{?(\w+)\}?/g)].map((m) => m[1]!);
  assert.equal(vars, ['SEPI_BOARD', 'SEPI_IFACE', 'SEPI_NVRAM', 'SEPI_FIRMWARE', 'SEPI_ARGS']);
  for (const name of vars) assert.match(env, new RegExp(`^${name}=`, 'm'), `${name} in /etc/default/sepi-phone`);
  assert.match(env, /^SEPI_BOARD=rpi3-st7735r$/m);
  assert.match(env, /^SEPI_IFACE=eth0$/m);
  // The NVRAM folder is under the only writable path, and the certificate the phone checks loads with is in the image.
  assert.match(env, /^SEPI_NVRAM=\/var\/lib\/sepi\/nvram$/m);
  assert.match(env, /^SEPI_FIRMWARE="--firmware-cert \/opt\/sepi\/firmware\.cert\.pem"$/m);
  assert.match(exec, /--board \$\{SEPI_BOARD\} --iface \$\{SEPI_IFACE\} --nvram \$\{SEPI_NVRAM\} --display tty /);

  // systemd's own reader, where there is one: the two units as they are, but for the Node the
  // --no-runtime image leaves out (this Node stands in for it).
  if (existsSync('/usr/bin/systemd-analyze')) {
    const units = join(dir, 'units');
    await mkdir(units, { recursive: true });
    await writeFile(join(units, 'sepi-phone.service'), text.replace('ExecStart=/opt/sepi/current/node/bin/node', `ExecStart=${process.execPath}`));
    await writeFile(join(units, 'sepi-user.service'), byPath.get('usr/lib/systemd/system/sepi-user.service')!.data);
    const r = await run('systemd-analyze', ['verify', '--man=no', join(units, 'sepi-phone.service'), join(units, 'sepi-user.service')], { env: { ...process.env, SYSTEMD_UNIT_PATH: `${units}:` } }).catch((e: { stderr: string }) => ({ stderr: `failed: ${e.stderr}` }));
    assert.is(r.stderr.trim(), '', 'systemd-analyze verify');
  }
});

test('--board: the settings name it; an unknown board is refused', async () => {
  const { entries } = await image(join(dir, 't.tar.gz'), '--board', 'host');
  assert.match(entries.find((e) => e.path === 'etc/default/sepi-phone')!.data.toString(), /^SEPI_BOARD=host$/m);
  const bad = await image(join(dir, 'x.tar.gz'), '--board', 'nope').catch((e: { code: number; stderr: string }) => e);
  assert.ok('code' in bad && bad.code === 1, 'exit 1');
  assert.match((bad as { stderr: string }).stderr, /--board nope: no such board in the load \(.*rpi3-st7735r.*\)/);
});

test('sepi-setup: boot fragments from the board, DHCP clients kept off the interface, idempotent', async () => {
  const tgz = join(dir, 's.tar.gz');
  await image(tgz);
  const root = join(dir, 'root');
  const boot = join(dir, 'boot');
  await mkdir(root, { recursive: true });
  await mkdir(boot, { recursive: true });
  await run('tar', ['-xzf', tgz, '-C', root]);
  await writeFile(join(boot, 'config.txt'), 'dtparam=audio=on\n[cm4]\notg_mode=1\n');
  await writeFile(join(boot, 'cmdline.txt'), 'console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootwait\n');
  await mkdir(join(root, 'etc', 'network'), { recursive: true });
  await writeFile(join(root, 'etc', 'dhcpcd.conf'), 'hostname\nclientid\n');
  await writeFile(join(root, 'etc', 'network', 'interfaces'), 'auto eth0\niface eth0 inet dhcp\n');
  const setup = (...args: string[]) => run('sh', [join(root, 'opt', 'sepi', 'bin', 'sepi-setup'), '--root', root, '--boot', boot, ...args]);

  const first = await setup();
  assert.match(first.stdout, /added "denyinterfaces eth0" to \/etc\/dhcpcd\.conf/);
  assert.match(first.stdout, /added "include sepi-board\.txt" to config\.txt/);
  assert.match(first.stdout, /added to cmdline\.txt: fbcon=map:1 fbcon=font:VGA8x16/);
  assert.match(first.stderr, /\/etc\/network\/interfaces configures eth0/);
  const boardDir = join(root, 'opt', 'sepi', 'current', 'board', 'rpi3-st7735r');
  assert.is(await readFile(join(boot, 'sepi-board.txt'), 'utf8'), await readFile(join(boardDir, 'config.txt'), 'utf8'));
  assert.match(await readFile(join(boot, 'config.txt'), 'utf8'), /\[cm4\]\notg_mode=1\n\n# sepi .*\n\[all\]\ninclude sepi-board\.txt\n$/);
  const cmdline = await readFile(join(boot, 'cmdline.txt'), 'utf8');
  assert.is(cmdline, 'console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootwait fbcon=map:1 fbcon=font:VGA8x16\n');
  assert.match(await readFile(join(root, 'etc', 'dhcpcd.conf'), 'utf8'), /^denyinterfaces eth0$/m);

  // Again: nothing to do, nothing changed.
  const snapshot = async () => Promise.all([join(boot, 'config.txt'), join(boot, 'cmdline.txt'), join(root, 'etc', 'dhcpcd.conf'), join(root, 'etc', 'NetworkManager', 'conf.d', 'sepi-unmanaged.conf')].map((f) => readFile(f, 'utf8')));
  const before = await snapshot();
  const second = await setup();
  assert.not.match(second.stdout, /wrote|added|masked/);
  assert.equal(await snapshot(), before);

  // Another interface: every exclusion follows it.
  const envPath = join(root, 'etc', 'default', 'sepi-phone');
  await writeFile(envPath, (await readFile(envPath, 'utf8')).replace(/^SEPI_IFACE=.*$/m, 'SEPI_IFACE=eth1'));
  await setup();
  assert.match(await readFile(join(root, 'etc', 'NetworkManager', 'conf.d', 'sepi-unmanaged.conf'), 'utf8'), /^unmanaged-devices=interface-name:eth1$/m);
  assert.match(await readFile(join(root, 'etc', 'systemd', 'network', '00-sepi-phone.network'), 'utf8'), /^Name=eth1$/m);
  assert.match(await readFile(join(root, 'etc', 'dhcpcd.conf'), 'utf8'), /^denyinterfaces eth1$/m);

  // A board whose console is another tty: a drop-in for the unit and that tty's getty masked.
  const other = join(root, 'opt', 'sepi', 'current', 'board', 'tty2-board');
  await cp(boardDir, other, { recursive: true });
  await writeFile(join(other, 'board.json'), (await readFile(join(boardDir, 'board.json'), 'utf8')).replace('/dev/tty1', '/dev/tty2'));
  await writeFile(envPath, (await readFile(envPath, 'utf8')).replace(/^SEPI_BOARD=.*$/m, 'SEPI_BOARD=tty2-board'));
  await setup();
  assert.match(await readFile(join(root, 'etc', 'systemd', 'system', 'sepi-phone.service.d', 'sepi-board-tty.conf'), 'utf8'), /^TTYPath=\/dev\/tty2$/m);
  assert.is(await readlink(join(root, 'etc', 'systemd', 'system', 'getty@tty2.service')), '/dev/null');
  // A name that is not a board is refused before any path is made from it.
  await writeFile(envPath, (await readFile(envPath, 'utf8')).replace(/^SEPI_BOARD=.*$/m, 'SEPI_BOARD=../../etc'));
  const bad = await setup().catch((e: { code: number; stderr: string }) => e);
  assert.ok('code' in bad && bad.code === 1);
  assert.match((bad as { stderr: string }).stderr, /is not a board name/);
});

test.run();
