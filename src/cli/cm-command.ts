/**
 * `sepi cm serve` runs the companion (cm-serve.ts, loaded only then: the client commands need
 * neither Fastify nor the services); every other `sepi cm` subcommand talks to the server that
 * owns --data through its admin API.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { AddPhoneRequest, CertificatePem, CertificateRequest, ImportAnswer, ImportCertificateRequest, PhoneView, ResetAnswer, ResetRequest, RollbackRequest, RollbackView, RotateAnswer, StatusView, TrustView } from '../cm/admin/contract.ts';
import { AdminClient, AdminClientError } from '../cm/admin-client.ts';
import { UsageError, parse, required } from './args.ts';
import { onboardingCommand } from './cm-onboarding-command.ts';
import { MPP_OPTIONS, mppCommand } from './cm-mpp-command.ts';
import { LOAD_OPTIONS, loadCommand, loadFlag, setPhoneLoad } from './cm-load-command.ts';
import { IVR_OPTIONS, TEMPLATE_OPTIONS, ivrCommand, normalizeSelfProvisioning, templateCommand } from './cm-ivr-command.ts';

export async function cmCommand(argv: string[]): Promise<number> {
  if (argv[0] === 'serve') return (await import('./cm-serve.ts')).serve(argv.slice(1));
  // `codes export --csv` is a switch where `bat insert --csv FILE` takes a file: one name, two kinds.
  const args = normalizeSelfProvisioning(argv.includes('codes') ? argv.map((a) => (a === '--csv' ? '--csv-out' : a)) : argv);
  const { values: v, positionals: p } = parse(args, {
    data: { type: 'string' }, mac: { type: 'string' }, model: { type: 'string' }, dn: { type: 'string' },
    description: { type: 'string' }, password: { type: 'string' }, restart: { type: 'boolean' }, json: { type: 'boolean' },
    roles: { type: 'string' }, note: { type: 'string' },
    install: { type: 'boolean' }, delete: { type: 'boolean' }, cancel: { type: 'boolean' }, auth: { type: 'string' }, 'auth-string': { type: 'string' },
    'key-size': { type: 'string' }, 'encrypted-config': { type: 'boolean' }, 'no-encrypted-config': { type: 'boolean' },
    'require-activation-code': { type: 'boolean' }, owner: { type: 'string' }, onboarding: { type: 'string' }, id: { type: 'string' },
    pin: { type: 'string' }, name: { type: 'string' }, 'primary-dn': { type: 'string' }, csv: { type: 'string' }, 'csv-out': { type: 'boolean' },
    template: { type: 'string' }, 'dummy-mac': { type: 'boolean' }, 'device-pool': { type: 'string' }, blank: { type: 'boolean' }, 'show-phones-ready-to-activate': { type: 'string' },
    ...MPP_OPTIONS, ...LOAD_OPTIONS, ...IVR_OPTIONS, ...TEMPLATE_OPTIONS,
  }, true);
  const data = resolve(required(v.data, '--data'));
  const client = new AdminClient(data);
  const out = (x: unknown, text: () => string) => process.stdout.write((v.json ? JSON.stringify(x, null, 2) : text()) + '\n');
  try {
    const [what, verb, arg] = p;
    const loads = what ? await loadCommand(what, verb, p, v, data, client, out) : undefined;
    if (loads !== undefined) return loads;
    const ivr = what ? await ivrCommand(what, verb, arg, v, client, out) : undefined;
    if (ivr !== undefined) return ivr;
    const templates = what ? await templateCommand(what, verb, arg, v, client, out) : undefined;
    if (templates !== undefined) return templates;
    const onboarding = what ? await onboardingCommand(what, verb, arg, { ...v, _name: p[3] }, client, out) : undefined;
    if (onboarding !== undefined) return onboarding;
    const mpp = what ? await mppCommand(what, verb, v, data, client, out) : undefined;
    if (mpp !== undefined) return mpp;
    if (what === 'status') {
      const s = await client.call<StatusView>('GET', '/v1/status');
      out(s, () => Object.entries(s).map(([k, val]) => `${k.padEnd(16)} ${typeof val === 'object' ? JSON.stringify(val) : String(val)}`).join('\n'));
      return 0;
    }
    if (what === 'phone') {
      switch (verb) {
        case 'add': {
          const needsCode = v['require-activation-code'] ?? false;
          const load = loadFlag(v);
          const body: AddPhoneRequest = {
            ...(needsCode && v.mac === undefined ? {} : { mac: required(v.mac, '--mac (or --require-activation-code for a BAT device)') }),
            model: v.model ?? '8841', dn: v.dn, description: v.description, password: v.password,
            ...(needsCode ? { requireActivationCode: true } : {}), ...(v.owner !== undefined ? { owner: v.owner } : {}),
          };
          const r = await client.call<PhoneView>('POST', '/v1/phones', body);
          out(r, () => `added ${r.deviceName} (${r.model}) DN ${r.dn}${r.activationCode ? `\nactivation code ${r.activationCode.code} (until ${r.activationCode.expiresAt}); shown once here, and to its owner in Self-Care` : ''}`);
          if (load) await setPhoneLoad(data, client, r.deviceName, load, out);
          return 0;
        }
        case 'list': {
          const list = await client.call<PhoneView[]>('GET', '/v1/phones');
          out(list, () => table(list));
          return 0;
        }
        case 'show': {
          const r = await client.call<PhoneView>('GET', `/v1/phones/${encodeURIComponent(arg ?? v.mac ?? '')}`);
          out(r, () => Object.entries(r).map(([k, val]) => `${k.padEnd(16)} ${typeof val === 'object' && val !== null ? JSON.stringify(val) : val ?? ''}`).join('\n'));
          return 0;
        }
        case 'rm': {
          await client.call('DELETE', `/v1/phones/${encodeURIComponent(arg ?? v.mac ?? '')}`);
          out({ removed: arg ?? v.mac }, () => `removed ${arg ?? v.mac}`);
          return 0;
        }
        case 'reset': {
          const r = await client.call<ResetAnswer>('POST', `/v1/phones/${encodeURIComponent(arg ?? v.mac ?? '')}/reset`, { action: v.restart ? 'restart' : 'reset' } satisfies ResetRequest);
          out(r, () => `${v.restart ? 'restart' : 'reset'} sent: ${r.detail}`);
          return 0;
        }
        case 'certificate': {
          const operation = v.install ? 'install' : v.delete ? 'delete' : v.cancel ? 'none' : undefined;
          const auth = v['auth-string'] !== undefined && v.auth === undefined ? 'string' : v.auth;
          if (auth !== undefined && auth !== 'string' && auth !== 'null-string' && auth !== 'lsc') throw new UsageError('--auth must be string, null-string or lsc');
          const keySize = v['key-size'] === undefined ? undefined : Number(v['key-size']);
          const body: CertificateRequest = {
            ...(operation ? { operation } : {}), ...(auth ? { auth } : {}), ...(v['auth-string'] !== undefined ? { authString: v['auth-string'] } : {}),
            ...(keySize !== undefined ? { keySize: keySize as CertificateRequest['keySize'] } : {}),
            ...(v['encrypted-config'] ? { encryptedConfig: true } : v['no-encrypted-config'] ? { encryptedConfig: false } : {}),
          };
          const r = await client.call<PhoneView>('POST', `/v1/phones/${encodeURIComponent(arg ?? v.mac ?? '')}/certificate`, body);
          const c = r.certificate;
          out(r, () => `${r.deviceName}: operation ${c.operation} (auth ${c.auth}, RSA ${c.keySize}), encrypted configuration ${c.encryptedConfig ? 'on' : 'off'}${c.encryptedNow ? ' (in effect)' : c.encryptedConfig ? ' (once the phone has an LSC)' : ''}${c.lsc ? `, LSC ${c.lsc.serial.slice(0, 16)}… until ${c.lsc.notAfter}` : ''}`);
          return 0;
        }
      }
      throw new UsageError('sepi cm phone add|set|list|show|rm|reset|certificate');
    }
    if (what === 'trust') {
      switch (verb) {
        case 'list':
        case undefined: {
          const t = await client.call<TrustView>('GET', '/v1/trust');
          out(t, () => [`mode ${t.mode}, digest ${t.digest}, rollback ${t.rollback ? 'on' : 'off'}`, ...t.certificates.map((c) => `${c.source.padEnd(8)} ${c.roles.join(',').padEnd(10)} ${c.subject}  sha256 ${c.sha256.slice(0, 16)}…  until ${c.notAfter.slice(0, 10)}`)].join('\n'));
          return 0;
        }
        case 'export': {
          const r = await client.call<CertificatePem>('GET', `/v1/trust/certificates/${encodeURIComponent(arg ?? '')}`);
          process.stdout.write(r.pem);
          return 0;
        }
        case 'import': {
          if (!arg) throw new UsageError('sepi cm trust import CERT.pem --roles SAST[,TFTP]');
          const pem = await readFile(arg, 'utf8');
          const r = await client.call<ImportAnswer>('POST', '/v1/trust/import', { pem, roles: required(v.roles, '--roles').split(','), note: v.note ?? arg } satisfies ImportCertificateRequest);
          out(r, () => `TVS now vouches for ${r.subject} as ${r.roles.join(',')}`);
          return 0;
        }
        case 'rotate-tftp': {
          const r = await client.call<RotateAnswer>('POST', '/v1/trust/rotate-tftp');
          out(r, () => `new TFTP certificate ${r.subject} sha256 ${r.sha256.slice(0, 16)}…; the next ITL carries it, signed by the same SAST`);
          return 0;
        }
        case 'rollback': {
          if (arg !== 'on' && arg !== 'off') throw new UsageError('sepi cm trust rollback on|off');
          const r = await client.call<RollbackView>('POST', '/v1/trust/rollback', { enabled: arg === 'on' } satisfies RollbackRequest);
          out(r, () => `rollback ${r.rollback ? 'on: phones get an empty ITL' : 'off'}`);
          return 0;
        }
      }
      throw new UsageError('sepi cm trust list|export ROLE|import FILE --roles R|rotate-tftp|rollback on|off');
    }
    throw new UsageError('sepi cm serve | status | phone … | trust … | edos … | profile … | load … | ivr … | udt … | ult … | user-profile … | autoregistration …');
  } catch (e) {
    if (e instanceof AdminClientError) {
      process.stderr.write(`sepi cm: ${e.message}\n`);
      return e.status === 404 ? 3 : 1;
    }
    throw e;
  }
}

function table(list: PhoneView[]): string {
  if (list.length === 0) return 'no phones';
  const rows = list.map((p) => [p.deviceName, p.model, p.dn, p.registered ? 'registered' : 'not registered', p.lease ?? '-', p.description]);
  const head = ['DEVICE', 'MODEL', 'DN', 'STATUS', 'LEASE', 'DESCRIPTION'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
