/**
 * Bulk Administration: phone templates, and inserting phones from a BAT-style CSV file with a
 * template ("Insert Phones", with "Create Dummy MAC Address" for rows without a MAC). The whole
 * file is checked first and a bad row is reported by its line number; then every phone is made
 * in one transaction, so a file never leaves half its phones behind.
 *
 * Columns (header names as bat.xlt exports them, any case, any order; all optional):
 *   MAC ADDRESS, DESCRIPTION, OWNER USER ID, DIRECTORY NUMBER 1
 */
import { modelByName } from '../../wire/models.ts';
import { readTable } from '../bulk/csv.ts';
import type { TemplateStore } from '../bulk/templates.ts';
import type { ActivationStore } from '../activation/store.ts';
import { ACTIVATION_MODELS, activationModelsText } from '../activation/device-activation.ts';
import type { CompanionDb } from '../db.ts';
import { DIRECTORY_NUMBER as DN, parseDeviceId } from '../device-name.ts';
import type { AddPhoneRequest, BatInsertAnswer, BatInsertRequest, Outcome, TemplateRequest, TemplateView } from './contract.ts';
import { conflict, invalid, notFound, ok } from './outcome.ts';
import type { PhoneOperations } from './phones.ts';

const COLUMNS = ['MAC ADDRESS', 'DESCRIPTION', 'OWNER USER ID', 'DIRECTORY NUMBER 1'] as const;

export interface BulkOperationsDeps {
  db: CompanionDb;
  templates: TemplateStore;
  store: ActivationStore;
  phones: PhoneOperations;
  log: (line: string) => void;
}

/** A row that cannot be inserted: thrown inside the transaction so nothing of the file stays. */
class RowRefused extends Error {}

export class BulkOperations {
  private readonly d: BulkOperationsDeps;

  constructor(deps: BulkOperationsDeps) {
    this.d = deps;
  }

  templates(): Outcome<TemplateView[]> {
    return ok(this.d.templates.list().map((t) => ({ name: t.name, model: t.model, devicePool: t.devicePool, requireActivationCode: t.requiresCode, ...(t.owner ? { owner: t.owner } : {}) })));
  }

  addTemplate(req: TemplateRequest): Outcome<TemplateView> {
    if (!/^[\w .-]{1,64}$/.test(req.name)) return invalid('name', 'name must be 1 to 64 letters, digits, spaces, ".", "_" or "-"');
    if (!modelByName(req.model)) return invalid('model', `unknown model "${req.model}"`);
    if (req.requireActivationCode && !ACTIVATION_MODELS.has(req.model)) return invalid('model', `the ${req.model} does not onboard by activation code; models that do: ${activationModelsText}`);
    if (req.owner !== undefined && !this.d.store.user(req.owner)) return invalid('owner', `no user ${req.owner}`);
    const devicePool = req.devicePool ?? 'Default';
    if (!/^[\w .-]{1,64}$/.test(devicePool)) return invalid('devicePool', 'devicePool must be 1 to 64 letters, digits, spaces, ".", "_" or "-"');
    this.d.templates.put({ name: req.name, model: req.model, devicePool, requiresCode: req.requireActivationCode ?? false, owner: req.owner ?? null });
    this.d.log(`admin saved phone template ${req.name} (${req.model})`);
    return ok({ name: req.name, model: req.model, devicePool, requireActivationCode: req.requireActivationCode ?? false, ...(req.owner ? { owner: req.owner } : {}) });
  }

  insert(req: BatInsertRequest): Outcome<BatInsertAnswer> {
    const { db, store } = this.d;
    const t = this.d.templates.get(req.template);
    if (!t) return notFound(`no phone template ${req.template}`);
    const table = readTable(req.csv, [], [...COLUMNS]);
    if (!table.ok) return invalid('csv', table.error.message);
    if (table.value.length === 0) return invalid('csv', 'the file has a header and no phone');
    // Pass 1: every row checked against the database and the rows before it, nothing written.
    const macs = new Set<string>();
    const dns = new Set<string>();
    const rows: AddPhoneRequest[] = [];
    for (const { line, fields } of table.value) {
      const bad = (what: string) => invalid('csv', `line ${line}: ${what}`);
      const macText = (fields['MAC ADDRESS'] ?? '').trim();
      let mac: string | undefined;
      if (macText) {
        const id = parseDeviceId(macText);
        if (!id?.mac) return bad(`"${macText.slice(0, 40)}" is not a MAC address`);
        mac = id.mac;
        if (macs.has(mac)) return bad(`MAC ${mac} is on an earlier line too`);
        if (db.phoneByMac(mac)) return bad(`MAC ${mac} belongs to ${db.phoneByMac(mac)!.deviceName} already`);
        macs.add(mac);
      } else if (!req.dummyMac) return bad('MAC ADDRESS is empty (insert with "Create Dummy MAC Address" to make a BAT device)');
      else if (!t.requiresCode) return bad('a dummy MAC needs a template that requires an activation code: nothing else could ever bind it to a phone');
      const dn = (fields['DIRECTORY NUMBER 1'] ?? '').trim();
      if (dn) {
        if (!DN.test(dn)) return bad(`"${dn.slice(0, 40)}" is not a directory number`);
        if (dns.has(dn)) return bad(`directory number ${dn} is on an earlier line too`);
        const holder = db.phoneByDn(dn);
        if (holder) return bad(`directory number ${dn} belongs to ${holder.deviceName}`);
        dns.add(dn);
      }
      const owner = (fields['OWNER USER ID'] ?? '').trim() || t.owner || undefined;
      if (owner && !store.user(owner)) return bad(`no user ${owner}`);
      const description = fields['DESCRIPTION'] ?? '';
      if (description.length > 128) return bad('DESCRIPTION is longer than 128 characters');
      rows.push({ ...(mac ? { mac } : {}), model: t.model, ...(dn ? { dn } : {}), description, ...(owner ? { owner } : {}), ...(t.requiresCode ? { requireActivationCode: true } : {}) });
    }
    // Pass 2: all of them, or none.
    try {
      const created = db.transaction(() =>
        rows.map((r, i) => {
          const added = this.d.phones.add(r);
          if (added.kind !== 'ok') throw new RowRefused(`line ${table.value[i]!.line}: ${added.message}`);
          return { deviceName: added.value.deviceName, dn: added.value.dn, ...(added.value.activationCode ? { activationCode: added.value.activationCode.code } : {}) };
        }),
      );
      this.d.log(`admin inserted ${created.length} phones from CSV with template ${t.name}`);
      return ok({ count: created.length, phones: created });
    } catch (e) {
      if (e instanceof RowRefused) return conflict(`${e.message}; nothing was inserted`);
      throw e;
    }
  }
}
