/**
 * The demo lab behind `sepi demo` (`make demo`): the companion call manager and two phones, each
 * phone's LCD shown live. The first phone is known to the companion and boots to Registered on DN 1001; then a
 * second, unknown phone boots on the default file, autoregisters, is reset and comes back on
 * its own DN.
 *
 * As root the three run in their own network namespaces joined by a bridge, so DHCP is real
 * broadcast DHCP. Without root (no namespaces, no port 67/68/69) the fallback runs everything
 * on 127.0.0.1: no DHCP (static addresses), TFTP on an unprivileged port, HTTP 6970 and SIP as
 * usual. In a terminal the LCDs are drawn with blessed until you press q; when the output is
 * not a terminal the frames are printed as text and the demo exits 0 once both phones are
 * registered (non-zero, with the reason, otherwise).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { printable } from '../common/printable.ts';
import { TtyLcdWall } from '../hw/tty-display.ts';
import type { Display } from '../phone/ports.ts';
import { TextDisplay } from '../phone/render.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const SEPI = join(ROOT, 'bin', 'sepi');
const NS = { srv: 'sepi-demo-srv', p: (i: number) => `sepi-demo-p${i}` };
const SUBNET = '10.66.0';

interface DemoPhone {
  mac: string;
  label: string;
  expectLine: string;
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

async function cleanNamespaces(count: number): Promise<void> {
  for (const ns of [NS.srv, ...Array.from({ length: count }, (_, i) => NS.p(i + 1))]) await ip('netns', 'del', ns).catch(() => {});
}

async function buildLab(count: number): Promise<void> {
  await cleanNamespaces(count);
  await ip('netns', 'add', NS.srv);
  await ip('-n', NS.srv, 'link', 'set', 'lo', 'up');
  await ip('-n', NS.srv, 'link', 'add', 'br0', 'type', 'bridge');
  await ip('-n', NS.srv, 'addr', 'add', `${SUBNET}.1/24`, 'dev', 'br0');
  await ip('-n', NS.srv, 'link', 'set', 'br0', 'up');
  for (let i = 1; i <= count; i++) {
    await ip('netns', 'add', NS.p(i));
    await ip('-n', NS.p(i), 'link', 'set', 'lo', 'up');
    await ip('link', 'add', `sepidemo${i}`, 'netns', NS.srv, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS.p(i));
    await ip('-n', NS.srv, 'link', 'set', `sepidemo${i}`, 'master', 'br0');
    await ip('-n', NS.srv, 'link', 'set', `sepidemo${i}`, 'up');
    await ip('-n', NS.p(i), 'link', 'set', 'eth0', 'up');
  }
}

function lines(child: ChildProcess, onLine: (l: string) => void): void {
  createInterface({ input: child.stdout! }).on('line', onLine);
}

export interface DemoOptions {
  /** Phones, one after the other (at most 8). */
  count: number;
  timeoutSecs: number;
  /** Network namespaces (root) or the 127.0.0.1 fallback. */
  namespaces: boolean;
}

/** Runs the demo; resolves with the exit status (0: every phone registered, or q pressed). */
export async function runDemo(o: DemoOptions): Promise<number> {
  const { count, timeoutSecs } = o;
  const root = o.namespaces;
  const work = join(ROOT, '.demo');
  await rm(work, { recursive: true, force: true });
  await mkdir(join(work, 'cm'), { recursive: true });
  const phones: DemoPhone[] = Array.from({ length: count }, (_, i) => ({
    mac: `00:11:22:33:44:${(0x55 + i).toString(16)}`,
    label: i === 0 ? 'known' : 'unknown',
    expectLine: i === 0 ? '1001' : '',
  }));
  const tty = process.stdout.isTTY === true;
  const children: ChildProcess[] = [];
  let wall: TtyLcdWall | undefined;
  let finish: (code: number, why: string) => void = () => {};
  const done = new Promise<{ code: number; why: string }>((resolve) => (finish = (code, why) => resolve({ code, why })));
  let closing = false;
  const note = (s: string) => {
    if (!closing) wall ? wall.note(s) : process.stdout.write(`${printable(s)}\n`);
  };
  if (tty) wall = new TtyLcdWall({ title: 'sepi demo', onKey: (k) => k === 'quit' && finish(0, '') });

  try {
    // ---- the companion ---------------------------------------------------------------------
    const config = {
      ...(root ? {} : { address: '127.0.0.1', prefix: 8, dhcp: { enabled: false }, tftp: { port: 6969 } }),
      autoRegistration: { enabled: true, dnRange: ['2000', '2099'] },
      phones: [{ mac: phones[0]!.mac, model: '8841', dn: '1001', description: 'Demo: known phone' }],
    };
    await writeFile(join(work, 'companion.json'), JSON.stringify(config, null, 2));
    if (root) await buildLab(count);
    note(root ? `lab: namespace ${NS.srv} (bridge ${SUBNET}.1/24) and ${count} phone namespaces` : 'not root: fallback on 127.0.0.1 without DHCP (see README)');
    const cmArgs = ['cm', 'serve', '--data', join(work, 'cm'), '--config', join(work, 'companion.json'), ...(root ? ['--iface', 'br0'] : [])];
    const cm = root ? spawn('ip', ['netns', 'exec', NS.srv, SEPI, ...cmArgs], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(SEPI, cmArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(cm);
    const cmReady = new Promise<void>((resolve, reject) => {
      lines(cm, (l) => {
        note(`cm  ${l.slice(13)}`);
        if (/companion serving/.test(l)) resolve();
      });
      cm.stderr!.on('data', (d: Buffer) => note(`cm! ${d.toString().trim()}`));
      cm.on('exit', (code) => reject(new Error(`the companion exited (${code})`)));
    });
    await cmReady;

    // ---- the phones, one after the other -------------------------------------------------
    const registered = new Set<number>();
    const startPhone = (i: number) => {
      const p = phones[i]!;
      const label = `${i + 1} ${p.label}`;
      const display: Display = wall ? wall.lcd(label, 20, 8) : new TextDisplay(process.stdout, ` phone ${i + 1} (${p.label}) `);
      const args = ['phone', '--iface', root ? 'eth0' : 'lo', '--mac', p.mac, '--model', '8841', '--nvram', join(work, `phone${i + 1}`), '--json-events', '--json-screens', '--display', 'none'];
      if (!root) args.push('--net', 'none', '--static', `127.0.0.${10 + i}/8`, '--tftp-server', '127.0.0.1', '--tftp-port', '6969');
      const child = root ? spawn('ip', ['netns', 'exec', NS.p(i + 1), SEPI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(SEPI, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      child.stderr!.on('data', (d: Buffer) => note(`p${i + 1}! ${d.toString().trim()}`));
      child.on('exit', (code) => !registered.has(i) && finish(1, `phone ${i + 1} exited (${code}) before registering`));
      lines(child, (l) => {
        let e: Record<string, unknown>;
        try {
          e = JSON.parse(l) as Record<string, unknown>;
        } catch {
          return;
        }
        if (e['type'] === 'screen' && Array.isArray(e['screen'])) {
          if (closing) return;
          display.show({ rows: e['screen'] as string[], softkeys: (e['softkeys'] as string[]) ?? [] });
          // The last phone's Registered screen is on show: the non-interactive demo is done.
          if (!wall && registered.size === count && i === count - 1) finish(0, '');
          return;
        }
        if (e['type'] !== 'event') return;
        note(`p${i + 1}  ${String(e['step']).padEnd(8)} ${String(e['message'])}`);
        if (e['step'] === 'register' && e['state'] === 'done' && e['configKind'] === 'device' && !registered.has(i)) {
          registered.add(i);
          if (i + 1 < count) startPhone(i + 1);
          else if (registered.size === count && wall) note(`All ${count} phones registered. Press q to quit.`);
        }
      });
    };
    startPhone(0);
    const timer = setTimeout(() => registered.size < count && finish(1, `not every phone registered within ${timeoutSecs} s`), timeoutSecs * 1000);
    const r = await done;
    closing = true;
    clearTimeout(timer);
    if (!wall) process.stdout.write(r.code === 0 ? `demo: ${count} phones registered (1001 known, then autoregistration)\n` : `demo failed: ${r.why}\n`);
    return r.code;
  } finally {
    closing = true;
    for (const c of children.reverse()) {
      c.kill('SIGTERM');
      await new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(undefined) : c.once('exit', r)));
    }
    wall?.close();
    if (root) await cleanNamespaces(count);
  }
}
