/**
 * BAT phone templates (Bulk Administration > Phones > Phone Template): the settings a CSV insert
 * gives every phone it makes — model, device pool, whether it onboards by activation code, and
 * an owner when the row names none. Schema version 7 (db.ts).
 */
import type { DatabaseSync } from 'node:sqlite';
import type { CompanionDb } from '../db.ts';

export interface PhoneTemplate {
  name: string;
  model: string;
  devicePool: string;
  requiresCode: boolean;
  owner: string | null;
}

type Row = Record<string, unknown>;

const from = (r: Row): PhoneTemplate => ({
  name: String(r['name']), model: String(r['model']), devicePool: String(r['device_pool']), requiresCode: Number(r['requires_code']) === 1, owner: r['owner'] === null ? null : String(r['owner']),
});

export class TemplateStore {
  private readonly db: DatabaseSync;

  constructor(db: CompanionDb) {
    this.db = db.handle;
  }

  get(name: string): PhoneTemplate | undefined {
    const r = this.db.prepare('SELECT * FROM phone_templates WHERE name = ?').get(name) as Row | undefined;
    return r && from(r);
  }

  list(): PhoneTemplate[] {
    return (this.db.prepare('SELECT * FROM phone_templates ORDER BY name').all() as Row[]).map(from);
  }

  put(t: PhoneTemplate): void {
    this.db.prepare(`INSERT INTO phone_templates (name, model, device_pool, requires_code, owner) VALUES (?, ?, ?, ?, ?)
                     ON CONFLICT(name) DO UPDATE SET model = excluded.model, device_pool = excluded.device_pool, requires_code = excluded.requires_code, owner = excluded.owner`)
      .run(t.name, t.model, t.devicePool, t.requiresCode ? 1 : 0, t.owner);
  }
}
