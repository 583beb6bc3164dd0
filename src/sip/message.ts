/**
 * Message helpers the SIP core needs and the codec (`src/wire/sip.ts`) does not have: editing
 * headers of an immutable SipMessage, the top Via (also when several values share one header
 * line), branches, tags and Call-IDs, and where a URI says to send a request (RFC 3263's
 * no-DNS subset). Kept here rather than in the codec so the codec stays a pure bytes<->values
 * module; nothing in this file does I/O.
 */
import { randomFillSync } from 'node:crypto';
import { isIP } from 'node:net';
import { type SipHeaders, type SipMessage, type SipRequest, type SipResponse, type Via, canonicalName, header, headerFacts, headers, parseCSeq, parseNameAddr, parseSipUri, parseVia, splitList } from '../wire/sip.ts';

export type TransportKind = 'UDP' | 'TCP' | 'TLS';

export interface HostPort {
  host: string;
  port: number;
}

/** Where a message goes: a transport and an address (RFC 3261 §18, RFC 3263 §4). */
export interface SipDestination extends HostPort {
  transport: TransportKind;
}

/** Branches that start with this are RFC 3261 branches, unique per transaction (§8.1.1.7). */
export const MAGIC_COOKIE = 'z9hG4bK';

/**
 * Random hex from a pool refilled 4 KiB at a time: a registrar under load makes a tag for every
 * response, and one call into the CSPRNG per tag cost more than building the response.
 */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const hex = pool.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  return hex;
}

export const newBranch = (): string => `${MAGIC_COOKIE}${randomHex(8)}`;
export const newTag = (): string => randomHex(6);
export const newCallId = (host?: string): string => `${randomHex(12)}${host ? `@${host}` : ''}`;

export const defaultPort = (t: TransportKind): number => (t === 'TLS' ? 5061 : 5060);
export const isReliable = (t: TransportKind): boolean => t !== 'UDP';

export function transportKind(s: string | undefined): TransportKind | undefined {
  const u = s?.toUpperCase();
  return u === 'UDP' || u === 'TCP' || u === 'TLS' ? u : undefined;
}

export const sameHeader = (a: string, b: string): boolean => canonicalName(a) === canonicalName(b);

/** A copy without any header of that name. */
export function withoutHeader<M extends SipMessage>(m: M, name: string): M {
  return { ...m, headers: m.headers.filter(([n]) => !sameHeader(n, name)) };
}

/** A copy with the first header of that name replaced (or the header appended when absent). */
export function withHeader<M extends SipMessage>(m: M, name: string, value: string): M {
  const i = m.headers.findIndex(([n]) => sameHeader(n, name));
  const hs: SipHeaders = m.headers.slice();
  if (i < 0) hs.push([name, value]);
  else hs[i] = [hs[i]![0], value];
  return { ...m, headers: hs };
}

/** A copy with one header put first (a Via a transaction adds goes on top, §8.1.1.7). */
export function prependHeader<M extends SipMessage>(m: M, name: string, value: string): M {
  return { ...m, headers: [[name, value], ...m.headers] };
}

/** A copy with a new top Via: a fresh branch, `rport` asked for (RFC 3581), sent-by left to the transport. */
export function withNewVia(req: SipRequest, transport: TransportKind): SipRequest {
  return prependHeader(req, 'Via', `SIP/2.0/${transport} invalid;branch=${newBranch()};rport`);
}

/** Every Via value, top first, also when a line carries several (`Via: a, b`). */
export function viaValues(m: SipMessage): string[] {
  return headers(m, 'via').flatMap(splitList);
}

/**
 * The parsed top Via, kept with the message's header list (the codec's headerFacts): messages
 * are never changed in place (every helper here returns a copy, and a copied list starts
 * without), and the transport, the transaction layer and the response routing each ask for
 * the same request's top Via. The Via returned is shared: read it, copy it to change it.
 */
export function topVia(m: SipMessage): Via | undefined {
  const facts = headerFacts(m.headers);
  const known = facts.via as Via | null | undefined;
  if (known !== undefined) return known ?? undefined;
  const first = viaValues(m)[0];
  const via = first === undefined ? undefined : parseVia(first);
  facts.via = via ?? null;
  return via;
}

/**
 * A response made by responseTo copies the request's Vias first and in order, so its top Via
 * is the request's: handed over already parsed rather than parsed again for §18.2.2's routing.
 */
export function inheritTopVia(res: SipResponse, req: SipRequest): void {
  const via = headerFacts(req.headers).via;
  if (via) headerFacts(res.headers).via = via;
}

export function formatParams(p: Record<string, string>): string {
  return Object.entries(p).map(([k, v]) => (v === '' ? `;${k}` : `;${k}=${/^[\w.!%*+`'~:-]+$/.test(v) ? v : `"${v.replace(/["\\]/g, '\\$&')}"`}`)).join('');
}

export function formatVia(v: Via): string {
  return `SIP/2.0/${v.transport} ${v.host}${v.port === undefined ? '' : `:${v.port}`}${formatParams(v.params)}`;
}

/** A copy whose top Via value is `value`, the other values (same line or later lines) kept. */
export function replaceTopVia<M extends SipMessage>(m: M, value: string): M {
  const i = m.headers.findIndex(([n]) => sameHeader(n, 'via'));
  if (i < 0) return prependHeader(m, 'Via', value);
  const [name, line] = m.headers[i]!;
  const rest = splitList(line).slice(1);
  const hs: SipHeaders = m.headers.slice();
  hs[i] = [name, [value, ...rest].join(', ')];
  return { ...m, headers: hs };
}

/** The sent-by of a Via as `host:port`, the port defaulted by transport (§18.2.2, §17.2.3). */
export function sentBy(v: Via): string {
  const kind = transportKind(v.transport) ?? 'UDP';
  return `${v.host.toLowerCase()}:${v.port ?? defaultPort(kind)}`;
}

export function tagOf(nameAddr: string | undefined): string | undefined {
  if (nameAddr === undefined) return undefined;
  const t = parseNameAddr(nameAddr)?.params['tag'];
  return t === undefined || t === '' ? undefined : t;
}

export const toTag = (m: SipMessage): string | undefined => tagOf(header(m, 'to'));
export const fromTag = (m: SipMessage): string | undefined => tagOf(header(m, 'from'));

/** The parsed CSeq, kept with the header list as topVia's: the transaction layer checks it, keys on it, the UA core reads it again. Shared: read it only. */
export function cseqOf(m: SipMessage): { seq: number; method: string } | undefined {
  const facts = headerFacts(m.headers);
  const known = facts.cseq as { seq: number; method: string } | null | undefined;
  if (known !== undefined) return known ?? undefined;
  const cseq = parseCSeq(header(m, 'cseq'));
  facts.cseq = cseq ?? null;
  return cseq;
}

/** The URI inside a name-addr (`"x" <sip:a@b>;p` → `sip:a@b`). */
export function uriOf(nameAddr: string | undefined): string | undefined {
  return nameAddr === undefined ? undefined : parseNameAddr(nameAddr)?.uri;
}

/** `host` without IPv6 brackets and without the IPv4-mapped prefix, so `::ffff:1.2.3.4` and `1.2.3.4` are one peer. */
export function normalHost(host: string): string {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h.startsWith('::ffff:') && isIP(h.slice(7)) === 4 ? h.slice(7) : h;
}

/** Host for a Via or URI: IPv6 literals in brackets. */
export const uriHost = (host: string): string => (isIP(host) === 6 ? `[${host}]` : host);

/**
 * Where a SIP or SIPS URI says to send (RFC 3263 §4 without NAPTR/SRV): the `transport`
 * parameter, else TLS for `sips:` and `fallback` (UDP unless said) for `sip:`; the port, else
 * 5060/5061; `maddr` wins over the host. The host may still be a name for the caller to resolve.
 */
export function uriDestination(uri: string, fallback: TransportKind = 'UDP'): SipDestination | undefined {
  const u = parseSipUri(uri);
  if (!u) return undefined;
  const param = transportKind(u.params['transport']);
  const transport: TransportKind = u.scheme === 'sips' ? 'TLS' : (param ?? fallback);
  return { transport, host: normalHost(u.params['maddr'] || u.host), port: u.port ?? defaultPort(transport) };
}

/** Why a request cannot be processed at all (§8.2, §16.3 item 1): the missing or broken header. */
export function malformedRequest(req: SipRequest): string | undefined {
  if (!topVia(req)) return 'no readable Via';
  const cseq = cseqOf(req);
  if (!cseq) return 'no readable CSeq';
  if (cseq.method !== req.method) return `CSeq method ${cseq.method} is not ${req.method}`;
  if (!header(req, 'call-id')) return 'no Call-ID';
  for (const name of ['from', 'to']) {
    const v = header(req, name);
    if (v === undefined || !parseNameAddr(v)?.uri) return `no readable ${name === 'from' ? 'From' : 'To'}`;
  }
  return undefined;
}

export function malformedResponse(res: SipResponse): string | undefined {
  if (!topVia(res)) return 'no readable Via';
  if (!cseqOf(res)) return 'no readable CSeq';
  if (!header(res, 'call-id')) return 'no Call-ID';
  return undefined;
}

export const EMPTY_BODY = new Uint8Array();
