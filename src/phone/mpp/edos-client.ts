/**
 * The phone's side of EMU-EDOS/1 (docs/protocols/edos.md): one HTTPS GET to the EDOS server
 * with the phone's identity in the query, its factory client certificate shown, the server's
 * certificate checked against the phone's built-in roots (the lab factory's CA standing in for
 * Cisco's) and against the host name. The answer is a provider's profile (a redirect), an empty
 * 200 (no provider), or an error the flow retries.
 */
import { type FlatProfile, parseFlatProfile } from '../../wire/flat-profile.ts';
import { isIpv4 } from '../../wire/ipv4.ts';
import type { NetworkPort } from '../ports.ts';
import type { MppIdentity } from './identity.ts';

/** The documented host; resolved through the DNS servers DHCP gave. */
export const DEFAULT_EDOS_URL = 'https://activate.cisco.com/edos/v1/rc';
const TIMEOUT_MS = 15_000;
const MAX_BYTES = 256 * 1024;

export type EdosAnswer =
  | { kind: 'profile'; profile: FlatProfile }
  | { kind: 'empty' }
  | { kind: 'error'; reason: string; status?: number };

export interface EdosDeps {
  network: NetworkPort;
  dns: readonly string[];
  localAddress: string | undefined;
  /** The phone's built-in roots, PEM. */
  roots: string[];
  clientCert: string;
  clientKey: string;
}

/** The request URL: the server's base and the phone's identity (never anything secret). */
export function edosRequestUrl(base: string, id: MppIdentity): string {
  const u = new URL(base);
  u.searchParams.set('mac', id.mac.hex.toLowerCase());
  u.searchParams.set('pn', id.productName);
  u.searchParams.set('psn', id.productSeries);
  u.searchParams.set('sn', id.serial);
  u.searchParams.set('fw', id.softwareVersion);
  return u.toString();
}

export async function askEdos(d: EdosDeps, base: string, id: MppIdentity, signal: AbortSignal): Promise<EdosAnswer> {
  let u: URL;
  try {
    u = new URL(edosRequestUrl(base, id));
  } catch {
    return { kind: 'error', reason: `EDOS URL ${base} is not a URL` };
  }
  if (u.protocol !== 'https:') return { kind: 'error', reason: `EDOS URL ${base} is not https` };
  const host = u.hostname;
  let address = host;
  if (!isIpv4(host)) {
    try {
      const [a] = await d.network.resolve4(host, d.dns);
      if (!a) throw new Error('no address');
      address = a;
    } catch (e) {
      return { kind: 'error', reason: `${host} not resolved: ${(e as Error).message}` };
    }
  }
  const port = u.port || '443';
  const r = await d.network.httpGet(`https://${address}:${port}${u.pathname}${u.search}`, {
    timeoutMs: TIMEOUT_MS, maxBytes: MAX_BYTES, signal, userAgent: id.userAgent,
    ...(d.localAddress ? { localAddress: d.localAddress } : {}),
    tls: { ca: d.roots, cert: d.clientCert, key: d.clientKey, ...(isIpv4(host) ? {} : { servername: host }) },
  });
  if (r.kind === 'error') return { kind: 'error', reason: r.message };
  if (r.status !== 200) return { kind: 'error', reason: `HTTP ${r.status}`, status: r.status };
  // "An empty provisioning file and the HTTP response was 200 OK": no provider for this phone.
  if (r.body.toString('utf8').trim() === '') return { kind: 'empty' };
  const p = parseFlatProfile(r.body);
  if (!p.ok) return { kind: 'error', reason: `EDOS answer unreadable: ${p.error.message}` };
  if (p.value.params.size === 0) return { kind: 'empty' };
  return { kind: 'profile', profile: p.value };
}
