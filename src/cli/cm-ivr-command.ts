/**
 * The `sepi cm` subcommands of the self-provisioning IVR (docs/protocols/ivr.md) and of the
 * universal templates it and autoregistration apply (docs/cli.md), over the admin API like the
 * rest of `sepi cm`:
 *
 *   ivr set [--extension DN|''] [--auth none|users|users-and-admins] [--auth-code DIGITS]
 *   ivr show [--json]
 *   user add … [--profile NAME] [--self-provisioning [--limit 10]]   (the user, then its profile)
 *   user set ID [--profile NAME|''] [--self-provisioning on|off] [--limit N]
 *   udt add NAME [--description PATTERN] [--device-pool POOL] [--speed-dial 'N[=LABEL][,N[=LABEL]…]' | '']
 *   udt list | show NAME | rm NAME
 *   ult add NAME [--display-name PATTERN] [--label PATTERN] [--external-mask MASK]
 *   ult list | show NAME | rm NAME
 *   user-profile add NAME [--device-template UDT|''] [--line-template ULT|''] [--self-provisioning [on|off]] [--limit N]
 *   user-profile list | show NAME | rm NAME
 *   autoregistration set [--device-template UDT|''] [--line-template ULT|''] | show
 *
 * `add` with an existing name changes only the fields given. `udt`/`ult` rather than a flag on
 * `template`: `template` is Bulk Administration's phone template, a different thing in CUCM too.
 */
import type { AddUserRequest, UserView } from '../cm/admin/contract.ts';
import type { AdminClient } from '../cm/admin-client.ts';
import type { IvrRequest, IvrView, UserProvisioningRequest, UserProvisioningView } from '../cm/ivr/operations.ts';
import { UsageError, required } from './args.ts';
import type { DeviceTemplate, LineTemplate } from '../cm/templates/store.ts';
import type { AutoRegistrationRequest, AutoRegistrationView, DeviceTemplateRequest, LineTemplateRequest, UserProfileRequest, UserProfileView } from '../cm/templates/operations.ts';
import { parseSpeedDials, type SpeedDial } from '../cm/templates/apply.ts';

export const IVR_OPTIONS = {
  extension: { type: 'string' }, 'auth-code': { type: 'string' }, 'self-provisioning': { type: 'string' }, limit: { type: 'string' },
} as const;

type Values = Record<string, string | boolean | undefined>;
type Out = (x: unknown, text: () => string) => void;

const str = (v: Values, k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);

/** `--self-provisioning` alone means on; `--self-provisioning on|off` says which (one string option for both). */
export function normalizeSelfProvisioning(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a !== '--self-provisioning') {
      out.push(a);
      continue;
    }
    const next = argv[i + 1];
    if (next === 'on' || next === 'off') {
      out.push(`--self-provisioning=${next}`);
      i++;
    } else out.push('--self-provisioning=on');
  }
  return out;
}

const ivrText = (r: IvrView) => `extension ${r.extension ?? 'none (no IVR)'}\nauthentication ${r.auth}${r.auth === 'users-and-admins' ? ` (authentication code ${r.authCodeSet ? 'set' : 'not set'})` : ''}`;
// A user without a profile prints as version 1 did; a profile is named with its templates.
const userText = (r: UserProvisioningView) =>
  `${r.id}: ${r.profile ? `profile ${r.profile} (device template ${r.deviceTemplate ?? 'none'}, line template ${r.lineTemplate ?? 'none'}), ` : ''}self-provisioning ${r.selfProvisioning ? 'on' : 'off'}, limit ${r.limit}, provisioned ${r.provisioned}`;

function provisioningBody(v: Values): UserProvisioningRequest {
  const sp = str(v, 'self-provisioning');
  if (sp !== undefined && sp !== 'on' && sp !== 'off') throw new UsageError('--self-provisioning on|off');
  const limit = str(v, 'limit');
  if (limit !== undefined && !/^\d{1,5}$/.test(limit)) throw new UsageError('--limit must be a number of phones');
  const profile = str(v, 'profile');
  return { ...(profile !== undefined ? { profile } : {}), ...(sp !== undefined ? { selfProvisioning: sp === 'on' } : {}), ...(limit !== undefined ? { limit: Number(limit) } : {}) };
}

export async function ivrCommand(what: string, verb: string | undefined, arg: string | undefined, v: Values, client: AdminClient, out: Out): Promise<number | undefined> {
  if (what === 'ivr') {
    if (verb === 'set') {
      if (str(v, 'template') !== undefined) throw new UsageError("the IVR applies the templates of the user's profile: sepi cm user-profile add NAME --device-template UDT --line-template ULT, then sepi cm user set ID --profile NAME");
      const auth = str(v, 'auth');
      if (auth !== undefined && auth !== 'none' && auth !== 'users' && auth !== 'users-and-admins') throw new UsageError('--auth none|users|users-and-admins');
      const body: IvrRequest = {
        ...(str(v, 'extension') !== undefined ? { extension: str(v, 'extension')! } : {}), ...(auth !== undefined ? { auth } : {}),
        ...(str(v, 'auth-code') !== undefined ? { authCode: str(v, 'auth-code')! } : {}),
      };
      if (Object.keys(body).length === 0) throw new UsageError('sepi cm ivr set --extension DN --auth none|users|users-and-admins [--auth-code DIGITS]');
      const r = await client.call<IvrView>('POST', '/v1/ivr', body);
      out(r, () => ivrText(r));
      return 0;
    }
    if (verb === 'show' || verb === undefined) {
      const r = await client.call<IvrView>('GET', '/v1/ivr');
      out(r, () => ivrText(r));
      return 0;
    }
    throw new UsageError('sepi cm ivr set --extension DN --auth none|users|users-and-admins [--auth-code DIGITS] | show [--json]');
  }
  if (what === 'user' && verb === 'add' && (str(v, 'self-provisioning') !== undefined || str(v, 'limit') !== undefined || str(v, 'profile') !== undefined)) {
    const body: AddUserRequest = {
      id: required(str(v, 'id'), '--id'), password: required(str(v, 'password'), '--password'),
      ...(str(v, 'pin') !== undefined ? { pin: str(v, 'pin')! } : {}), ...(str(v, 'name') !== undefined ? { name: str(v, 'name')! } : {}),
      ...(str(v, 'primary-dn') !== undefined ? { primaryDn: str(v, 'primary-dn')! } : {}),
    };
    const provisioning = provisioningBody(v);
    const u = await client.call<UserView>('POST', '/v1/users', body);
    const r = await client.call<UserProvisioningView>('POST', `/v1/users/${encodeURIComponent(u.id)}/provisioning`, provisioning);
    out({ ...u, provisioning: r }, () => `added user ${u.id}\n${userText(r)}`);
    return 0;
  }
  if (what === 'user' && (verb === 'set' || verb === 'show')) {
    if (!arg) throw new UsageError(`sepi cm user ${verb} ID${verb === 'set' ? " [--profile NAME|''] [--self-provisioning on|off] [--limit N]" : ''}`);
    const path = `/v1/users/${encodeURIComponent(arg)}/provisioning`;
    const r = verb === 'set' ? await client.call<UserProvisioningView>('POST', path, provisioningBody(v)) : await client.call<UserProvisioningView>('GET', path);
    out(r, () => userText(r));
    return 0;
  }
  return undefined;
}

// ---- universal templates -------------------------------------------------------------------

export const TEMPLATE_OPTIONS = {
  'speed-dial': { type: 'string' }, 'display-name': { type: 'string' }, label: { type: 'string' }, 'external-mask': { type: 'string' },
  'device-template': { type: 'string' }, 'line-template': { type: 'string' }, profile: { type: 'string' },
} as const;

/** Only the flags given go into the body: `add` on an existing name changes just those. */
const given = <K extends string>(v: Values, pairs: Array<[K, string]>): Partial<Record<K, string>> =>
  Object.fromEntries(pairs.filter(([, flag]) => str(v, flag) !== undefined).map(([key, flag]) => [key, str(v, flag)!])) as Partial<Record<K, string>>;

const USAGE: Record<string, string> = {
  udt: "sepi cm udt add NAME [--description PATTERN] [--device-pool POOL] [--speed-dial 'N[=LABEL],…'] | list | show NAME | rm NAME",
  ult: 'sepi cm ult add NAME [--display-name PATTERN] [--label PATTERN] [--external-mask MASK] | list | show NAME | rm NAME',
  'user-profile': 'sepi cm user-profile add NAME [--device-template UDT] [--line-template ULT] [--self-provisioning [on|off]] [--limit N] | list | show NAME | rm NAME',
  autoregistration: 'sepi cm autoregistration set [--device-template UDT] [--line-template ULT] | show',
};

/** `--speed-dial '8999=Self-provisioning,1000'`: '' clears them. */
function speedDials(s: string): SpeedDial[] {
  const d = parseSpeedDials(s);
  if (typeof d === 'string') throw new UsageError(`--speed-dial: ${d}`);
  return d;
}

const udtText = (t: DeviceTemplate) =>
  `${t.name}: description "${t.description}", device pool ${t.devicePool}${t.speedDials.length ? `, speed dials ${t.speedDials.map((d) => `${d.number} (${d.label})`).join(', ')}` : ''}`;
const ultText = (t: LineTemplate) => `${t.name}: display name "${t.displayName}", label "${t.label}"${t.externalMask ? `, external mask ${t.externalMask}` : ''}`;
const profileText = (p: UserProfileView) =>
  `${p.name}: device template ${p.deviceTemplate ?? 'none'}, line template ${p.lineTemplate ?? 'none'}, self-provisioning ${p.selfProvisioning ? 'on' : 'off'}, limit ${p.limit}${p.users.length ? `, users ${p.users.join(' ')}` : ''}`;
const autoText = (a: AutoRegistrationView) =>
  `autoregistration ${a.enabled ? `on, DNs ${a.dnRange![0]}-${a.dnRange![1]}` : 'off'}\ndevice template ${a.deviceTemplate ?? 'none'}\nline template ${a.lineTemplate ?? 'none'}`;
const list = <T>(items: T[], text: (t: T) => string, none: string) => (items.length ? items.map(text).join('\n') : none);

export async function templateCommand(what: string, verb: string | undefined, arg: string | undefined, v: Values, client: AdminClient, out: Out): Promise<number | undefined> {
  const kinds: Record<string, { path: string; text: (x: never) => string; none: string; body: () => unknown }> = {
    udt: {
      path: '/v1/device-templates', text: udtText as (x: never) => string, none: 'no universal device templates',
      body: (): DeviceTemplateRequest => ({
        name: arg!, ...given(v, [['description', 'description'], ['devicePool', 'device-pool']]),
        ...(str(v, 'speed-dial') !== undefined ? { speedDials: speedDials(str(v, 'speed-dial')!) } : {}),
      }),
    },
    ult: {
      path: '/v1/line-templates', text: ultText as (x: never) => string, none: 'no universal line templates',
      body: (): LineTemplateRequest => ({ name: arg!, ...given(v, [['displayName', 'display-name'], ['label', 'label'], ['externalMask', 'external-mask']]) }),
    },
    'user-profile': {
      path: '/v1/user-profiles', text: profileText as (x: never) => string, none: 'no user profiles',
      body: (): UserProfileRequest => {
        const sp = str(v, 'self-provisioning');
        if (sp !== undefined && sp !== 'on' && sp !== 'off') throw new UsageError('--self-provisioning on|off');
        const limit = str(v, 'limit');
        if (limit !== undefined && !/^\d{1,5}$/.test(limit)) throw new UsageError('--limit must be a number of phones');
        return {
          name: arg!, ...given(v, [['deviceTemplate', 'device-template'], ['lineTemplate', 'line-template']]),
          ...(sp !== undefined ? { selfProvisioning: sp === 'on' } : {}), ...(limit !== undefined ? { limit: Number(limit) } : {}),
        };
      },
    },
  };
  if (what === 'autoregistration') {
    if (verb === 'set') {
      const body: AutoRegistrationRequest = given(v, [['deviceTemplate', 'device-template'], ['lineTemplate', 'line-template']]);
      if (Object.keys(body).length === 0) throw new UsageError(USAGE['autoregistration']!);
      const r = await client.call<AutoRegistrationView>('POST', '/v1/autoregistration', body);
      out(r, () => autoText(r));
      return 0;
    }
    if (verb === 'show' || verb === undefined) {
      const r = await client.call<AutoRegistrationView>('GET', '/v1/autoregistration');
      out(r, () => autoText(r));
      return 0;
    }
    throw new UsageError(USAGE['autoregistration']!);
  }
  const k = kinds[what];
  if (!k) return undefined;
  const one = `${k.path}/${encodeURIComponent(arg ?? '')}`;
  if ((verb === 'add' || verb === 'show' || verb === 'rm') && !arg) throw new UsageError(USAGE[what]!);
  switch (verb) {
    case 'add': {
      const r = await client.call<never>('POST', k.path, k.body());
      out(r, () => k.text(r));
      return 0;
    }
    case 'list':
    case undefined: {
      const r = await client.call<never[]>('GET', k.path);
      out(r, () => list(r, k.text, k.none));
      return 0;
    }
    case 'show': {
      const r = await client.call<never>('GET', one);
      out(r, () => k.text(r));
      return 0;
    }
    case 'rm': {
      const r = await client.call<{ removed: string }>('DELETE', one);
      out(r, () => `removed ${r.removed}`);
      return 0;
    }
  }
  throw new UsageError(USAGE[what]!);
}
