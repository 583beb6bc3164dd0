/**
 * The `sepi cm` subcommands of the self-provisioning IVR (docs/protocols/ivr.md), over the admin
 * API like the rest of `sepi cm`:
 *
 *   ivr set [--extension DN|''] [--auth none|users|users-and-admins] [--auth-code DIGITS]
 *   ivr show [--json]
 *   user add … [--profile NAME] [--self-provisioning [--limit 10]]   (the user, then its profile)
 *   user set ID [--profile NAME|''] [--self-provisioning on|off] [--limit N]
 *
 * The templates a provisioned phone gets are the user profile's (cm-template-command.ts).
 */
import type { AddUserRequest, UserView } from '../cm/admin/contract.ts';
import type { AdminClient } from '../cm/admin-client.ts';
import type { IvrRequest, IvrView, UserProvisioningRequest, UserProvisioningView } from '../cm/ivr/operations.ts';
import { UsageError, required } from './args.ts';

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
