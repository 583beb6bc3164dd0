/**
 * The image's own firmware boots under qemu-user (issue 11): `make image` builds
 * out/sepi-rootfs-arm64.tar.gz (here into a temporary folder), GNU tar extracts it as a lab
 * engineer would over a Pi's root, and the aarch64 Node inside it runs the bundle under
 * Debian's qemu-aarch64-static, with the arm64 C and C++ libraries of libc6-arm64-cross and
 * libstdc++6-arm64-cross (`-L /usr/aarch64-linux-gnu`; scripts/install-peers.sh):
 *
 *   ip netns exec <pi> qemu-aarch64-static -L /usr/aarch64-linux-gnu \
 *     ROOT/opt/sepi/current/node/bin/node ROOT/opt/sepi/current/lib/sepi/sepi.mjs phone \
 *     --board rpi3-st7735r --iface eth0 --nvram NV --display tty \
 *     --firmware-cert ROOT/opt/sepi/firmware.cert.pem --json-events --until registered --timeout 600
 *
 * The flags are the unit's ExecStart with /etc/default/sepi-phone's values, as systemd expands
 * them (only the image's paths moved under ROOT and the NVRAM to a temporary folder), so this is
 * what sepi-phone.service starts on the Pi. The phone owns eth0 in its namespace (`--net kernel`,
 * the default: `ip` runs natively, a child of the emulated Node), takes a lease from the
 * companion, fetches its trust lists and configuration, and registers its line. Deadlines are
 * generous (emulation, a shared machine) and no time is asserted.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Lab } from '../support/lab.ts';
import { checkPhoneLine } from '../support/phone-schema.ts';
import { ROOT, TempDirs, cm, isRegistered, startCompanion } from '../support/sepi.ts';

const run = promisify(execFile);
const QEMU = '/usr/bin/qemu-aarch64-static';
const ARM64_LIBS = '/usr/aarch64-linux-gnu';
const dirs = new TempDirs();

/** systemd's expansion of an ExecStart= line: ${X} one word, $X split on spaces (simple lines only). */
function expand(line: string, env: Record<string, string>): string[] {
  return line.trim().split(/\s+/).flatMap((w) => {
    const whole = /^\$\{(\w+)\}$/.exec(w);
    if (whole) return [env[whole[1]!] ?? ''];
    const split = /^\$(\w+)$/.exec(w);
    if (split) return (env[split[1]!] ?? '').split(/\s+/).filter(Boolean);
    return [w];
  });
}

/** An EnvironmentFile= of plain assignments (quotes dropped). */
function envFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^\s*([A-Z_][A-Z0-9_]*)=(.*)$/gm)) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  return out;
}

test('the image boots under qemu-user: its aarch64 Node runs the unit\'s command to Registered against the companion', async () => {
  for (const [path, pkg] of [[QEMU, 'qemu-user-static'], [join(ARM64_LIBS, 'lib', 'ld-linux-aarch64.so.1'), 'libc6-arm64-cross'], [join(ARM64_LIBS, 'lib', 'libstdc++.so.6'), 'libstdc++6-arm64-cross']] as const) {
    if (!existsSync(path)) assert.unreachable(`no ${path}: install ${pkg} (make peers)`);
  }
  const lab = await Lab.create('10.78.0');
  try {
    const tmp = await dirs.make('image-qemu');
    const image = join(tmp, 'sepi-rootfs-arm64.tar.gz');
    const built = await run(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'scripts', 'build-image.ts'), '--out', image, '--keys', join(tmp, 'keys')], { cwd: ROOT, maxBuffer: 1 << 24 });
    assert.match(built.stdout, /Node \d+\.\d+\.\d+ arm64/);
    const root = join(tmp, 'root');
    await mkdir(root);
    await run('tar', ['-xzf', image, '-C', root]);

    // The runtime is an aarch64 executable, and it runs as one.
    const node = join(root, 'opt', 'sepi', 'current', 'node', 'bin', 'node');
    const head = Buffer.alloc(20);
    const fh = await open(node);
    await fh.read(head, 0, 20, 0);
    await fh.close();
    assert.is(head.readUInt32BE(0), 0x7f454c46, 'an ELF file');
    assert.is(head.readUInt16LE(18), 183, 'e_machine EM_AARCH64');
    const arch = await run(QEMU, ['-L', ARM64_LIBS, node, '-p', 'process.arch + " " + process.version']);
    assert.match(arch.stdout, /^arm64 v\d+/);

    // The command sepi-phone.service runs, from the image's unit and settings.
    const unit = await readFile(join(root, 'usr', 'lib', 'systemd', 'system', 'sepi-phone.service'), 'utf8');
    const env = envFile(await readFile(join(root, 'etc', 'default', 'sepi-phone'), 'utf8'));
    const argv = expand(/^ExecStart=(.*)$/m.exec(unit)![1]!, env);
    assert.equal(argv.slice(0, 3), ['/opt/sepi/current/node/bin/node', '/opt/sepi/current/lib/sepi/sepi.mjs', 'phone']);
    const nv = join(tmp, 'var-lib-sepi');
    const here = argv.map((a) => (a.startsWith('/opt/sepi/') ? join(root, a) : a.startsWith('/var/lib/sepi/') ? join(nv, a.slice('/var/lib/sepi/'.length)) : a));
    assert.ok(here.includes('--board') && here.includes('--iface'), here.join(' '));

    const data = await dirs.make('cm');
    const companion = await startCompanion(lab, data);
    await cm(data, 'phone', 'add', '--mac', '00:11:22:33:44:a4', '--model', '8841', '--dn', '1401', '--description', 'Pi under qemu');
    // The Pi's own MAC: the board reads it from the interface, as on the Pi.
    const ns = await lab.addHost('pi', { mac: '00:11:22:33:44:a4' });
    const phone = lab.spawn('phone-qemu', ns, QEMU, ['-L', ARM64_LIBS, ...here, '--json-events', '--until', 'registered', '--timeout', '600'], { XDG_STATE_HOME: join(tmp, 'state') });
    phone.lineCheck = checkPhoneLine;
    assert.is(await phone.exit(660_000), 0, phone.tail());

    const ev = phone.events();
    const power = ev.find((e) => e['step'] === 'power' && e['state'] === 'start')!;
    assert.is(power['mac'], '0011223344A4', 'the MAC read from eth0');
    assert.is(power['model'], '8841');
    const dhcp = ev.find((e) => e['step'] === 'dhcp' && e['state'] === 'done')!;
    assert.match(String(dhcp['address']), /^10\.78\.0\.\d+$/);
    assert.equal(dhcp['option150'], ['10.78.0.1']);
    const cfg = ev.find((e) => e['step'] === 'config' && e['state'] === 'done')!;
    // Signed (.sgn) when the companion keeps trust lists, as it does by default.
    assert.match(String(cfg['file']), /^SEP0011223344A4\.cnf\.xml(\.sgn)?$/);
    const reg = ev.find(isRegistered('device'))!;
    assert.is(reg['line'], '1401');
    // It owned the interface: the leased address is on eth0 in its namespace.
    assert.match(await lab.ns(ns, 'ip', '-4', 'addr', 'show', 'dev', 'eth0'), new RegExp(`inet ${String(dhcp['address']).replace(/\./g, '\\.')}/`));
    assert.ok(companion.lines.some((l) => /REGISTER SEP0011223344A4 .*200 1401 registered/.test(l)), companion.tail());
  } finally {
    await lab.destroy();
    await dirs.removeAll();
  }
});

test.run();
