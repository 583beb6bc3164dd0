/**
 * The companion's configuration: one JSON file (docs/companion.md), every field optional.
 * Without a file, everything is derived from the serving interface's first IPv4 address:
 * DHCP pool .100–.199 of its subnet (clipped to the subnet), options 150 and 66 pointing at
 * itself, one call manager (itself), autoregistration on with DNs 2000–2999, an ITL with every
 * file also served signed (.sgn) and a TVS on 2445.
 *
 * The file is checked in two steps: a zod schema for what may be written (types, formats, no
 * unknown fields), then the defaults, some derived from the address. Every error names its
 * field, the way the file spells it (`dhcp.dns[1] "x" is not an IPv4 address`).
 *
 * Port 0 (http, tftp, sip, security.tvsPort) lets the kernel choose, for a companion run inside
 * another program; the files it serves then carry the ports it got (companion.ts).
 */
import { execFileSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { z } from 'zod';
import { intToIpv4, ipv4ToInt, isIpv4, maskToPrefix, prefixToMask } from '../wire/ipv4.ts';
import { join } from 'node:path';
import { CA_CERT_FILE, defaultFactoryDir } from '../factory/factory-files.ts';
import { MacAddress } from '../wire/mac.ts';
import { modelByName } from '../wire/models.ts';
import type { Digest } from '../wire/tlv.ts';

export interface SeedPhone {
  mac: string;
  model: string;
  dn?: string;
  description?: string;
  password?: string;
}

export interface CompanionConfig {
  address: string;
  prefix: number;
  dhcp: { enabled: boolean; poolFirst: string; poolLast: string; leaseSecs: number; router: string; dns: string[]; option150: string[]; option66: string; domain: string };
  tftp: { enabled: boolean; port: number };
  http: { enabled: boolean; port: number };
  sip: {
    enabled: boolean; port: number; expires: number; listen: string;
    /** Open TCP connections at most; more are refused (docs/security.md). */
    maxConnections: number;
    /** Connections from one address that have not registered a device yet, at most. */
    maxUnregisteredPerAddress: number;
    /** A connection that registers nothing within this is closed. */
    unregisteredIdleSecs: number;
    /** A connection silent for this long is closed (phones refresh well within it). */
    idleSecs: number;
    /** Calls one device may be in at once (calling or called); past it a new call gets 486 Busy Here. */
    maxCallsPerDevice: number;
  };
  callManagers: Array<{ host: string; sipPort: number; priority: number }>;
  autoRegistration: {
    enabled: boolean; dnFirst: string; dnLast: string;
    /** New phones one address may autoregister at once, then `perAddressPerMinute`. */
    perAddressBurst: number;
    perAddressPerMinute: number;
    /** An autoregistered phone that never registers on its own file is removed after this. */
    abandonAfterSecs: number;
  };
  /** Serve XMLDefault.cnf.xml / SEPDEFAULT.cnf to phones without their own file. */
  serveDefaultConfig: boolean;
  /**
   * Trust: `none` serves no trust lists and plain files; `itl` (default, like CUCM's Security by
   * Default) serves an ITL and every file also as .sgn; `mixed` adds a CTL.
   */
  security: { mode: 'none' | 'itl' | 'mixed'; digest: Digest; tvsPort: number; tvsTtlSecs: number; capfPort: number };
  /**
   * Activation-code onboarding (docs/activation.md): the Device Activation Service's HTTPS port,
   * how long a code lives (Unified CM's Activation Time to Live), and the manufacturing CA
   * certificates it trusts for phones' MICs besides the imported ones (a missing file is skipped:
   * by default the lab factory's on this machine, if there is one).
   */
  activation: { port: number; ttlHours: number; manufacturingCaFiles: string[] };
  /** The web pages (administration, Self-Care) over HTTPS; off with security `none` (no certificate). */
  web: { enabled: boolean; port: number };
  /**
   * The EDOS stand-in for Multiplatform phones (docs/protocols/edos.md): HTTPS with mutual TLS,
   * its certificate issued by the lab factory in `factory` (made there when missing). Off unless
   * the file has an `edos` section.
   */
  edos: { enabled: boolean; port: number; factory: string };
  /** Flat profiles for Multiplatform phones on HTTP 6970 under /mpp/ (docs/protocols/edos.md §7). */
  mpp: { resyncPeriodicSecs: number };
  /** Device-type code -> load name, for loadInformationNNN in the default file. */
  loadInformation: Record<string, string>;
  phones: SeedPhone[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * The first IPv4 address of an interface. Asked of iproute2 first: Node's networkInterfaces()
 * leaves out interfaces without carrier, and a companion may well start before its cable (or
 * its bridge's first port) is plugged in.
 */
export function interfaceAddress(iface: string): { address: string; prefix: number } {
  try {
    const out = execFileSync('ip', ['-j', '-4', 'addr', 'show', 'dev', iface], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const info = (JSON.parse(out) as Array<{ addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>)[0];
    if (!info) throw new ConfigError(`interface ${iface} does not exist`);
    const v4 = info.addr_info?.find((a) => a.family === 'inet');
    if (!v4) throw new ConfigError(`interface ${iface} has no IPv4 address`);
    return { address: v4.local, prefix: v4.prefixlen };
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    if ((e as { status?: number }).status !== undefined) throw new ConfigError(`interface ${iface} does not exist`);
  }
  const list = networkInterfaces()[iface];
  if (!list) throw new ConfigError(`interface ${iface} does not exist or is down`);
  const v4 = list.find((a) => a.family === 'IPv4');
  if (!v4) throw new ConfigError(`interface ${iface} has no IPv4 address`);
  return { address: v4.address, prefix: maskToPrefix(v4.netmask) };
}

// ---- what the file may say ------------------------------------------------------------------

const ipv4 = z.string().refine(isIpv4, { error: (iss) => `"${String(iss.input)}" is not an IPv4 address` });
/** A port to listen on: 0 lets the kernel choose. */
const listenPort = z.number().refine((n) => Number.isInteger(n) && n >= 0 && n <= 65535, { error: (iss) => `${String(iss.input)} is not a port number` });
/** A port to reach someone else on. */
const peerPort = z.number().refine((n) => Number.isInteger(n) && n >= 1 && n <= 65535, { error: (iss) => `${String(iss.input)} is not a port number` });
const digits = z.union([z.string(), z.number()]).transform(String);

const ConfigFile = z.strictObject({
  address: ipv4.optional(),
  prefix: z.number().int({ error: 'must be 0 to 32' }).min(0, { error: 'must be 0 to 32' }).max(32, { error: 'must be 0 to 32' }).optional(),
  dhcp: z.strictObject({
    enabled: z.boolean().optional(),
    poolFirst: ipv4.optional(),
    poolLast: ipv4.optional(),
    leaseSecs: z.number().min(60, { error: 'must be at least 60' }).optional(),
    router: ipv4.optional(),
    dns: z.array(ipv4).optional(),
    option150: z.array(ipv4).optional(),
    option66: z.string().optional(),
    domain: z.string().optional(),
  }).optional(),
  tftp: z.strictObject({ enabled: z.boolean().optional(), port: listenPort.optional() }).optional(),
  http: z.strictObject({ enabled: z.boolean().optional(), port: listenPort.optional() }).optional(),
  sip: z.strictObject({
    enabled: z.boolean().optional(),
    port: listenPort.optional(),
    expires: z.number().min(2, { error: 'must be at least 2 seconds' }).optional(),
    listen: ipv4.optional(),
    maxConnections: z.int().min(1).optional(),
    maxUnregisteredPerAddress: z.int().min(1).optional(),
    unregisteredIdleSecs: z.number().min(1).optional(),
    idleSecs: z.number().min(10).optional(),
    // A line in a load test (SIPp as one device) can carry thousands of calls; the cap is memory, about 2 KiB a call.
    maxCallsPerDevice: z.int().min(1).max(100_000).optional(),
  }).optional(),
  callManagers: z
    .array(z.strictObject({ host: z.string().min(1, { error: 'is missing' }), sipPort: peerPort.optional(), priority: z.number().optional() }))
    .min(1, { error: 'needs 1 to 3 members (a CUCM group holds at most 3)' })
    .max(3, { error: 'needs 1 to 3 members (a CUCM group holds at most 3)' })
    .optional(),
  autoRegistration: z.strictObject({
    enabled: z.boolean().optional(),
    dnRange: z
      .array(digits)
      .refine((r) => r.length === 2 && r.every((x) => /^\d{1,15}$/.test(x)) && Number(r[0]) <= Number(r[1]), { error: 'must be ["first", "last"] digit strings' })
      .optional(),
    perAddressBurst: z.int().min(1).optional(),
    perAddressPerMinute: z.number().positive().optional(),
    abandonAfterSecs: z.number().min(10).optional(),
  }).optional(),
  serveDefaultConfig: z.boolean().optional(),
  security: z.strictObject({
    mode: z.enum(['none', 'itl', 'mixed'], { error: 'must be none, itl or mixed' }).optional(),
    digest: z.enum(['sha1', 'sha256', 'sha512'], { error: 'must be sha1, sha256 or sha512' }).optional(),
    tvsPort: listenPort.optional(),
    tvsTtlSecs: z.number().optional(),
    capfPort: listenPort.optional(),
  }).optional(),
  web: z.strictObject({ enabled: z.boolean().optional(), port: listenPort.optional() }).optional(),
  edos: z.strictObject({ enabled: z.boolean().optional(), port: listenPort.optional(), factory: z.string().min(1, { error: 'is empty' }).optional() }).optional(),
  mpp: z.strictObject({ resyncPeriodicSecs: z.int({ error: 'must be a whole number of seconds' }).min(0, { error: 'must be 0 (off) or more seconds' }).optional() }).optional(),
  activation: z.strictObject({
    port: listenPort.optional(),
    ttlHours: z.number().positive().max(24 * 365).optional(),
    manufacturingCaFiles: z.array(z.string().min(1)).optional(),
  }).optional(),
  loadInformation: z.record(z.string(), z.unknown()).superRefine((loads, ctx) => {
    for (const [code, load] of Object.entries(loads)) {
      if (!/^\d{1,6}$/.test(code) || typeof load !== 'string') ctx.addIssue({ code: 'custom', path: [code], message: 'must map a device-type code to a load name' });
    }
  }).optional(),
  phones: z.array(z.strictObject({
    mac: z.string().refine((m) => MacAddress.parse(m) !== undefined, { error: 'is not a MAC address' }),
    model: z.string().refine((m) => modelByName(m) !== undefined, { error: (iss) => `${String(iss.input)} is not a known model` }).optional(),
    dn: digits.optional(),
    description: z.string().optional(),
    password: z.string().optional(),
  })).optional(),
});

type ConfigFile = z.infer<typeof ConfigFile>;

/** `callManagers[0].host`, `dhcp.dns[1]`: the field as the file spells it. */
function fieldName(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || 'config';
}

const article = (type: string) => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);

/** The first problem, in words that name the field. */
function describe(issue: z.core.$ZodIssue): string {
  const field = fieldName(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return `${fieldName([...issue.path, issue.keys[0]!])} is not a known field`;
    case 'invalid_type':
      return issue.input === undefined ? `${field} is missing` : `${field} must be ${article(issue.expected === 'record' ? 'object' : issue.expected)}`;
    case 'invalid_union':
      return `${field} must be a string`;
    default:
      return `${field} ${issue.message}`;
  }
}

// ---- defaults ---------------------------------------------------------------------------------

export function buildConfig(raw: unknown, iface: { address: string; prefix: number }): CompanionConfig {
  const parsed = ConfigFile.safeParse(raw ?? {}, { reportInput: true });
  if (!parsed.success) throw new ConfigError(describe(parsed.error.issues[0]!));
  const r: ConfigFile = parsed.data;
  const address = r.address ?? iface.address;
  const prefix = r.prefix ?? iface.prefix;
  const mask = ipv4ToInt(prefixToMask(prefix));
  // Unsigned: `&` gives a negative number from 128.0.0.0 up, and the clipping below would not clip.
  const net = (ipv4ToInt(address) & mask) >>> 0;
  const bcast = (net | (~mask >>> 0)) >>> 0;
  const clip = (n: number) => intToIpv4(Math.min(Math.max(n, net + 1), bcast - 1) >>> 0);
  const d = r.dhcp ?? {};
  const dhcp = {
    enabled: d.enabled ?? true,
    poolFirst: d.poolFirst ?? clip(net + 100),
    poolLast: d.poolLast ?? clip(net + 199),
    leaseSecs: d.leaseSecs ?? 3600,
    router: d.router ?? address,
    dns: d.dns ?? [address],
    option150: d.option150 ?? [address],
    option66: d.option66 ?? address,
    domain: d.domain ?? '',
  };
  if (ipv4ToInt(dhcp.poolFirst) > ipv4ToInt(dhcp.poolLast)) throw new ConfigError('dhcp.poolFirst is after dhcp.poolLast');
  const s = r.sip ?? {};
  const expires = s.expires ?? 120;
  const sip = {
    enabled: s.enabled ?? true, port: s.port ?? 5060, expires, listen: s.listen ?? address,
    maxConnections: s.maxConnections ?? 20_000,
    maxUnregisteredPerAddress: s.maxUnregisteredPerAddress ?? 512,
    unregisteredIdleSecs: s.unregisteredIdleSecs ?? 30,
    // Two refresh periods (or keep-alive periods to a backup, 120 s on Cisco phones) and slack.
    idleSecs: s.idleSecs ?? 2 * Math.max(expires, 120) + 30,
    maxCallsPerDevice: s.maxCallsPerDevice ?? 8,
  };
  // The default member is this companion; with sip.port 0 its port is known only once bound.
  const callManagers = r.callManagers?.map((c, i) => ({ host: c.host, sipPort: c.sipPort ?? 5060, priority: c.priority ?? i })) ?? [{ host: address, sipPort: sip.port, priority: 0 }];
  const range = r.autoRegistration?.dnRange ?? ['2000', '2999'];
  const sec = r.security ?? {};
  return {
    address, prefix, dhcp,
    tftp: { enabled: r.tftp?.enabled ?? true, port: r.tftp?.port ?? 69 },
    http: { enabled: r.http?.enabled ?? true, port: r.http?.port ?? 6970 },
    sip, callManagers,
    autoRegistration: {
      enabled: r.autoRegistration?.enabled ?? true, dnFirst: range[0]!, dnLast: range[1]!,
      perAddressBurst: r.autoRegistration?.perAddressBurst ?? 200,
      perAddressPerMinute: r.autoRegistration?.perAddressPerMinute ?? 60,
      abandonAfterSecs: r.autoRegistration?.abandonAfterSecs ?? 300,
    },
    serveDefaultConfig: r.serveDefaultConfig ?? true,
    security: { mode: sec.mode ?? 'itl', digest: sec.digest ?? 'sha1', tvsPort: sec.tvsPort ?? 2445, tvsTtlSecs: sec.tvsTtlSecs ?? 86400, capfPort: sec.capfPort ?? 3804 },
    web: { enabled: r.web?.enabled ?? true, port: r.web?.port ?? 8443 },
    // On when configured: 443 needs privileges, and a companion in a test harness has none.
    edos: { enabled: r.edos ? (r.edos.enabled ?? true) : false, port: r.edos?.port ?? 443, factory: r.edos?.factory ?? defaultFactoryDir() },
    mpp: { resyncPeriodicSecs: r.mpp?.resyncPeriodicSecs ?? 3600 },
    activation: {
      port: r.activation?.port ?? 6971,
      ttlHours: r.activation?.ttlHours ?? 168,
      manufacturingCaFiles: r.activation?.manufacturingCaFiles ?? [join(defaultFactoryDir(), CA_CERT_FILE)],
    },
    loadInformation: (r.loadInformation ?? {}) as Record<string, string>,
    phones: (r.phones ?? []).map((p) => ({ mac: MacAddress.parse(p.mac)!.hex, model: p.model ?? '8841', dn: p.dn, description: p.description ?? '', password: p.password ?? '' })),
  };
}

/**
 * A companion run inside another program (a test harness): loopback, no DHCP (port 67 and
 * broadcasts need root), every port chosen by the kernel. `raw` overrides section by section.
 */
export function loopbackConfig(raw: Record<string, unknown> = {}): CompanionConfig {
  const section = (name: string, base: Record<string, unknown>) => ({ ...base, ...(raw[name] as Record<string, unknown> | undefined) });
  return buildConfig(
    {
      ...raw,
      address: raw['address'] ?? '127.0.0.1',
      prefix: raw['prefix'] ?? 8,
      dhcp: section('dhcp', { enabled: false }),
      tftp: section('tftp', { port: 0 }),
      http: section('http', { port: 0 }),
      sip: section('sip', { port: 0 }),
      security: section('security', { tvsPort: 0, capfPort: 0 }),
      activation: section('activation', { port: 0 }),
      web: section('web', { port: 0 }),
      ...(raw['edos'] ? { edos: section('edos', { port: 0 }) } : {}),
    },
    { address: '127.0.0.1', prefix: 8 },
  );
}
