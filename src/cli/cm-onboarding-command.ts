/**
 * The `sepi cm` subcommands of activation-code onboarding (docs/activation.md), over the admin
 * API like the rest of `sepi cm`:
 *
 *   device-defaults set --model 8841 --onboarding activation-code|auto-registration | list
 *   user add --id alice --password PW [--pin 1234] [--name TEXT] [--primary-dn DN] | list
 *   phone code new|release|show NAME
 *   codes export --csv
 *   trust import-manufacturing CERT.pem
 */
import { readFile } from 'node:fs/promises';
import type { AddUserRequest, CodeView, DeviceDefaultRequest, DeviceDefaultView, UserView } from '../cm/admin/contract.ts';
import type { AdminClient } from '../cm/admin-client.ts';
import { UsageError, required } from './args.ts';

type Values = Record<string, string | boolean | undefined>;
type Out = (x: unknown, text: () => string) => void;

const str = (v: Values, k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);

export async function onboardingCommand(what: string, verb: string | undefined, arg: string | undefined, v: Values, client: AdminClient, out: Out): Promise<number | undefined> {
  if (what === 'device-defaults') {
    if (verb === 'set') {
      const onboarding = required(str(v, 'onboarding'), '--onboarding');
      if (onboarding !== 'activation-code' && onboarding !== 'auto-registration') throw new UsageError('--onboarding must be activation-code or auto-registration');
      const r = await client.call<DeviceDefaultView>('POST', '/v1/device-defaults', { model: required(str(v, 'model'), '--model'), onboarding } satisfies DeviceDefaultRequest);
      out(r, () => `${r.model}: onboarding ${r.onboarding}`);
      return 0;
    }
    if (verb === 'list' || verb === undefined) {
      const list = await client.call<DeviceDefaultView[]>('GET', '/v1/device-defaults');
      out(list, () => (list.length ? list.map((d) => `${d.model.padEnd(8)} ${d.onboarding}`).join('\n') : 'every model: auto-registration'));
      return 0;
    }
    throw new UsageError('sepi cm device-defaults set --model M --onboarding activation-code|auto-registration | list');
  }
  if (what === 'user') {
    if (verb === 'add') {
      const body: AddUserRequest = {
        id: required(str(v, 'id'), '--id'), password: required(str(v, 'password'), '--password'),
        ...(str(v, 'pin') !== undefined ? { pin: str(v, 'pin')! } : {}), ...(str(v, 'name') !== undefined ? { name: str(v, 'name')! } : {}),
        ...(str(v, 'primary-dn') !== undefined ? { primaryDn: str(v, 'primary-dn')! } : {}),
      };
      const r = await client.call<UserView>('POST', '/v1/users', body);
      out(r, () => `added user ${r.id}`);
      return 0;
    }
    if (verb === 'list' || verb === undefined) {
      const list = await client.call<UserView[]>('GET', '/v1/users');
      out(list, () => list.map((u) => `${u.id.padEnd(16)} ${(u.admin ? 'admin' : 'user').padEnd(6)} ${u.primaryDn.padEnd(8)} ${u.phones.join(' ')}`).join('\n'));
      return 0;
    }
    throw new UsageError('sepi cm user add --id ID --password PW [--pin 1234] [--name TEXT] [--primary-dn DN] | list');
  }
  if (what === 'codes') {
    if (verb !== 'export') throw new UsageError('sepi cm codes export --csv');
    const r = await client.call<{ csv: string; count: number }>('GET', '/v1/codes');
    if (v['csv']) process.stdout.write(r.csv);
    else out(r, () => `${r.count} outstanding code(s); --csv prints them`);
    return 0;
  }
  if (what === 'phone' && verb === 'code') {
    const [action, name] = [arg, str(v, '_name')];
    const device = encodeURIComponent(required(name, 'NAME'));
    if (action === 'show') {
      const r = await client.call<CodeView>('GET', `/v1/phones/${device}/code`);
      out(r, () => `${r.deviceName}: ${r.code} (until ${r.expiresAt})`);
      return 0;
    }
    if (action === 'new' || action === 'release') {
      const r = await client.call<CodeView | { deviceName: string; released: boolean }>('POST', `/v1/phones/${device}/code`, { action });
      out(r, () => ('code' in r ? `${r.deviceName}: ${r.code} (until ${r.expiresAt})` : `${r.deviceName}: ${r.released ? 'code released' : 'had no code'}; it onboards without one now`));
      return 0;
    }
    throw new UsageError('sepi cm phone code new|release|show NAME');
  }
  if (what === 'trust' && verb === 'import-manufacturing') {
    if (!arg) throw new UsageError('sepi cm trust import-manufacturing CERT.pem');
    const r = await client.call<{ subject: string; sha256: string }>('POST', '/v1/trust/manufacturing', { pem: await readFile(arg, 'utf8') });
    out(r, () => `the Device Activation Service now accepts MICs from ${r.subject}`);
    return 0;
  }
  return undefined;
}
