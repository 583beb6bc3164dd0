/**
 * What an admin sets for the self-provisioning IVR (docs/companion.md): the system settings
 * (`sepi cm ivr set|show`: extension, authentication mode, authentication code) and per user
 * the profile: a named user profile (`sepi cm user set ID --profile NAME`, templates/) or the
 * implicit one of the user's own "Allow End User to Provision their own phones" and limit
 * (`sepi cm user set ID --self-provisioning on|off --limit N`). Over the admin API when the
 * companion runs, or on the data folder directly.
 */
import { z } from 'zod';
import { hashSecret } from '../../common/password-hash.ts';
import type { Outcome } from '../admin/contract.ts';
import { invalid, notFound, ok } from '../admin/outcome.ts';
import type { UniversalTemplateStore } from '../templates/store.ts';
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
  /** Version 1's template, never applied: refused now, the user profile names the templates. */
  template: z.string().optional(),
});
export type IvrRequest = z.infer<typeof IvrRequest>;

export const UserProvisioningRequest = z.object({
  /** A user profile's name; '' or null: none (the implicit profile). */
  profile: z.string().nullable().optional(),
  /** The implicit profile's: refused while the user has a named profile. */
  selfProvisioning: z.boolean().optional(),
  limit: z.number().int().optional(),
});
export type UserProvisioningRequest = z.infer<typeof UserProvisioningRequest>;

export interface IvrView {
  extension: string | null;
  auth: 'none' | 'users' | 'users-and-admins';
  authCodeSet: boolean;
}

export interface UserProvisioningView {
  id: string;
  /** The named user profile; null: the implicit one (the flag and limit below are the user's own). */
  profile: string | null;
  /** In effect: the named profile's, else the user's own. */
  selfProvisioning: boolean;
  limit: number;
  provisioned: number;
  /** The profile's universal templates, applied to a phone the user provisions. */
  deviceTemplate: string | null;
  lineTemplate: string | null;
}

export interface IvrOperationsDeps {
  db: CompanionDb;
  store: IvrStore;
  templates: UniversalTemplateStore;
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
    return ok({ extension: s.extension ?? null, auth: s.auth, authCodeSet: s.authCodeHash !== undefined });
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
    if (req.template !== undefined && req.template !== '') return invalid('template', "the IVR applies the templates of the user's profile (sepi cm user-profile add NAME --device-template UDT --line-template ULT; sepi cm user set ID --profile NAME)");
    const next = {
      extension: req.extension === undefined ? s.extension : req.extension || undefined,
      auth: req.auth ?? s.auth,
      authCodeHash: req.authCode === undefined ? s.authCodeHash : hashSecret(req.authCode),
    };
    this.d.store.setSettings(next);
    this.d.log(`admin set the self-provisioning IVR: extension ${next.extension ?? 'none'}, authentication ${next.auth}${next.authCodeHash ? ', an authentication code' : ''}`);
    return this.show();
  }

  user(id: string): Outcome<UserProvisioningView> {
    const u = this.d.store.user(id);
    if (!u) return notFound(`no user ${id}`);
    return ok({
      id: u.id, profile: u.profile ?? null, selfProvisioning: u.selfProvisioning, limit: u.limit, provisioned: u.provisioned,
      deviceTemplate: u.deviceTemplate ?? null, lineTemplate: u.lineTemplate ?? null,
    });
  }

  setUser(id: string, req: UserProvisioningRequest): Outcome<UserProvisioningView> {
    if (req.limit !== undefined && (req.limit < 0 || req.limit > 10_000)) return invalid('limit', 'limit must be 0 to 10000');
    const before = this.d.store.user(id);
    if (!before) return notFound(`no user ${id}`);
    const profile = req.profile === undefined ? before.profile ?? null : req.profile || null;
    if (profile !== null && !this.d.templates.profile(profile)) return notFound(`no user profile ${profile} (sepi cm user-profile add)`);
    // Two places for one setting would leave an admin guessing which counts: the named profile's.
    if (profile !== null && (req.selfProvisioning !== undefined || req.limit !== undefined)) {
      return invalid(req.selfProvisioning !== undefined ? 'selfProvisioning' : 'limit', `user ${id} takes self-provisioning and its limit from user profile ${profile}: set them there (sepi cm user-profile add ${profile} …), or clear the profile (--profile '')`);
    }
    this.d.db.transaction(() => {
      if (req.profile !== undefined) this.d.templates.setUserProfile(id, profile);
      this.d.store.setUser(id, { ...(req.selfProvisioning !== undefined ? { selfProvisioning: req.selfProvisioning } : {}), ...(req.limit !== undefined ? { limit: req.limit } : {}) });
    });
    const v = this.user(id);
    if (v.kind === 'ok') this.d.log(`admin set user ${id}: profile ${v.value.profile ?? '(implicit)'}, self-provisioning ${v.value.selfProvisioning ? 'on' : 'off'}, limit ${v.value.limit}`);
    return v;
  }
}

export { DEFAULT_PHONE_LIMIT };
