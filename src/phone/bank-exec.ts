/**
 * Which firmware runs a `sepi phone` process: the boot loader's choice of bank, as on the Pi.
 *
 * At power-on (before the phone starts) the banks record in NVRAM is read and the boot counted
 * against a trial (banks.ts `atBoot`: a second boot of a trial load that never registered falls
 * back). A bank that holds an installed load is checked — every file its signed list named,
 * size and SHA-256, and its firmware `lib/sepi/sepi.mjs` among them — and its firmware is
 * re-executed with the same Node and the same arguments (`process.execve`: the same process id,
 * the same standard streams). A bank that is not whole, or has no firmware, cannot start: the
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
import { resolve } from 'node:path';
import { BANK_ENTRY, type Bank, Banks } from './banks.ts';
// Types only: the events module brings zod, which a phone's start does without.
import type { RebootReason } from './events.ts';
import type { Nvram } from './nvram.ts';

export const BANK_BOOT_ENV = 'SEPI_BANK_BOOT';

/** How a firmware is started: Node options, then its script. */
export interface Launch {
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
export const thisLaunch = (): Launch => ({ execArgv: [...process.execArgv], script: resolve(process.argv[1] ?? '') });

const isLaunch = (v: unknown): v is Launch => {
  const l = v as Launch;
  return typeof v === 'object' && v !== null && Array.isArray(l.execArgv) && l.execArgv.every((a) => typeof a === 'string') && typeof l.script === 'string' && l.script !== '';
};

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
export async function chooseBank(nvram: Nvram, loads: { active: string; inactive: string }, self: Launch, factory: Launch, problem: (text: string) => void = () => {}): Promise<BankChoice> {
  const banks = await Banks.load(nvram, loads);
  let { fellBack } = await banks.atBoot();
  // Two banks at most: the second fallback lands on the first bank's load, checked again.
  for (let tries = 0; ; tries++) {
    const bank = banks.activeBank;
    const files = banks.installed(bank);
    const boot = (launch: Launch): BankChoice => {
      const b: BankBoot = { bank, load: banks.activeLoad, ...(fellBack ? { fellBack } : {}), factory };
      return launch.script === self.script && launch.execArgv.join('\0') === self.execArgv.join('\0') ? { run: 'here', boot: b } : { run: 'exec', launch, boot: b };
    };
    if (!files) return boot(factory);
    const entry = banks.entry(bank);
    const bad = !entry ? 'this NVRAM keeps no bank as files' : !files.some((f) => f.file === BANK_ENTRY) ? `load ${banks.activeLoad} has no ${BANK_ENTRY}` : await banks.verify(bank);
    if (!bad) return boot({ execArgv: factory.execArgv, script: entry! });
    problem(`bank ${bank} (${banks.activeLoad}) cannot start: ${bad}`);
    if (tries >= 1) return boot(factory);
    fellBack = await banks.fallBack();
  }
}

/**
 * Runs `launch` in place of this process, with the same Node, `args` and the note for it. With
 * `process.execve` (Node 23.11 and later, POSIX) this process becomes it and never returns;
 * elsewhere the firmware runs as a child sharing the standard streams, and its exit status is
 * returned.
 */
export function execFirmware(launch: Launch, args: string[], boot: BankBoot): Promise<number> {
  const argv = [...launch.execArgv, launch.script, ...args];
  const env = { ...process.env, [BANK_BOOT_ENV]: JSON.stringify(boot) };
  if (typeof process.execve === 'function') process.execve(process.execPath, [process.execPath, ...argv], env);
  return new Promise((done) => {
    const child = spawn(process.execPath, argv, { stdio: 'inherit', env });
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
    child.on('exit', (code, signal) => done(code ?? (signal === 'SIGINT' ? 130 : 143)));
  });
}
