/**
 * SIP message codec (RFC 3261 §7, §20) for the phone's user agent and the companion's
 * registrar. Pure: bytes <-> SipMessage, plus a stream decoder for TCP where messages are
 * framed by Content-Length (RFC 3261 §18.3). Header order and repeats are kept; lookups are
 * case-insensitive and know the compact forms.
 */
import { type Result, WireError, catchWire, err, ok } from './result.ts';

export const SIP_MAX_HEADER_BYTES = 16 * 1024;
export const SIP_MAX_BODY_BYTES = 64 * 1024;

export type SipHeaders = Array<[name: string, value: string]>;

export type SipMessage =
  | { kind: 'request'; method: string; uri: string; headers: SipHeaders; body: Uint8Array }
  | { kind: 'response'; status: number; reason: string; headers: SipHeaders; body: Uint8Array };

export type SipRequest = Extract<SipMessage, { kind: 'request' }>;
export type SipResponse = Extract<SipMessage, { kind: 'response' }>;

// A Map, not an object literal: a header named `constructor` or `__proto__` must not find
// Object.prototype's members.
const COMPACT = new Map<string, string>([
  ['v', 'via'], ['f', 'from'], ['t', 'to'], ['i', 'call-id'], ['m', 'contact'], ['l', 'content-length'], ['c', 'content-type'],
  ['e', 'content-encoding'], ['k', 'supported'], ['s', 'subject'], ['o', 'event'], ['u', 'allow-events'], ['r', 'refer-to'],
]);

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

/**
 * Canonical names by spelling, for names that are valid tokens: a registrar sees the same ten
 * spellings in every message, and lower-casing each name on every lookup was the codec's
 * largest cost. Bounded, so a peer inventing names cannot grow it; past the bound names are
 * lower-cased each time as before.
 */
const CANON = new Map<string, string>();
const CANON_MAX = 2048;

/** The name a header is known by: lower case, compact forms expanded (`v` → `via`). */
export function canonicalName(name: string): string {
  const known = CANON.get(name);
  if (known !== undefined) return known;
  const n = name.toLowerCase();
  const c = COMPACT.get(n) ?? n;
  // Only token names are kept: parseHead takes a kept name as already checked.
  if (CANON.size < CANON_MAX && TOKEN.test(name)) CANON.set(name, c);
  return c;
}

/**
 * What is worked out from a header list once and then read: the canonical names in the list's
 * order (at decode, or at the first lookup of a list built in code), and for the SIP core
 * (src/sip/message.ts) the parsed top Via and CSeq. header() and headers() then compare names
 * that are, for every name the memo knows, the very same string (a pointer compare), rather
 * than lower-casing every name on every lookup.
 *
 * Kept on the list itself, under a symbol, not enumerable: a WeakMap entry cost ~0.6 µs per
 * message in the collector's ephemeron work, several per REGISTER. Invisible to equality,
 * JSON, spreads and copies (a copied or edited list starts without facts). Messages are not
 * changed in place (the SIP core copies to edit); a list whose length changed since gets its
 * facts again, as a guard.
 */
export interface HeaderFacts {
  /** The list's length when these were worked out. */
  count: number;
  names: string[] | undefined;
  /** For the SIP core: the parsed top Via and CSeq (null: none readable), undefined until asked. */
  via: unknown;
  cseq: unknown;
}
const FACTS = Symbol('sip header facts');
type WithFacts = SipHeaders & { [FACTS]?: HeaderFacts };

export function headerFacts(hs: SipHeaders): HeaderFacts {
  const known = (hs as WithFacts)[FACTS];
  if (known !== undefined && known.count === hs.length) return known;
  const facts: HeaderFacts = { count: hs.length, names: undefined, via: undefined, cseq: undefined };
  // A frozen list (none is, today) keeps no facts: they are worked out again on each lookup.
  if (known === undefined) {
    if (Object.isExtensible(hs)) Object.defineProperty(hs, FACTS, { value: facts, writable: true });
  }
  else (hs as WithFacts)[FACTS] = facts;
  return facts;
}

function namesOf(hs: SipHeaders): string[] {
  const facts = headerFacts(hs);
  if (facts.names !== undefined) return facts.names;
  const names: string[] = [];
  for (let i = 0; i < hs.length; i++) names.push(canonicalName(hs[i]![0]));
  facts.names = names;
  return names;
}

export function header(m: { headers: SipHeaders }, name: string): string | undefined {
  const hs = m.headers;
  const names = namesOf(hs);
  const c = canonicalName(name);
  for (let i = 0; i < names.length; i++) if (names[i] === c) return hs[i]![1];
  return undefined;
}

export function headers(m: { headers: SipHeaders }, name: string): string[] {
  const hs = m.headers;
  const names = namesOf(hs);
  const c = canonicalName(name);
  const out: string[] = [];
  for (let i = 0; i < names.length; i++) if (names[i] === c) out.push(hs[i]![1]);
  return out;
}

const CONTINUATION = /\r\n[ \t]+/g;

function parseHead(head: string, format = 'sip'): Omit<SipRequest, 'body'> | Omit<SipResponse, 'body'> {
  // Unfold continuation lines (RFC 3261 §7.3.1) — a regex pass only when there are any — then
  // walk the lines by index rather than splitting into an array of line strings.
  const text = head.includes('\r\n ') || head.includes('\r\n\t') ? head.replace(CONTINUATION, ' ') : head;
  const eol = text.indexOf('\r\n');
  const start = eol < 0 ? text : text.slice(0, eol);
  const hdrs: SipHeaders = [];
  const names: string[] = [];
  for (let at = eol < 0 ? -1 : eol + 2; at >= 0; ) {
    const next = text.indexOf('\r\n', at);
    const end = next < 0 ? text.length : next;
    const from = at;
    at = next < 0 ? -1 : next + 2;
    if (end === from) continue;
    const colon = text.indexOf(':', from);
    if (colon <= from || colon >= end) throw new WireError(format, 'bad-header', `header line without a name: "${text.slice(from, end).slice(0, 40)}"`);
    const name = text.slice(from, colon).trim();
    let c = CANON.get(name);
    if (c === undefined) {
      if (!TOKEN.test(name)) throw new WireError(format, 'bad-header', `bad header name "${name.slice(0, 40)}"`);
      c = canonicalName(name);
    }
    const value = text.slice(colon + 1, end).trim();
    hdrs.push([name, value]);
    names.push(c);
  }
  headerFacts(hdrs).names = names;
  const status = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(start);
  if (status) {
    const code = Number(status[1]);
    if (code < 100 || code > 699) throw new WireError(format, 'bad-start-line', `status ${code} outside 100..699`);
    return { kind: 'response', status: code, reason: status[2] ?? '', headers: hdrs };
  }
  const req = /^([A-Za-z]+) (\S+) SIP\/2\.0$/.exec(start);
  if (!req) throw new WireError(format, 'bad-start-line', `not a SIP start line: "${start.slice(0, 60)}"`);
  return { kind: 'request', method: req[1]!.toUpperCase(), uri: req[2]!, headers: hdrs };
}

function contentLength(h: { headers: SipHeaders }, required: boolean): number {
  const v = header(h, 'content-length');
  if (v === undefined) {
    if (required) throw new WireError('sip', 'no-content-length', 'Content-Length is required on a stream transport');
    return -1;
  }
  if (!/^\d{1,9}$/.test(v)) throw new WireError('sip', 'bad-content-length', `Content-Length "${v}" is not a number`);
  const n = Number(v);
  if (n > SIP_MAX_BODY_BYTES) throw new WireError('sip', 'oversized', `body of ${n} bytes exceeds ${SIP_MAX_BODY_BYTES}`);
  return n;
}

/** Decodes one whole datagram-style message (Content-Length optional). */
export function decodeSip(buf: Uint8Array): Result<SipMessage> {
  return catchWire(() => {
    const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    const end = b.indexOf('\r\n\r\n');
    if (end < 0) throw new WireError('sip', 'truncated', 'no blank line after the headers');
    if (end > SIP_MAX_HEADER_BYTES) throw new WireError('sip', 'oversized', `headers exceed ${SIP_MAX_HEADER_BYTES} bytes`);
    const head = parseHead(b.subarray(0, end).toString('utf8'));
    const rest = b.subarray(end + 4);
    const n = contentLength(head, false);
    if (n > rest.length) throw new WireError('sip', 'truncated', `body has ${rest.length} of ${n} bytes`);
    return { ...head, body: Uint8Array.from(n < 0 ? rest : rest.subarray(0, n)) } as SipMessage;
  });
}

const LINE_BREAK = /[\r\n]/;

export function encodeSip(m: SipMessage): Buffer {
  // One string and one buffer: no array of lines, no join, no concat with an empty body.
  let text = m.kind === 'request' ? `${m.method} ${m.uri} SIP/2.0` : `SIP/2.0 ${m.status} ${m.reason}`;
  for (const [n, v] of m.headers) {
    if (canonicalName(n) === 'content-length') continue;
    if (LINE_BREAK.test(n) || LINE_BREAK.test(v)) throw new RangeError(`header ${n} contains a line break`);
    text += `\r\n${n}: ${v}`;
  }
  text += `\r\nContent-Length: ${m.body.length}\r\n\r\n`;
  if (m.body.length === 0) return Buffer.from(text, 'utf8');
  const size = Buffer.byteLength(text, 'utf8');
  const out = Buffer.allocUnsafe(size + m.body.length);
  out.write(text, 0, 'utf8');
  out.set(m.body, size);
  return out;
}

/**
 * Frames messages out of a TCP byte stream. Leading CRLFs are keep-alive pings (RFC 5626 §4.4.1)
 * and are skipped. A framing error is fatal for the connection: the caller closes it.
 */
const NO_BYTES = Buffer.alloc(0);

export class SipStreamDecoder {
  private pending: Buffer = NO_BYTES;

  push(chunk: Uint8Array): Result<SipMessage[]> {
    // The chunk is read in place; only what is left of it when this returns is copied (the
    // caller may reuse its buffer). Heads become strings and bodies copies, so no message
    // keeps the chunk either. A copy of every chunk was a copy of every message.
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const borrowed = this.pending.length === 0;
    const out: SipMessage[] = [];
    const keep = (): void => {
      this.pending = buf.length === 0 ? NO_BYTES : borrowed ? Buffer.from(buf) : buf;
    };
    for (;;) {
      let skip = 0;
      while (skip + 1 < buf.length && buf[skip] === 13 && buf[skip + 1] === 10) skip += 2;
      if (skip) buf = buf.subarray(skip);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        keep();
        if (buf.length > SIP_MAX_HEADER_BYTES) return err(new WireError('sip', 'oversized', `headers exceed ${SIP_MAX_HEADER_BYTES} bytes`));
        return ok(out);
      }
      if (end > SIP_MAX_HEADER_BYTES) {
        keep();
        return err(new WireError('sip', 'oversized', `headers exceed ${SIP_MAX_HEADER_BYTES} bytes`));
      }
      // catchWire's work inline: no closure and no result object per message.
      let head: ReturnType<typeof parseHead>;
      let length: number;
      try {
        head = parseHead(buf.toString('utf8', 0, end));
        length = contentLength(head, true);
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
        keep();
        return err(e);
      }
      const total = end + 4 + length;
      if (buf.length < total) {
        keep();
        return ok(out);
      }
      const body = Uint8Array.from(buf.subarray(end + 4, total));
      out.push({ ...head, body } as SipMessage);
      buf = buf.subarray(total);
    }
  }
}

// ---- header values ---------------------------------------------------------------------------

export interface SipUri {
  scheme: 'sip' | 'sips';
  user: string;
  host: string;
  port: number | undefined;
  params: Record<string, string>;
}

export function parseSipUri(s: string): SipUri | undefined {
  const m = /^(sips?):(?:([^@;?]*)@)?([^;?:]+|\[[0-9a-fA-F:.]+\])(?::(\d{1,5}))?((?:;[^?]*)?)(?:\?.*)?$/.exec(s.trim());
  if (!m) return undefined;
  return { scheme: m[1] as 'sip' | 'sips', user: decodeURIComponent(m[2] ?? ''), host: m[3]!, port: m[4] ? Number(m[4]) : undefined, params: parseParams(m[5] ?? '') };
}

/** What `\s` matches in a regular expression (ECMAScript WhiteSpace and LineTerminator). */
function isSpace(c: number): boolean {
  if (c < 128) return c === 32 || (c >= 9 && c <= 13);
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** What `.` does not match: a line terminator. */
const isLineTerminator = (c: number): boolean => c === 10 || c === 13 || c === 0x2028 || c === 0x2029;

/** The index after the closing quote of a quoted string opening at `at`, or -1 when it never closes. */
function quotedEnd(s: string, at: number): number {
  for (let i = at + 1; i < s.length; ) {
    const c = s.charCodeAt(i);
    if (c === 34) return i + 1;
    if (c === 92) {
      if (i + 1 >= s.length || isLineTerminator(s.charCodeAt(i + 1))) return -1;
      i += 2;
    } else i++;
  }
  return -1;
}

/**
 * `;a=b;c;d="x y"` -> {a:'b', c:'', d:'x y'}; names lower-cased, quotes removed.
 *
 * A scan by index that gives what the global regex
 * `;\s*([^=;\s]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*))?` gave, match for match (every Contact,
 * Via and From of every message comes through here): a parameter starts at a `;`, spaces,
 * then a name of anything but `=`, `;` and spaces (a `;` without a name starts nothing); the
 * value after `=` is a quoted string when one opens and closes there, else everything up to
 * the next `;`; text after a value-less name or after a closed quote is skipped up to the next `;`.
 */
export function parseParams(s: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  const len = s.length;
  for (let semi = s.indexOf(';'); semi >= 0; ) {
    let at = semi + 1;
    while (at < len && isSpace(s.charCodeAt(at))) at++;
    let end = at;
    for (; end < len; end++) {
      const c = s.charCodeAt(end);
      if (c === 61 /* = */ || c === 59 /* ; */ || isSpace(c)) break;
    }
    if (end === at) {
      semi = s.indexOf(';', at);
      continue;
    }
    const name = s.slice(at, end).toLowerCase();
    let eq = end;
    while (eq < len && isSpace(s.charCodeAt(eq))) eq++;
    if (eq >= len || s.charCodeAt(eq) !== 61) {
      out[name] = '';
      semi = s.indexOf(';', end);
      continue;
    }
    let from = eq + 1;
    while (from < len && isSpace(s.charCodeAt(from))) from++;
    const closed = from < len && s.charCodeAt(from) === 34 ? quotedEnd(s, from) : -1;
    const next = closed >= 0 ? -1 : s.indexOf(';', from);
    let v = s.slice(from, closed >= 0 ? closed : next < 0 ? len : next).trim();
    if (v.startsWith('"')) {
      v = v.slice(1, -1);
      if (v.includes('\\')) v = v.replace(/\\(.)/g, '$1');
    }
    out[name] = v;
    semi = closed >= 0 ? s.indexOf(';', closed) : next;
  }
  return out;
}

export interface NameAddr {
  display: string;
  uri: string;
  params: Record<string, string>;
}

/** Parses `"Name" <sip:u@h>;tag=x` or `sip:u@h;tag=x` (From, To, Contact). */
export function parseNameAddr(s: string): NameAddr | undefined {
  const t = s.trim();
  const lt = t.indexOf('<');
  if (lt >= 0) {
    const gt = t.indexOf('>', lt);
    if (gt < 0) return undefined;
    return { display: t.slice(0, lt).trim().replace(/^"|"$/g, ''), uri: t.slice(lt + 1, gt), params: parseParams(t.slice(gt + 1)) };
  }
  const semi = t.indexOf(';');
  return { display: '', uri: semi < 0 ? t : t.slice(0, semi), params: parseParams(semi < 0 ? '' : t.slice(semi)) };
}

/** Splits a header value at top-level commas (not inside quotes or angle brackets). */
export function splitList(v: string): string[] {
  // Most values are one item: no walk at all. Otherwise items are sliced out by index, not
  // built a character at a time.
  if (!v.includes(',')) {
    const only = v.trim();
    return only ? [only] : [];
  }
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let from = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 34 /* " */ && v.charCodeAt(i - 1) !== 92 /* \ */) quoted = !quoted;
    else if (!quoted && c === 60 /* < */) depth++;
    else if (!quoted && c === 62 /* > */) depth--;
    if (c === 44 /* , */ && !quoted && depth === 0) {
      out.push(v.slice(from, i).trim());
      from = i + 1;
    }
  }
  const last = v.slice(from).trim();
  if (last) out.push(last);
  return out;
}

export interface Via {
  transport: string;
  host: string;
  port: number | undefined;
  params: Record<string, string>;
}

export function parseVia(v: string): Via | undefined {
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+([^;:\s]+|\[[^\]]+\])(?::(\d{1,5}))?\s*(.*)$/.exec(v.trim());
  if (!m) return undefined;
  return { transport: m[1]!.toUpperCase(), host: m[2]!, port: m[3] ? Number(m[3]) : undefined, params: parseParams(m[4] ?? '') };
}

export function parseCSeq(v: string | undefined): { seq: number; method: string } | undefined {
  const m = v && /^(\d{1,10})\s+([A-Za-z]+)$/.exec(v.trim());
  return m ? { seq: Number(m[1]), method: m[2]!.toUpperCase() } : undefined;
}

export const REASON_PHRASES: Record<number, string> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 407: 'Proxy Authentication Required', 408: 'Request Timeout', 415: 'Unsupported Media Type',
  420: 'Bad Extension', 423: 'Interval Too Brief', 480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected', 483: 'Too Many Hops', 484: 'Address Incomplete', 486: 'Busy Here',
  487: 'Request Terminated', 488: 'Not Acceptable Here', 489: 'Bad Event', 491: 'Request Pending',
  500: 'Server Internal Error', 501: 'Not Implemented', 503: 'Service Unavailable', 603: 'Decline', 604: 'Does Not Exist Anywhere',
};

/** Builds a response to a request, copying Via, From, To, Call-ID and CSeq (RFC 3261 §8.2.6.2). */
export function responseTo(req: SipRequest, status: number, extra: SipHeaders = [], body: Uint8Array = new Uint8Array(), toTag?: string): SipResponse {
  // The request's canonical names are known already (worked out at decode); extra goes on the same list.
  const hs = req.headers;
  const names = namesOf(hs);
  const copied: SipHeaders = [];
  for (let i = 0; i < hs.length; i++) {
    const c = names[i];
    const [n, v] = hs[i]!;
    if (c === 'via' || c === 'from' || c === 'call-id' || c === 'cseq') copied.push([n, v]);
    else if (c === 'to') copied.push([n, toTag && !/;\s*tag=/i.test(v) ? `${v};tag=${toTag}` : v]);
  }
  for (let i = 0; i < extra.length; i++) copied.push(extra[i]!);
  return { kind: 'response', status, reason: REASON_PHRASES[status] ?? 'Unknown', headers: copied, body };
}
