/**
 * What an admin does with universal templates (docs/cli.md): universal device templates
 * (`sepi cm udt`), universal line templates (`sepi cm ult`), user profiles naming them with the
 * self-provisioning flag and limit (`sepi cm user-profile`), and the templates autoregistration
 * applies (`sepi cm autoregistration set`, System > Cisco Unified CM). `add` makes the record
 * or, for an existing name, changes the fields given. A template named by a profile or by
 * autoregistration, or a profile some user has, is not removed.
 */
import { z } from 'zod';
import type { Outcome } from '../admin/contract.ts';
import { conflict, invalid, notFound, ok } from '../admin/outcome.ts';
import type { CompanionDb } from '../db.ts';
import { DEFAULT_PHONE_LIMIT } from '../ivr/decide.ts';
import { type AutoRegistrationTemplates, DEFAULT_DEVICE_POOL, type DeviceTemplate, type LineTemplate, type UniversalTemplateStore, type UserProfile } from './store.ts';
import { MASK, MAX_SPEED_DIALS, patternProblem, speedDialProblem } from './apply.ts';

/** CUCM's sample templates' patterns, the defaults of a new template. */
export const DEFAULT_DESCRIPTION = '#FirstName# #LastName# (#Product#)';
export const DEFAULT_DISPLAY_NAME = '#FirstName# #LastName#';
export const DEFAULT_LABEL = '#FirstName# #LastName#';

const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;
const POOL = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,49}$/;

export const DeviceTemplateRequest = z.object({
  name: z.string(),
  description: z.string().optional(),
  devicePool: z.string().optional(),
  speedDials: z.array(z.object({ number: z.string(), label: z.string() })).optional(),
});
export type DeviceTemplateRequest = z.infer<typeof DeviceTemplateRequest>;

export const LineTemplateRequest = z.object({
  name: z.string(),
  displayName: z.string().optional(),
  label: z.string().optional(),
  externalMask: z.string().optional(),
});
export type LineTemplateRequest = z.infer<typeof LineTemplateRequest>;

export const UserProfileRequest = z.object({
  name: z.string(),
  /** null or '': none. */
  deviceTemplate: z.string().nullable().optional(),
  lineTemplate: z.string().nullable().optional(),
  selfProvisioning: z.boolean().optional(),
  limit: z.number().int().optional(),
});
export type UserProfileRequest = z.infer<typeof UserProfileRequest>;

export const AutoRegistrationRequest = z.object({
  deviceTemplate: z.string().nullable().optional(),
  lineTemplate: z.string().nullable().optional(),
});
export type AutoRegistrationRequest = z.infer<typeof AutoRegistrationRequest>;

export const NameParams = z.object({ name: z.string() });

export interface UserProfileView extends UserProfile {
  users: string[];
}

export interface AutoRegistrationView extends AutoRegistrationTemplates {
  enabled: boolean;
  /** The DN range (the configuration file's `autoRegistration.dnRange`). */
  dnRange: [string, string] | null;
}

export interface TemplateOperationsDeps {
  db: CompanionDb;
  store: UniversalTemplateStore;
  autoRegistration: { enabled: boolean; dnFirst: string; dnLast: string };
  log: (line: string) => void;
}

export class TemplateOperations {
  private readonly d: TemplateOperationsDeps;

  constructor(d: TemplateOperationsDeps) {
    this.d = d;
  }

  deviceTemplates(): Outcome<DeviceTemplate[]> {
    return ok(this.d.store.deviceTemplates());
  }

  deviceTemplate(name: string): Outcome<DeviceTemplate> {
    const t = this.d.store.deviceTemplate(name);
    return t ? ok(t) : notFound(`no universal device template ${name}`);
  }

  addDeviceTemplate(req: DeviceTemplateRequest): Outcome<DeviceTemplate> {
    if (!NAME.test(req.name)) return invalid('name', 'a template name is 1 to 64 letters, digits, spaces, dots, dashes or underscores');
    const was = this.d.store.deviceTemplate(req.name);
    const t: DeviceTemplate = {
      name: req.name, description: req.description ?? was?.description ?? DEFAULT_DESCRIPTION,
      devicePool: req.devicePool ?? was?.devicePool ?? DEFAULT_DEVICE_POOL, speedDials: req.speedDials ?? was?.speedDials ?? [],
    };
    const bad = patternProblem(t.description);
    if (bad) return invalid('description', `description: ${bad}`);
    if (!POOL.test(t.devicePool)) return invalid('devicePool', 'a device pool name is 1 to 50 letters, digits, spaces, dots, dashes or underscores');
    if (t.speedDials.length > MAX_SPEED_DIALS) return invalid('speedDials', `at most ${MAX_SPEED_DIALS} speed dials`);
    for (const s of t.speedDials) {
      const p = speedDialProblem(s);
      if (p) return invalid('speedDials', p);
    }
    this.d.store.putDeviceTemplate(t);
    this.d.log(`admin ${was ? 'changed' : 'added'} universal device template ${t.name}: "${t.description}", device pool ${t.devicePool}, ${t.speedDials.length} speed dial(s)`);
    return ok(t);
  }

  lineTemplates(): Outcome<LineTemplate[]> {
    return ok(this.d.store.lineTemplates());
  }

  lineTemplate(name: string): Outcome<LineTemplate> {
    const t = this.d.store.lineTemplate(name);
    return t ? ok(t) : notFound(`no universal line template ${name}`);
  }

  addLineTemplate(req: LineTemplateRequest): Outcome<LineTemplate> {
    if (!NAME.test(req.name)) return invalid('name', 'a template name is 1 to 64 letters, digits, spaces, dots, dashes or underscores');
    const was = this.d.store.lineTemplate(req.name);
    const t: LineTemplate = {
      name: req.name, displayName: req.displayName ?? was?.displayName ?? DEFAULT_DISPLAY_NAME,
      label: req.label ?? was?.label ?? DEFAULT_LABEL, externalMask: req.externalMask ?? was?.externalMask ?? '',
    };
    for (const [field, pattern] of [['displayName', t.displayName], ['label', t.label]] as const) {
      const bad = patternProblem(pattern);
      if (bad) return invalid(field, `${field}: ${bad}`);
    }
    if (!MASK.test(t.externalMask)) return invalid('externalMask', 'an external phone number mask is up to 24 digits, X, *, # with an optional leading +');
    this.d.store.putLineTemplate(t);
    this.d.log(`admin ${was ? 'changed' : 'added'} universal line template ${t.name}: display name "${t.displayName}", label "${t.label}", mask "${t.externalMask}"`);
    return ok(t);
  }

  removeTemplate(kind: 'device' | 'line', name: string): Outcome<{ removed: string }> {
    const what = kind === 'device' ? 'universal device template' : 'universal line template';
    const users = this.d.store.templateUsers(kind, name);
    if (users.length) return conflict(`${what} ${name} is named by ${users.join(', ')}`);
    if (!this.d.store.removeTemplate(kind, name)) return notFound(`no ${what} ${name}`);
    this.d.log(`admin removed ${what} ${name}`);
    return ok({ removed: name });
  }

  profiles(): Outcome<UserProfileView[]> {
    return ok(this.d.store.profiles().map((p) => ({ ...p, users: this.d.store.profileMembers(p.name) })));
  }

  profile(name: string): Outcome<UserProfileView> {
    const p = this.d.store.profile(name);
    return p ? ok({ ...p, users: this.d.store.profileMembers(name) }) : notFound(`no user profile ${name}`);
  }

  addProfile(req: UserProfileRequest): Outcome<UserProfileView> {
    if (!NAME.test(req.name)) return invalid('name', 'a profile name is 1 to 64 letters, digits, spaces, dots, dashes or underscores');
    if (req.limit !== undefined && (req.limit < 0 || req.limit > 10_000)) return invalid('limit', 'limit must be 0 to 10000');
    const was = this.d.store.profile(req.name);
    const p: UserProfile = {
      name: req.name,
      deviceTemplate: req.deviceTemplate === undefined ? was?.deviceTemplate ?? null : req.deviceTemplate || null,
      lineTemplate: req.lineTemplate === undefined ? was?.lineTemplate ?? null : req.lineTemplate || null,
      selfProvisioning: req.selfProvisioning ?? was?.selfProvisioning ?? false, limit: req.limit ?? was?.limit ?? DEFAULT_PHONE_LIMIT,
    };
    const missing = this.missingTemplate(p);
    if (missing) return missing;
    this.d.store.putProfile(p);
    this.d.log(`admin ${was ? 'changed' : 'added'} user profile ${p.name}: device template ${p.deviceTemplate ?? 'none'}, line template ${p.lineTemplate ?? 'none'}, self-provisioning ${p.selfProvisioning ? 'on' : 'off'}, limit ${p.limit}`);
    return this.profile(p.name);
  }

  removeProfile(name: string): Outcome<{ removed: string }> {
    const users = this.d.store.profileMembers(name);
    if (users.length) return conflict(`user profile ${name} is the profile of ${users.join(', ')}`);
    if (!this.d.store.removeProfile(name)) return notFound(`no user profile ${name}`);
    this.d.log(`admin removed user profile ${name}`);
    return ok({ removed: name });
  }

  autoRegistration(): Outcome<AutoRegistrationView> {
    const a = this.d.autoRegistration;
    return ok({ enabled: a.enabled, dnRange: a.enabled ? [a.dnFirst, a.dnLast] : null, ...this.d.store.autoRegistration() });
  }

  setAutoRegistration(req: AutoRegistrationRequest): Outcome<AutoRegistrationView> {
    const was = this.d.store.autoRegistration();
    const next: AutoRegistrationTemplates = {
      deviceTemplate: req.deviceTemplate === undefined ? was.deviceTemplate : req.deviceTemplate || null,
      lineTemplate: req.lineTemplate === undefined ? was.lineTemplate : req.lineTemplate || null,
    };
    const missing = this.missingTemplate(next);
    if (missing) return missing;
    this.d.store.setAutoRegistration(next);
    this.d.log(`admin set autoregistration's templates: device template ${next.deviceTemplate ?? 'none'}, line template ${next.lineTemplate ?? 'none'} (applied to phones autoregistered from now on)`);
    return this.autoRegistration();
  }

  private missingTemplate(t: { deviceTemplate: string | null; lineTemplate: string | null }): Outcome<never> | undefined {
    if (t.deviceTemplate !== null && !this.d.store.deviceTemplate(t.deviceTemplate)) return notFound(`no universal device template ${t.deviceTemplate} (sepi cm udt add)`);
    if (t.lineTemplate !== null && !this.d.store.lineTemplate(t.lineTemplate)) return notFound(`no universal line template ${t.lineTemplate} (sepi cm ult add)`);
    return undefined;
  }
}
