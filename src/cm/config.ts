/**
 * The companion's configuration: one JSON file (docs/companion.md), every field optional.
 * Without a file, everything is derived from the serving interface's first IPv4 address:
 * DHCP pool .100–.199 of its subnet (clipped to the subnet), options 150 and 66 pointing at
 * itself, one call manager (itself), autoregistration on with DNs 2000–2999, an ITL with every
 * file also served signed (.sgn) and a TVS on 2445.
 */
import { execFileSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { intToIpv4, ipv4ToInt, isIpv4, maskToPrefix, prefixToMask } from '../wire/ipv4.ts';
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
  sip: { enabled: boolean; port: number; expires: number; listen: string };
  callManagers: Array<{ host: string; sipPort: number; priority: number }>;
  autoRegistration: { enabled: boolean; dnFirst: string; dnLast: string };
  /** Serve XMLDefault.cnf.xml / SEPDEFAULT.cnf to phones without their own file. */
  serveDefaultConfig: boolean;
  /**
   * Trust: `none` serves no trust lists and plain files; `itl` (default, like CUCM's Security by
   * Default) serves an ITL and every file also as .sgn; `mixed` adds a CTL.
   */
  security: { mode: 'none' | 'itl' | 'mixed'; digest: Digest; tvsPort: number; tvsTtlSecs: number };
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

type Json = Record<string, unknown>;
const obj = (v: unknown, where: string): Json => {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${where} must be an object`);
  return v as Json;
};
const pick = <T>(o: Json, key: string, where: string, type: 'string' | 'number' | 'boolean', fallback: T): T => {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== type) throw new ConfigError(`${where}.${key} must be a ${type}`);
  return v as T;
};
const ip = (s: string, where: string): string => {
  if (!isIpv4(s)) throw new ConfigError(`${where} "${s}" is not an IPv4 address`);
  return s;
};
const port = (n: number, where: string): number => {
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ConfigError(`${where} ${n} is not a port number`);
  return n;
};

export function buildConfig(raw: unknown, iface: { address: string; prefix: number }): CompanionConfig {
  const r = obj(raw, 'config');
  const address = ip(pick(r, 'address', 'config', 'string', iface.address), 'address');
  const prefix = pick(r, 'prefix', 'config', 'number', iface.prefix);
  const mask = ipv4ToInt(prefixToMask(prefix));
  const net = ipv4ToInt(address) & mask;
  const bcast = (net | (~mask >>> 0)) >>> 0;
  const clip = (n: number) => intToIpv4(Math.min(Math.max(n, net + 1), bcast - 1) >>> 0);
  const d = obj(r['dhcp'], 'dhcp');
  const dhcp = {
    enabled: pick(d, 'enabled', 'dhcp', 'boolean', true),
    poolFirst: ip(pick(d, 'poolFirst', 'dhcp', 'string', clip(net + 100)), 'dhcp.poolFirst'),
    poolLast: ip(pick(d, 'poolLast', 'dhcp', 'string', clip(net + 199)), 'dhcp.poolLast'),
    leaseSecs: pick(d, 'leaseSecs', 'dhcp', 'number', 3600),
    router: ip(pick(d, 'router', 'dhcp', 'string', address), 'dhcp.router'),
    dns: (Array.isArray(d['dns']) ? (d['dns'] as unknown[]) : [address]).map((x, i) => ip(String(x), `dhcp.dns[${i}]`)),
    option150: (Array.isArray(d['option150']) ? (d['option150'] as unknown[]) : [address]).map((x, i) => ip(String(x), `dhcp.option150[${i}]`)),
    option66: pick(d, 'option66', 'dhcp', 'string', address),
    domain: pick(d, 'domain', 'dhcp', 'string', ''),
  };
  if (ipv4ToInt(dhcp.poolFirst) > ipv4ToInt(dhcp.poolLast)) throw new ConfigError('dhcp.poolFirst is after dhcp.poolLast');
  if (dhcp.leaseSecs < 60) throw new ConfigError('dhcp.leaseSecs must be at least 60');
  const t = obj(r['tftp'], 'tftp');
  const h = obj(r['http'], 'http');
  const s = obj(r['sip'], 'sip');
  const sip = {
    enabled: pick(s, 'enabled', 'sip', 'boolean', true),
    port: port(pick(s, 'port', 'sip', 'number', 5060), 'sip.port'),
    expires: pick(s, 'expires', 'sip', 'number', 120),
    listen: ip(pick(s, 'listen', 'sip', 'string', address), 'sip.listen'),
  };
  if (sip.expires < 2) throw new ConfigError('sip.expires must be at least 2 seconds');
  const cms = Array.isArray(r['callManagers']) ? (r['callManagers'] as unknown[]) : [{ host: address, sipPort: sip.port, priority: 0 }];
  const callManagers = cms.map((c, i) => {
    const o = obj(c, `callManagers[${i}]`);
    const host = pick(o, 'host', `callManagers[${i}]`, 'string', '');
    if (!host) throw new ConfigError(`callManagers[${i}].host is missing`);
    return { host, sipPort: port(pick(o, 'sipPort', `callManagers[${i}]`, 'number', 5060), `callManagers[${i}].sipPort`), priority: pick(o, 'priority', `callManagers[${i}]`, 'number', i) };
  });
  if (callManagers.length === 0 || callManagers.length > 3) throw new ConfigError('callManagers needs 1 to 3 members (a CUCM group holds at most 3)');
  const a = obj(r['autoRegistration'], 'autoRegistration');
  const range = Array.isArray(a['dnRange']) ? (a['dnRange'] as unknown[]).map(String) : ['2000', '2999'];
  if (range.length !== 2 || !range.every((x) => /^\d{1,15}$/.test(x)) || Number(range[0]) > Number(range[1])) throw new ConfigError('autoRegistration.dnRange must be ["first", "last"] digit strings');
  const sec = obj(r['security'], 'security');
  const mode = pick<string>(sec, 'mode', 'security', 'string', 'itl');
  if (mode !== 'none' && mode !== 'itl' && mode !== 'mixed') throw new ConfigError('security.mode must be none, itl or mixed');
  const digest = pick<string>(sec, 'digest', 'security', 'string', 'sha1');
  if (digest !== 'sha1' && digest !== 'sha256' && digest !== 'sha512') throw new ConfigError('security.digest must be sha1, sha256 or sha512');
  const security = { mode, digest, tvsPort: port(pick(sec, 'tvsPort', 'security', 'number', 2445), 'security.tvsPort'), tvsTtlSecs: pick(sec, 'tvsTtlSecs', 'security', 'number', 86400) } as CompanionConfig['security'];
  const loads = obj(r['loadInformation'], 'loadInformation');
  for (const [k, v] of Object.entries(loads)) if (!/^\d{1,6}$/.test(k) || typeof v !== 'string') throw new ConfigError(`loadInformation.${k} must map a device-type code to a load name`);
  const phones = (Array.isArray(r['phones']) ? (r['phones'] as unknown[]) : []).map((p, i) => {
    const o = obj(p, `phones[${i}]`);
    const mac = MacAddress.parse(String(o['mac'] ?? ''));
    if (!mac) throw new ConfigError(`phones[${i}].mac is not a MAC address`);
    const model = String(o['model'] ?? '8841');
    if (!modelByName(model)) throw new ConfigError(`phones[${i}].model ${model} is not a known model`);
    return { mac: mac.hex, model, dn: o['dn'] === undefined ? undefined : String(o['dn']), description: String(o['description'] ?? ''), password: String(o['password'] ?? '') } as SeedPhone;
  });
  return {
    address, prefix, dhcp,
    tftp: { enabled: pick(t, 'enabled', 'tftp', 'boolean', true), port: port(pick(t, 'port', 'tftp', 'number', 69), 'tftp.port') },
    http: { enabled: pick(h, 'enabled', 'http', 'boolean', true), port: port(pick(h, 'port', 'http', 'number', 6970), 'http.port') },
    sip, callManagers,
    autoRegistration: { enabled: pick(a, 'enabled', 'autoRegistration', 'boolean', true), dnFirst: range[0]!, dnLast: range[1]! },
    serveDefaultConfig: pick(r, 'serveDefaultConfig', 'config', 'boolean', true),
    security,
    loadInformation: loads as Record<string, string>,
    phones,
  };
}
