/**
 * Downloads one profile URL the way a Multiplatform phone does (reference onboarding-protocol.md
 * §3.1, "HTTP status handling on resync"): 301/302 are followed at once (a few times at most),
 * credentials go with the request when the rule names them (`--uid`/`--pwd`), 404 is "not found"
 * and any other status an error, both retried later by the caller. TFTP comes from the server
 * the URL (or DHCP option 66) names. Host names resolve through the DNS servers DHCP gave, and
 * https checks the server's certificate against the phone's built-in roots and its name.
 *
 * A rule's `--srv` option (DNS SRV provisioning, reference §3.1) names a domain, not a server:
 * the phone asks for `_ciscoprov-https._tls.<host>` (https) or `_ciscoprov-http._tcp.<host>`
 * (http) and tries the targets in RFC 2782's order, each at its own port, going on to the next
 * only when one cannot be reached; TFTP is not allowed with it.
 */
import type { Clock } from '../../common/clock.ts';
import type { NetworkPort } from '../ports.ts';
import { type TftpRequestOptions, tftpGet } from '../tftp-client.ts';
import type { RuleScheme } from '../../wire/profile-rule.ts';
import { isIpv4 } from '../../wire/ipv4.ts';
import { randomInt } from 'node:crypto';
import { orderSrv } from '../../common/srv-order.ts';

const MAX_REDIRECTS = 5;
const HTTP_TIMEOUT_MS = 10_000;

export interface ProfileTarget {
  scheme: RuleScheme;
  host: string;
  port: number;
  /** Path and query, starting with `/`. */
  path: string;
}

export interface ProfileFetchDeps {
  network: NetworkPort;
  clock: Clock;
  dns: readonly string[];
  localAddress: string | undefined;
  userAgent: string;
  tftpRequest: TftpRequestOptions;
  maxBytes: number;
  /** The phone's built-in roots (PEM) and its client certificate, for https. */
  tls: { ca: string[]; cert?: string; key?: string };
}

export type ProfileFetch =
  /** `server`: the SRV target (host:port) that served it, for a `--srv` rule. */
  | { kind: 'ok'; bytes: Buffer; via: RuleScheme; server?: string }
  /** `notFound`: 404 or TFTP "File not found" (Resync_Fails_On_FNF decides whether it is a failure). */
  | { kind: 'error'; reason: string; status?: number; notFound: boolean };

export const targetUrl = (t: ProfileTarget): string => `${t.scheme}://${t.host}${t.port === { tftp: 69, http: 80, https: 443 }[t.scheme] ? '' : `:${t.port}`}${t.path}`;

async function resolve(d: ProfileFetchDeps, host: string): Promise<string> {
  if (isIpv4(host)) return host;
  const [address] = await d.network.resolve4(host, d.dns);
  if (!address) throw new Error(`${host}: no address`);
  return address;
}

/** The SRV name of a provisioning domain for a scheme (reference §3.1). */
export const provisioningSrvName = (scheme: 'http' | 'https', domain: string): string => (scheme === 'https' ? `_ciscoprov-https._tls.${domain}` : `_ciscoprov-http._tcp.${domain}`);

export async function fetchProfile(d: ProfileFetchDeps, target: ProfileTarget, auth: { uid?: string; pwd?: string; srv?: boolean }, signal: AbortSignal): Promise<ProfileFetch> {
  if (!auth.srv || isIpv4(target.host)) return fetchFrom(d, target, auth, signal);
  if (target.scheme === 'tftp') return { kind: 'error', reason: '--srv with tftp: DNS SRV provisioning is for http and https only', notFound: false };
  const name = provisioningSrvName(target.scheme, target.host);
  let records;
  try {
    records = orderSrv(await d.network.resolveSrv(name, d.dns), (max) => randomInt(0, max + 1));
  } catch (e) {
    return { kind: 'error', reason: `SRV ${name} not resolved: ${(e as Error).message}`, notFound: false };
  }
  if (records.length === 0) return { kind: 'error', reason: `no SRV record ${name}`, notFound: false };
  let last: ProfileFetch | undefined;
  for (const r of records) {
    signal.throwIfAborted();
    last = await fetchFrom(d, { ...target, host: r.name, port: r.port }, auth, signal);
    if (last.kind === 'ok') return { ...last, server: `${r.name}:${r.port}` };
    // An answer (even 404) ends it; only a target that cannot be reached sends the phone to the next.
    if (last.status !== undefined) return last;
  }
  return last!;
}

async function fetchFrom(d: ProfileFetchDeps, target: ProfileTarget, auth: { uid?: string; pwd?: string }, signal: AbortSignal): Promise<ProfileFetch> {
  let t = target;
  for (let hop = 0; ; hop++) {
    let address: string;
    try {
      address = await resolve(d, t.host);
    } catch (e) {
      return { kind: 'error', reason: `${t.host} not resolved: ${(e as Error).message}`, notFound: false };
    }
    if (t.scheme === 'tftp') return viaTftp(d, address, t, signal);
    // The request goes to the resolved address; the name stays for the certificate check.
    const url = `${t.scheme}://${address}:${t.port}${t.path}`;
    const r = await d.network.httpGet(url, {
      timeoutMs: HTTP_TIMEOUT_MS, maxBytes: d.maxBytes, signal, userAgent: d.userAgent,
      ...(d.localAddress ? { localAddress: d.localAddress } : {}),
      ...(auth.uid !== undefined ? { basicAuth: { user: auth.uid, password: auth.pwd ?? '' } } : {}),
      ...(t.scheme === 'https' ? { tls: { ...d.tls, ...(isIpv4(t.host) ? {} : { servername: t.host }) } } : {}),
    });
    if (r.kind === 'error') return { kind: 'error', reason: r.message, notFound: false };
    if (r.status === 200) return { kind: 'ok', bytes: r.body, via: t.scheme };
    if ((r.status === 301 || r.status === 302) && r.location && hop < MAX_REDIRECTS) {
      const next = followLocation(t, r.location);
      if (!next) return { kind: 'error', reason: `HTTP ${r.status} to an unusable location`, status: r.status, notFound: false };
      t = next;
      continue;
    }
    const reason = r.status === 401 || r.status === 407 ? `HTTP ${r.status}: credentials ${auth.uid !== undefined ? 'refused' : 'asked for and none in the rule'}` : `HTTP ${r.status}`;
    return { kind: 'error', reason, status: r.status, notFound: r.status === 404 };
  }
}

async function viaTftp(d: ProfileFetchDeps, address: string, t: ProfileTarget, signal: AbortSignal): Promise<ProfileFetch> {
  // TFTP has no query; servers differ on a leading slash, so the name goes without one.
  const name = t.path.replace(/^\/+/, '');
  const r = await tftpGet(
    { network: d.network, clock: d.clock, request: d.tftpRequest, retransmitMs: 1000, retries: 4, maxBytes: d.maxBytes, port: t.port, localAddress: d.localAddress },
    address, name, signal,
  );
  switch (r.kind) {
    case 'file':
      return { kind: 'ok', bytes: r.data, via: 'tftp' };
    case 'absent':
      return { kind: 'error', reason: 'TFTP File not found', notFound: true };
    case 'server-error':
      return { kind: 'error', reason: `TFTP error ${r.code}: ${r.message}`, notFound: false };
    default:
      return { kind: 'error', reason: `TFTP ${r.message}`, notFound: false };
  }
}

/** A redirect's target: absolute http(s), or a path on the same server. */
function followLocation(from: ProfileTarget, location: string): ProfileTarget | undefined {
  try {
    const u = new URL(location, `${from.scheme}://${from.host}:${from.port}${from.path}`);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    const scheme = u.protocol === 'https:' ? 'https' : 'http';
    return { scheme, host: u.hostname, port: Number(u.port) || (scheme === 'https' ? 443 : 80), path: `${u.pathname}${u.search}` };
  } catch {
    return undefined;
  }
}
