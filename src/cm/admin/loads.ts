/**
 * The admin API's part for firmware loads (docs/firmware.md; docs/protocols/admin-api.md style,
 * version 1), and the operations behind it:
 *
 *   GET  /v1/loads                          the loads in the TFTP root, Device Defaults' loads, phones' own
 *   POST /v1/loads {paths}                  copies loads into the TFTP root (absolute paths on the companion's machine)
 *   POST /v1/device-defaults/load {model, load}   a model's load in the default file ('' removes it)
 *   POST /v1/phones/:device/load {load}     a phone's own load in its file ('' removes it: its model's applies)
 *
 * What each does is in src/cm/loads.ts. A load that is not in the TFTP root may still be named
 * (a phone may fetch it elsewhere, as on CUCM); the answer says so.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import type { Clock } from '../../common/clock.ts';
import { modelByName } from '../../wire/models.ts';
import type { CompanionDb } from '../db.ts';
import { parseDeviceId } from '../device-name.ts';
import { type AddedFile, type DefaultLoad, type LoadEntry, LoadStore, addLoads, listLoads, loadIdProblem } from '../loads.ts';
import { TFTP_ROOT } from '../tftp-root.ts';
import type { Outcome } from './contract.ts';
import { invalid, notFound, ok } from './outcome.ts';

export const AddLoadsRequest = z.object({ paths: z.array(z.string()).min(1).max(256) });
export type AddLoadsRequest = z.infer<typeof AddLoadsRequest>;

/** `model` as `8841` or `CP-8841`; `load` a load ID, or '' to remove the model's. */
export const DefaultLoadRequest = z.object({ model: z.string(), load: z.string() });
export type DefaultLoadRequest = z.infer<typeof DefaultLoadRequest>;

export const PhoneLoadRequest = z.object({ load: z.string() });
export type PhoneLoadRequest = z.infer<typeof PhoneLoadRequest>;

export interface LoadListView {
  loads: LoadEntry[];
  defaults: DefaultLoad[];
  phones: Array<{ deviceName: string; load: string }>;
}

export interface LoadAddView {
  added: AddedFile[];
}

export interface DefaultLoadView {
  model: string;
  code: number;
  /** Now in the default file for the model ('' when none). */
  load: string;
  from: 'device-defaults' | 'config' | 'none';
  /** Whether the TFTP root holds `<load>.loads`. */
  inTftpRoot: boolean;
}

export interface PhoneLoadView {
  deviceName: string;
  /** Its own load ('' when none). */
  load: string;
  /** The `loadInformation` its file now carries: its own, else its model's. */
  effective: string;
  inTftpRoot: boolean;
}

export interface LoadOperationsDeps {
  db: CompanionDb;
  dataDir: string;
  /** The configuration file's `loadInformation` map (unknown, so empty, when no companion runs). */
  configured: Record<string, string>;
  clock: Clock;
  log: (line: string) => void;
}

export class LoadOperations {
  private readonly d: LoadOperationsDeps;
  private readonly store: LoadStore;

  constructor(d: LoadOperationsDeps) {
    this.d = d;
    this.store = new LoadStore(d.db, d.configured);
  }

  private inRoot(load: string): boolean {
    return load !== '' && existsSync(join(this.d.dataDir, TFTP_ROOT, `${load}.loads`));
  }

  async list(): Promise<Outcome<LoadListView>> {
    return ok({ loads: await listLoads(this.d.dataDir), defaults: this.store.defaults(), phones: this.store.phoneLoads() });
  }

  async add(req: AddLoadsRequest): Promise<Outcome<LoadAddView>> {
    const relative = req.paths.find((p) => !isAbsolute(p));
    if (relative !== undefined) return invalid('paths', `${relative}: paths must be absolute (the companion reads them)`);
    const r = await addLoads(this.d.dataDir, req.paths);
    if ('refused' in r) return invalid('paths', `nothing added: ${r.refused.join('; ')}`);
    for (const a of r.added) this.d.log(`admin added ${a.name} to the TFTP root (${a.kind}${a.load ? ` load ${a.load}` : ''}, ${a.files} file(s), ${a.bytes} bytes)`);
    return ok({ added: r.added });
  }

  setDefault(req: DefaultLoadRequest): Outcome<DefaultLoadView> {
    const model = modelByName(req.model);
    if (!model) return invalid('model', `${req.model} is not a known model`);
    const problem = req.load === '' ? undefined : loadIdProblem(req.load);
    if (problem) return invalid('load', problem);
    this.store.setDefault(model.code, model.name, req.load, this.d.clock.now());
    const now = this.store.defaults().find((x) => x.code === model.code);
    this.d.log(`admin set the ${model.name}'s load (loadInformation${model.code}) to ${now?.load || 'none'}${now?.from === 'config' ? ' (the configuration file\'s)' : ''}`);
    return ok({ model: model.name, code: model.code, load: now?.load ?? '', from: now?.from ?? 'none', inTftpRoot: this.inRoot(now?.load ?? '') });
  }

  setPhone(id: string, req: PhoneLoadRequest): Outcome<PhoneLoadView> {
    const { db } = this.d;
    const dev = parseDeviceId(id);
    const p = dev && (db.phone(dev.name) ?? (dev.mac ? db.phoneByMac(dev.mac) : undefined));
    if (!p) return notFound(`no phone ${id}`);
    const problem = req.load === '' ? undefined : loadIdProblem(req.load);
    if (problem) return invalid('load', problem);
    this.store.setPhoneLoad(p.deviceName, req.load, `${this.d.clock.now()}-${randomBytes(8).toString('hex')}`);
    const effective = this.store.forPhone(p);
    this.d.log(`admin set ${p.deviceName}'s load to ${req.load || `its model's (${effective || 'none'})`}`);
    return ok({ deviceName: p.deviceName, load: req.load, effective, inTftpRoot: this.inRoot(effective) });
  }
}
