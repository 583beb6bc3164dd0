/**
 * Which firmware runs a `sepi phone` process: the boot loader's choice of bank, as on the Pi.
 *
 * At power-on (before the phone starts) the banks record in NVRAM is read and the boot counted
 * against a trial (banks.ts `atBoot`: a second boot of a trial load that never registered falls
 * back). A bank that holds an installed load is checked — every file its signed list named,
 * size and SHA-256, and its firmware `lib/sepi/sepi.mjs` among them — and its firmware is
 * re-executed with the same arguments (`process.execve`: the same process id, the same standard
 * streams). It runs on the bank's own Node runtime when the load carried one (bank-runtime.ts:
 * unpacked at the install, checked with the other files) and it is for this machine's CPU and
 * may be executed; otherwise on the installed Node, the one the factory firmware runs on, and
 * the reason is said once. A bank that is not whole, or has no firmware, cannot start: the
 * other bank is active again. A bank without files holds the factory load: the firmware the
 * process was first started as (the sources, or the image's bundle).
 *
 * The re-executed firmware finds `SEPI_BANK_BOOT` in its environment: which bank it is, what
 * this power-on decided (a fallback), and how to start the factory firmware. It takes the note
 * out of its environment and does not choose again, so nothing loops; and the boot is not
 * counted twice. When a running phone installs a load (or falls back in a reboot), its firmware
 * hands the phone over: the process stops the handset and chooses again, which re-executes the
 * bank now active. A firmware that crashes before registering was counted as its trial's boot,
 * so the next power-on falls back.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { BANK_ENTRY, type Bank, Banks } from './banks.ts';
// Types only: the events module brings zod, which a phone's start does without.
import type { RebootReason } from './events.ts';
import type { Nvram } from './nvram.ts';

export const BANK_BOOT_ENV = 'SEPI_BANK_BOOT';

/** How a firmware is started: the node binary, Node options, then its script. */
export interface Launch {
  /** The node binary; the one running this process when unsaid. */
  node?: string;
  execArgv: string[];
  script: string;
}

/** What the process running a bank's firmware is told (the environment note). */
export interface BankBoot {
  /** The bank this firmware is. */
  bank: Bank;
  load: string;
  /** This power-on fell back from a load that could not run. */
  fellBack?: { from: string; to: string };
  /** Why the phone booted, when a reboot of the firmware before handed it over (`load-installed`). */
  reason?: RebootReason;
  /** The factory firmware: what runs a bank without files of its own. */
  factory: Launch;
}

export type BankChoice = { run: 'here'; boot: BankBoot } | { run: 'exec'; launch: Launch; boot: BankBoot };

/** How this process was started. */
export const thisLaunch = (): Launch => ({ node: process.execPath, execArgv: [...process.execArgv], script: resolve(process.argv[1] ?? '') });

const isLaunch = (v: unknown): v is Launch => {
  const l = v as Launch;
  return typeof v === 'object' && v !== null && (l.node === undefined || (typeof l.node === 'string' && l.node !== '')) && Array.isArray(l.execArgv) && l.execArgv.every((a) => typeof a === 'string') && typeof l.script === 'string' && l.script !== '';
};

const nodeOf = (l: Launch): string => l.node ?? process.execPath;

/**
 * The node binary a whole bank's firmware runs on: the bank's own runtime when it has one that
 * runs here, else the installed Node (the factory firmware's), with the reason told to `say`.
 */
async function bankNode(banks: Banks, bank: Bank, factory: Launch, arch: string, say: (text: string) => void): Promise<string | undefined> {
  const runtime = banks.runtime(bank);
  if (!runtime) return factory.node;
  const installed = nodeOf(factory) === process.execPath ? `the installed Node ${process.version}` : `the installed Node (${nodeOf(factory)})`;
  const node = banks.runtimeNode(bank);
  const why = !node
    ? 'this NVRAM keeps no runtime as a file'
    : runtime.target !== arch
      ? `its Node runtime is for ${runtime.target}, this machine is ${arch}`
      : await access(node, constants.X_OK).then(() => undefined, (e: NodeJS.ErrnoException) => `its Node runtime may not be executed here (${e.code ?? e.message}: an NVRAM mounted noexec?)`);
  if (!why) return node;
  say(`bank ${bank}: ${why}: running on ${installed}`);
  return factory.node;
}

/** The note a re-executed firmware finds, taken out of the environment; undefined in a process nobody re-executed. */
export function takeBankBoot(env: NodeJS.ProcessEnv): BankBoot | undefined {
  const text = env[BANK_BOOT_ENV];
  if (text === undefined) return undefined;
  delete env[BANK_BOOT_ENV];
  try {
    const v = JSON.parse(text) as BankBoot;
    if ((v.bank === 'A' || v.bank === 'B') && typeof v.load === 'string' && isLaunch(v.factory) && (v.reason === undefined || /^[a-z-]{1,40}$/.test(v.reason))) return v;
  } catch {
    // not ours: choose as at a power-on
  }
  return undefined;
}

/**
 * The power-on choice: counts the boot against a trial, checks the active bank, falls back
 * from one that cannot start, and says what to run — this process as it is (`here`), or
 * another firmware. `self` is how this process was started, `factory` how the factory firmware
 * is (the same, unless this process is a bank's firmware). `problem` hears why a bank was left.
 */
export async function chooseBank(nvram: Nvram, loads: { active: string; inactive: string }, self: Launch, factory: Launch, problem: (text: string) => void = () => {}, arch: string = process.arch): Promise<BankChoice> {
  const banks = await Banks.load(nvram, loads);
  let { fellBack } = await banks.atBoot();
  // Two banks at most: the second fallback lands on the first bank's load, checked again.
  for (let tries = 0; ; tries++) {
    const bank = banks.activeBank;
    const files = banks.installed(bank);
    const boot = (launch: Launch): BankChoice => {
      const b: BankBoot = { bank, load: banks.activeLoad, ...(fellBack ? { fellBack } : {}), factory };
      const same = launch.script === self.script && nodeOf(launch) === nodeOf(self) && launch.execArgv.join('\0') === self.execArgv.join('\0');
      return same ? { run: 'here', boot: b } : { run: 'exec', launch, boot: b };
    };
    if (!files) return boot(factory);
    const entry = banks.entry(bank);
    const bad = !entry ? 'this NVRAM keeps no bank as files' : !files.some((f) => f.file === BANK_ENTRY) ? `load ${banks.activeLoad} has no ${BANK_ENTRY}` : await banks.verify(bank);
    if (!bad) {
      const node = await bankNode(banks, bank, factory, arch, problem);
      return boot({ ...(node ? { node } : {}), execArgv: factory.execArgv, script: entry! });
    }
    problem(`bank ${bank} (${banks.activeLoad}) cannot start: ${bad}`);
    if (tries >= 1) return boot(factory);
    fellBack = await banks.fallBack();
  }
}

/**
 * Runs `launch` in place of this process, on its node binary, with `args` and the note for it. With
 * `process.execve` (Node 23.11 and later, POSIX) this process becomes it and never returns;
 * elsewhere the firmware runs as a child sharing the standard streams, and its exit status is
 * returned.
 */
export function execFirmware(launch: Launch, args: string[], boot: BankBoot): Promise<number> {
  const argv = [...launch.execArgv, launch.script, ...args];
  const env = { ...process.env, [BANK_BOOT_ENV]: JSON.stringify(boot) };
  const node = nodeOf(launch);
  if (typeof process.execve === 'function') process.execve(node, [node, ...argv], env);
  return new Promise((done) => {
    const child = spawn(node, argv, { stdio: 'inherit', env });
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
    child.on('exit', (code, signal) => done(code ?? (signal === 'SIGINT' ? 130 : 143)));
  });
}
