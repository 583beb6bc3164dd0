/**
 * The `sepi cm` subcommands of universal templates (docs/cli.md), over the admin API:
 *
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
import type { AdminClient } from '../cm/admin-client.ts';
import type { DeviceTemplate, LineTemplate } from '../cm/templates/store.ts';
import type { AutoRegistrationRequest, AutoRegistrationView, DeviceTemplateRequest, LineTemplateRequest, UserProfileRequest, UserProfileView } from '../cm/templates/operations.ts';
import { parseSpeedDials, type SpeedDial } from '../cm/templates/tokens.ts';
import { UsageError } from './args.ts';

export const TEMPLATE_OPTIONS = {
  'speed-dial': { type: 'string' }, 'display-name': { type: 'string' }, label: { type: 'string' }, 'external-mask': { type: 'string' },
  'device-template': { type: 'string' }, 'line-template': { type: 'string' }, profile: { type: 'string' },
} as const;

type Values = Record<string, string | boolean | undefined>;
type Out = (x: unknown, text: () => string) => void;

const str = (v: Values, k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
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
