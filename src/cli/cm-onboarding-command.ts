/**
 * The `sepi cm` subcommands of activation-code onboarding (docs/activation.md), over the admin
 * API like the rest of `sepi cm`:
 *
 *   device-defaults set --model 8841 --onboarding activation-code|auto-registration | list
 *   user add --id alice --password PW [--pin 1234] [--name TEXT] [--primary-dn DN] | list
 *   phone code new|release|show NAME
 *   codes export --csv
 *   audit
 *   enterprise [set --show-phones-ready-to-activate on|off]
 *   trust import-manufacturing CERT.pem
 *   template add NAME --model 8841 [--device-pool P] [--require-activation-code] [--owner ID] | list
 *   bat insert --csv FILE --template NAME [--dummy-mac]
 *   phone set-mac NAME MAC|--blank
 */
import { readFile } from 'node:fs/promises';
import type { AddUserRequest, AuditView, EnterpriseView, BatInsertAnswer, BatInsertRequest, CodeView, DeviceDefaultRequest, DeviceDefaultView, PhoneView, TemplateRequest, TemplateView, UserView } from '../cm/admin/contract.ts';
import type { AdminClient } from '../cm/admin-client.ts';
import { printable } from '../common/printable.ts';
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
  if (what === 'enterprise') {
    if (verb === 'set') {
      const flag = str(v, 'show-phones-ready-to-activate');
      if (flag !== 'on' && flag !== 'off') throw new UsageError('sepi cm enterprise set --show-phones-ready-to-activate on|off');
      const r = await client.call<EnterpriseView>('POST', '/v1/enterprise', { showPhonesReadyToActivate: flag === 'on' });
      out(r, () => `Show Phones Ready to Activate: ${r.showPhonesReadyToActivate ? 'on' : 'off'}`);
      return 0;
    }
    const r = await client.call<EnterpriseView>('GET', '/v1/enterprise');
    out(r, () => `Show Phones Ready to Activate: ${r.showPhonesReadyToActivate ? 'on' : 'off'}`);
    return 0;
  }
  if (what === 'audit') {
    const list = await client.call<AuditView[]>('GET', '/v1/audit');
    // Actors and sources come from peers (a user id typed at a sign-in form): printed as text, never as terminal controls.
    out(list, () => list.map((e) => printable(`${e.at}  ${e.actor.padEnd(22)} ${e.action.padEnd(18)} ${e.device.padEnd(15)} ${e.source.padEnd(15)} ${e.result}`)).join('\n'));
    return 0;
  }
  if (what === 'codes') {
    if (verb !== 'export') throw new UsageError('sepi cm codes export --csv');
    const r = await client.call<{ csv: string; count: number }>('GET', '/v1/codes');
    if (v['csv-out']) process.stdout.write(r.csv);
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
  if (what === 'template') {
    if (verb === 'add') {
      const body: TemplateRequest = {
        name: required(arg, 'NAME'), model: required(str(v, 'model'), '--model'), ...(str(v, 'device-pool') ? { devicePool: str(v, 'device-pool')! } : {}),
        ...(v['require-activation-code'] ? { requireActivationCode: true } : {}), ...(str(v, 'owner') ? { owner: str(v, 'owner')! } : {}),
      };
      const r = await client.call<TemplateView>('POST', '/v1/templates', body);
      out(r, () => `template ${r.name}: ${r.model}, pool ${r.devicePool}${r.requireActivationCode ? ', activation code required' : ''}`);
      return 0;
    }
    if (verb === 'list' || verb === undefined) {
      const list = await client.call<TemplateView[]>('GET', '/v1/templates');
      out(list, () => list.map((t) => `${t.name.padEnd(20)} ${t.model.padEnd(8)} ${t.devicePool.padEnd(12)} ${t.requireActivationCode ? 'activation code' : ''}`).join('\n'));
      return 0;
    }
    throw new UsageError('sepi cm template add NAME --model M [--device-pool P] [--require-activation-code] [--owner ID] | list');
  }
  if (what === 'bat') {
    if (verb !== 'insert') throw new UsageError('sepi cm bat insert --csv FILE --template NAME [--dummy-mac]');
    const csvFile = required(str(v, 'csv'), '--csv FILE');
    const body: BatInsertRequest = { csv: await readFile(csvFile, 'utf8'), template: required(str(v, 'template'), '--template'), ...(v['dummy-mac'] ? { dummyMac: true } : {}) };
    const r = await client.call<BatInsertAnswer>('POST', '/v1/bat/insert', body);
    out(r, () => [`inserted ${r.count} phone(s)`, ...r.phones.map((p) => `${p.deviceName}  DN ${p.dn}${p.activationCode ? `  code ${p.activationCode}` : ''}`)].join('\n'));
    return 0;
  }
  if (what === 'phone' && verb === 'set-mac') {
    const name = required(arg, 'NAME');
    const mac = v['blank'] ? null : required(str(v, '_name'), 'MAC (or --blank)');
    const r = await client.call<PhoneView>('POST', `/v1/phones/${encodeURIComponent(name)}/mac`, { mac });
    out(r, () => `${name} is now ${r.deviceName}${r.mac ? '' : ' (no MAC: its code, if any, is good for any phone of its model)'}`);
    return 0;
  }
  if (what === 'trust' && verb === 'import-manufacturing') {
    if (!arg) throw new UsageError('sepi cm trust import-manufacturing CERT.pem');
    const r = await client.call<{ subject: string; sha256: string }>('POST', '/v1/trust/manufacturing', { pem: await readFile(arg, 'utf8') });
    out(r, () => `the Device Activation Service now accepts MICs from ${r.subject}`);
    return 0;
  }
  return undefined;
}
