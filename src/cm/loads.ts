/**
 * Firmware loads on the companion (docs/firmware.md): which load each phone is told to run,
 * and the loads its TFTP root holds.
 *
 * **Which load.** A phone's own (`sepi cm phone add|set … --load ID`) is the `loadInformation`
 * of its `SEP<MAC>.cnf.xml`. Without one, its model's: Device Defaults (`sepi cm device-defaults
 * set --model 8841 --load ID`, in the database) over the configuration file's `loadInformation`
 * map. The default file names every model's as `loadInformationNNN` (NNN the device-type code).
 *
 * **The loads** sit in the TFTP root (tftp-root.ts), served as they are. `load add` copies them
 * there: a sepi load (`make firmware`'s folder, or its `.loads` with the files beside it) as
 * `<id>.loads` with its components under `<id>/`, where the phone asks for them; Cisco's
 * `.loads`, `.sbn` and other files byte for byte, at the top of the root, as Cisco phones ask for
 * them. What it cannot read it refuses — a `.loads` that is not a signed file or whose header
 * names another file, a sepi load with a component missing or not the one its list names, a
 * folder with no `.loads` — and then adds nothing. A load is complete in the root before its
 * `.loads` is: the components go to a folder of their own first, renamed into place, and the
 * `.loads` is written last.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, lstat, mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.ts';
import { type LoadComponent, ciscoLoadNames, parseLoadList } from '../wire/load-list.ts';
import { modelByCode, modelByName } from '../wire/models.ts';
import { TLV_MAX_FILE, parseSignedFile } from '../wire/tlv.ts';
import type { CompanionDb, PhoneRecord } from './db.ts';
import { TFTP_ROOT } from './tftp-root.ts';

/** A `loadInformation` value: a load ID, as the cnf.xml carries it (no `.loads`). */
const LOAD_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** A name the TFTP root serves at its top: one plain segment. */
const ROOT_NAME = /^[A-Za-z0-9._@+-]{1,255}$/;
/** What the TFTP root serves (tftp-root.ts). */
const MAX_FILE = 256 * 1024 * 1024;

/** Why `id` cannot be a load ID, or undefined when it can. */
export function loadIdProblem(id: string): string | undefined {
  if (/\.loads$/i.test(id)) return `${id}: give the load ID without ".loads" (${id.replace(/\.loads$/i, '')})`;
  if (!LOAD_ID.test(id)) return `${id} is not a load ID (letters, digits, ".", "-" and "_", at most 128, e.g. sip88xx.14-2-1-0001-14)`;
  return undefined;
}

type Row = Record<string, unknown>;

export interface DefaultLoad {
  code: number;
  model: string;
  load: string;
  /** Device Defaults (the database) or the configuration file's map. */
  from: 'device-defaults' | 'config';
}

/** The loads phones are told to run: Device Defaults and each phone's own, in the database. */
export class LoadStore {
  private readonly db: CompanionDb;
  private readonly configured: Record<string, string>;

  /** `configured`: the configuration file's `loadInformation` map (device-type code to load). */
  constructor(db: CompanionDb, configured: Record<string, string> = {}) {
    this.db = db;
    this.configured = configured;
  }

  /** Every model's load for the default file: Device Defaults over the configuration's map. */
  defaults(): DefaultLoad[] {
    const out = new Map<number, DefaultLoad>();
    for (const [code, load] of Object.entries(this.configured)) {
      if (load) out.set(Number(code), { code: Number(code), model: modelByCode(Number(code))?.name ?? '', load, from: 'config' });
    }
    for (const r of this.db.handle.prepare('SELECT code, model, load FROM default_loads').all() as Row[]) {
      out.set(Number(r['code']), { code: Number(r['code']), model: String(r['model']), load: String(r['load']), from: 'device-defaults' });
    }
    return [...out.values()].sort((a, b) => a.code - b.code);
  }

  /** Device Defaults' load for a device type; an empty load removes it (the configuration's map applies again). */
  setDefault(code: number, model: string, load: string, now: number): void {
    if (load === '') this.db.handle.prepare('DELETE FROM default_loads WHERE code = ?').run(code);
    else this.db.handle.prepare('INSERT INTO default_loads (code, model, load, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(code) DO UPDATE SET model = excluded.model, load = excluded.load, updated_at = excluded.updated_at').run(code, model, load, now);
  }

  /** A phone's own load; empty when it has none (its model's applies). */
  phoneLoad(deviceName: string): string {
    const r = this.db.handle.prepare('SELECT load_information FROM phones WHERE device_name = ?').get(deviceName) as Row | undefined;
    return r ? String(r['load_information']) : '';
  }

  /** Sets (or, with '', clears) a phone's own load; false when there is no such phone. */
  setPhoneLoad(deviceName: string, load: string, versionStamp: string): boolean {
    const r = this.db.handle.prepare('UPDATE phones SET load_information = ?, version_stamp = ? WHERE device_name = ?').run(load, versionStamp, deviceName);
    return Number(r.changes) === 1;
  }

  /** The phones with a load of their own. */
  phoneLoads(): Array<{ deviceName: string; load: string }> {
    return (this.db.handle.prepare("SELECT device_name, load_information FROM phones WHERE load_information <> '' ORDER BY device_name").all() as Row[]).map((r) => ({ deviceName: String(r['device_name']), load: String(r['load_information']) }));
  }

  /** The load a phone's file names (its cnf.xml's `loadInformation`, its MPP profile's Upgrade_Rule): its own, else its model's. */
  forPhone(p: PhoneRecord): string {
    const own = this.phoneLoad(p.deviceName);
    const code = modelByName(p.model)?.code;
    if (own || code === undefined) return own;
    return this.defaults().find((d) => d.code === code)?.load ?? '';
  }
}

// ---- the TFTP root's loads -----------------------------------------------------------------

export interface LoadEntry {
  /** The load ID: the `.loads` file's name without `.loads`. */
  id: string;
  /** A sepi load (its list has sizes and SHA-256, its components under `<id>/`) or another (Cisco's). */
  kind: 'sepi' | 'cisco';
  signer: string;
  /** Component files the list names. */
  files: number;
  /** Their bytes, as far as they are in the root. */
  bytes: number;
  /** Every component in the root (a sepi load's with the size its list says). */
  complete: boolean;
  /** The first components not there. */
  missing: string[];
}

export interface AddedFile {
  path: string;
  /** `sepi`: a sepi load (its `.loads` and components); `cisco`: a Cisco `.loads`; `file`: any other file. */
  kind: 'sepi' | 'cisco' | 'file';
  /** Its name in the TFTP root (a sepi load's `.loads`). */
  name: string;
  /** The load ID, for a `.loads`. */
  load?: string;
  signer?: string;
  /** Files copied. */
  files: number;
  bytes: number;
}

const sha256File = async (path: string): Promise<string> => {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
};

type Signed = { id: string; data: Buffer; signer: string; body: Uint8Array; ours: LoadComponent[] | undefined };

/** A `.loads` file read and checked: a signed file whose header names it. */
async function readLoads(path: string): Promise<Signed | string> {
  const st = await stat(path);
  if (!st.isFile()) return `${path} is not a file`;
  if (st.size > TLV_MAX_FILE) return `${path}: ${st.size} bytes is no .loads file`;
  const data = await readFile(path);
  const parsed = parseSignedFile(data);
  if (!parsed.ok) return `${path} is not a signed .loads file (${parsed.error.message})`;
  const name = basename(path);
  if (parsed.value.header.filename !== name) return `${path}: its signed header names ${parsed.value.header.filename}, and phones refuse a file whose header names another`;
  const id = name.slice(0, -'.loads'.length);
  const problem = loadIdProblem(id);
  if (problem) return `${path}: ${problem}`;
  const list = parseLoadList(parsed.value.body);
  return { id, data, signer: parsed.value.header.signerName, body: parsed.value.body, ours: typeof list === 'string' ? undefined : list };
}

type Plan =
  | { kind: 'sepi'; path: string; loads: Signed & { ours: LoadComponent[] }; from: string; bytes: number }
  | { kind: 'cisco'; path: string; loads: Signed; from: string; bytes: number }
  | { kind: 'file'; path: string; name: string; from: string; bytes: number };

/** A sepi load's components, each beside its `.loads` with the size and SHA-256 its list says. */
async function checkComponents(dir: string, s: Signed & { ours: LoadComponent[] }): Promise<string | number> {
  let bytes = 0;
  for (const c of s.ours) {
    const path = join(dir, ...c.file.split('/'));
    const st = await lstat(path).catch(() => undefined);
    if (!st?.isFile()) return `${s.id}: ${c.file} is not in ${dir}`;
    if (st.size !== c.size || (await sha256File(path)) !== c.sha256) return `${s.id}: ${c.file} in ${dir} is not the file its signed list names (size or SHA-256)`;
    bytes += c.size;
  }
  return bytes;
}

/** What `path` adds, or why it cannot. */
async function plan(path: string): Promise<Plan[] | string> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => e.code ?? e.message);
  if (typeof st === 'string') return `cannot read ${path}: ${st}`;
  const loadsHere = async (dir: string, names: string[]): Promise<Plan[] | string> => {
    const out: Plan[] = [];
    for (const n of names) {
      const s = await readLoads(join(dir, n)).catch((e: Error) => `cannot read ${join(dir, n)}: ${e.message}`);
      if (typeof s === 'string') return s;
      if (!s.ours) {
        out.push({ kind: 'cisco', path: join(dir, n), loads: s, from: join(dir, n), bytes: s.data.length });
        continue;
      }
      const ours = s as Signed & { ours: LoadComponent[] };
      const bytes = await checkComponents(dir, ours);
      if (typeof bytes === 'string') return bytes;
      out.push({ kind: 'sepi', path: join(dir, n), loads: ours, from: dir, bytes: bytes + s.data.length });
    }
    return out;
  };
  if (st.isDirectory()) {
    const entries = await readdir(path, { withFileTypes: true }).catch((e: Error) => e.message);
    if (typeof entries === 'string') return `cannot read ${path}: ${entries}`;
    const loads = entries.filter((e) => e.isFile() && e.name.endsWith('.loads')).map((e) => e.name).sort();
    if (loads.length === 0) return `${path} holds no .loads file: not a load`;
    const plans = await loadsHere(path, loads);
    if (typeof plans === 'string') return plans;
    if (plans.every((p) => p.kind === 'sepi')) return plans;
    if (plans.some((p) => p.kind === 'sepi')) return `${path} mixes sepi and Cisco .loads files: add them one by one`;
    // Cisco's load folder (an unzipped cmterm-…zip): every file in it, as it is.
    const out: Plan[] = [];
    for (const e of entries.filter((x) => x.isFile()).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = plans.find((x) => basename(x.path) === e.name);
      if (p) out.push(p);
      else {
        const f = await plainFile(join(path, e.name));
        if (typeof f === 'string') return f;
        out.push(f);
      }
    }
    return out;
  }
  if (!st.isFile()) return `${path} is neither a file nor a folder`;
  if (path.endsWith('.loads')) return loadsHere(dirname(path), [basename(path)]);
  const f = await plainFile(path);
  return typeof f === 'string' ? f : [f];
}

async function plainFile(path: string): Promise<Plan | string> {
  const name = basename(path);
  if (!ROOT_NAME.test(name)) return `${path}: "${name}" is not a name the TFTP root serves (letters, digits, ".", "-", "_", "@", "+")`;
  const st = await stat(path);
  if (st.size === 0) return `${path} is empty`;
  if (st.size > MAX_FILE) return `${path}: ${st.size} bytes is more than the TFTP root serves (${MAX_FILE})`;
  // Readable, or refused now rather than half-way through the copy.
  try {
    const fh = await open(path, 'r');
    await fh.close();
  } catch (e) {
    return `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  return { kind: 'file', path, name, from: path, bytes: st.size };
}

const rootName = (p: Plan): string => (p.kind === 'file' ? p.name : `${p.loads.id}.loads`);

/**
 * Copies loads into the TFTP root of `dataDir`: all of them, or — when one path cannot be
 * read, is not a load, or two name the same file — none, and the reasons.
 */
export async function addLoads(dataDir: string, paths: string[]): Promise<{ added: AddedFile[] } | { refused: string[] }> {
  const root = join(dataDir, TFTP_ROOT);
  const plans: Plan[] = [];
  const refused: string[] = [];
  for (const p of paths) {
    const r = await plan(resolve(p)).catch((e: Error) => `cannot read ${p}: ${e.message}`);
    if (typeof r === 'string') refused.push(r);
    else plans.push(...r);
  }
  const names = new Map<string, string>();
  for (const p of plans) {
    const n = rootName(p).toLowerCase();
    if (names.has(n)) refused.push(`${p.path} and ${names.get(n)} would both be ${rootName(p)} in the TFTP root`);
    names.set(n, p.path);
  }
  if (refused.length) return { refused };
  await mkdir(root, { recursive: true, mode: 0o700 });
  const added: AddedFile[] = [];
  for (const p of plans) {
    if (p.kind === 'sepi') {
      await installSepi(root, p.from, p.loads);
      added.push({ path: p.path, kind: 'sepi', name: rootName(p), load: p.loads.id, signer: p.loads.signer, files: p.loads.ours.length + 1, bytes: p.bytes });
    } else {
      // Written under a temporary name and renamed: a phone never gets half a file.
      const to = join(root, rootName(p));
      const tmp = `${to}.tmp-${randomBytes(6).toString('hex')}`;
      await copyFile(p.from, tmp);
      await rename(tmp, to);
      added.push({ path: p.path, kind: p.kind, name: rootName(p), ...(p.kind === 'cisco' ? { load: p.loads.id, signer: p.loads.signer } : {}), files: 1, bytes: p.bytes });
    }
  }
  return { added };
}

/** A sepi load into the root: components in a new folder, renamed to `<id>/`, then `<id>.loads`. */
async function installSepi(root: string, from: string, s: Signed & { ours: LoadComponent[] }): Promise<void> {
  const tag = randomBytes(6).toString('hex');
  const staging = join(root, `.adding-${s.id}-${tag}`);
  try {
    for (const c of s.ours) {
      const to = join(staging, ...c.file.split('/'));
      await mkdir(dirname(to), { recursive: true, mode: 0o700 });
      await copyFile(join(from, ...c.file.split('/')), to);
    }
    // The components were checked before; the copies are checked again before they are served.
    if (typeof (await checkComponents(staging, s)) === 'string') throw new Error(`${s.id}: a component changed while it was copied`);
    const target = join(root, s.id);
    const old = join(root, `.replaced-${s.id}-${tag}`);
    const had = await rename(target, old).then(() => true, () => false);
    await rename(staging, target);
    if (had) await rm(old, { recursive: true, force: true });
    await writeFileAtomic(join(root, `${s.id}.loads`), s.data);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** The loads in the TFTP root of `dataDir` (every `.loads` at its top), and whether each is complete. */
export async function listLoads(dataDir: string): Promise<LoadEntry[]> {
  const root = join(dataDir, TFTP_ROOT);
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const out: LoadEntry[] = [];
  for (const e of entries.filter((x) => x.isFile() && x.name.endsWith('.loads')).sort((a, b) => a.name.localeCompare(b.name))) {
    const s = await readLoads(join(root, e.name)).catch((err: Error) => err.message);
    const id = e.name.slice(0, -'.loads'.length);
    if (typeof s === 'string') {
      out.push({ id, kind: 'cisco', signer: '', files: 0, bytes: 0, complete: false, missing: [s] });
      continue;
    }
    const wanted = s.ours ? s.ours.map((c) => ({ path: join(root, s.id, ...c.file.split('/')), name: c.file, size: c.size as number | undefined })) : ciscoLoadNames(s.body).map((n) => ({ path: join(root, n), name: n, size: undefined }));
    let bytes = 0;
    const missing: string[] = [];
    for (const w of wanted) {
      const st = await stat(w.path).catch(() => undefined);
      if (st?.isFile() && (w.size === undefined || st.size === w.size)) bytes += st.size;
      else missing.push(w.name);
    }
    out.push({ id: s.id, kind: s.ours ? 'sepi' : 'cisco', signer: s.signer, files: wanted.length, bytes, complete: missing.length === 0, missing: missing.slice(0, 5) });
  }
  return out;
}
