/**
 * What an admin sets for the self-provisioning IVR (docs/companion.md): the system settings
 * (`sepi cm ivr set|show`: extension, authentication mode, authentication code, template) and
 * the user profile's "Allow End User to Provision their own phones" with its limit
 * (`sepi cm user set ID --self-provisioning on|off --limit N`). Over the admin API when the
 * companion runs, or on the data folder directly.
 */
import { z } from 'zod';
import { hashSecret } from '../../common/password-hash.ts';
import type { Outcome } from '../admin/contract.ts';
import { invalid, notFound, ok } from '../admin/outcome.ts';
import type { TemplateStore } from '../bulk/templates.ts';
import type { CompanionDb } from '../db.ts';
import { DIRECTORY_NUMBER } from '../device-name.ts';
import { DEFAULT_PHONE_LIMIT } from './decide.ts';
import type { IvrStore } from './store.ts';

export const IvrRequest = z.object({
  /** '' turns the IVR off. */
  extension: z.string().optional(),
  auth: z.enum(['none', 'users', 'users-and-admins']).optional(),
  /** 0 to 20 digits; stored hashed. */
  authCode: z.string().optional(),
  /** '' for none. */
  template: z.string().optional(),
});
export type IvrRequest = z.infer<typeof IvrRequest>;

export const UserProvisioningRequest = z.object({
  selfProvisioning: z.boolean().optional(),
  limit: z.number().int().optional(),
});
export type UserProvisioningRequest = z.infer<typeof UserProvisioningRequest>;

export interface IvrView {
  extension: string | null;
  auth: 'none' | 'users' | 'users-and-admins';
  authCodeSet: boolean;
  template: string | null;
}

export interface UserProvisioningView {
  id: string;
  selfProvisioning: boolean;
  limit: number;
  provisioned: number;
}

export interface IvrOperationsDeps {
  db: CompanionDb;
  store: IvrStore;
  templates: TemplateStore;
  /** The autoregistration range, when autoregistration is on: the IVR's extension must lie outside it. */
  range?: { first: string; last: string } | undefined;
  log: (line: string) => void;
}

export class IvrOperations {
  private readonly d: IvrOperationsDeps;

  constructor(d: IvrOperationsDeps) {
    this.d = d;
  }

  show(): Outcome<IvrView> {
    const s = this.d.store.settings();
    return ok({ extension: s.extension ?? null, auth: s.auth, authCodeSet: s.authCodeHash !== undefined, template: s.template ?? null });
  }

  set(req: IvrRequest): Outcome<IvrView> {
    const s = this.d.store.settings();
    if (req.extension !== undefined && req.extension !== '') {
      if (!DIRECTORY_NUMBER.test(req.extension)) return invalid('extension', 'extension must be a directory number');
      const holder = this.d.db.phoneByDn(req.extension);
      if (holder) return invalid('extension', `${req.extension} is the line of ${holder.deviceName}`);
      const r = this.d.range;
      if (r && /^\d+$/.test(req.extension) && req.extension.length === r.first.length && Number(req.extension) >= Number(r.first) && Number(req.extension) <= Number(r.last)) {
        return invalid('extension', `${req.extension} is in the autoregistration range ${r.first}-${r.last}: a phone could be given it`);
      }
    }
    if (req.authCode !== undefined && !/^\d{0,20}$/.test(req.authCode)) return invalid('authCode', 'the authentication code is 0 to 20 digits');
    if (req.template !== undefined && req.template !== '' && !this.d.templates.get(req.template)) return notFound(`no template ${req.template} (sepi cm template add)`);
    const next = {
      extension: req.extension === undefined ? s.extension : req.extension || undefined,
      auth: req.auth ?? s.auth,
      authCodeHash: req.authCode === undefined ? s.authCodeHash : hashSecret(req.authCode),
      template: req.template === undefined ? s.template : req.template || undefined,
    };
    this.d.store.setSettings(next);
    this.d.log(`admin set the self-provisioning IVR: extension ${next.extension ?? 'none'}, authentication ${next.auth}${next.authCodeHash ? ', an authentication code' : ''}${next.template ? `, template ${next.template}` : ''}`);
    return this.show();
  }

  user(id: string): Outcome<UserProvisioningView> {
    const u = this.d.store.user(id);
    if (!u) return notFound(`no user ${id}`);
    return ok({ id: u.id, selfProvisioning: u.selfProvisioning, limit: u.limit, provisioned: u.provisioned });
  }

  setUser(id: string, req: UserProvisioningRequest): Outcome<UserProvisioningView> {
    if (req.limit !== undefined && (req.limit < 0 || req.limit > 10_000)) return invalid('limit', 'limit must be 0 to 10000');
    if (!this.d.store.setUser(id, { ...(req.selfProvisioning !== undefined ? { selfProvisioning: req.selfProvisioning } : {}), ...(req.limit !== undefined ? { limit: req.limit } : {}) })) return notFound(`no user ${id}`);
    const v = this.user(id);
    if (v.kind === 'ok') this.d.log(`admin set user ${id}: self-provisioning ${v.value.selfProvisioning ? 'on' : 'off'}, limit ${v.value.limit}`);
    return v;
  }
}

export { DEFAULT_PHONE_LIMIT };
