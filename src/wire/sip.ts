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

const COMPACT: Record<string, string> = {
  v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length', c: 'content-type',
  e: 'content-encoding', k: 'supported', s: 'subject', o: 'event', u: 'allow-events', r: 'refer-to',
};
const canon = (name: string): string => {
  const n = name.toLowerCase();
  return COMPACT[n] ?? n;
};

export function header(m: { headers: SipHeaders }, name: string): string | undefined {
  const c = canon(name);
  return m.headers.find(([n]) => canon(n) === c)?.[1];
}

export function headers(m: { headers: SipHeaders }, name: string): string[] {
  const c = canon(name);
  return m.headers.filter(([n]) => canon(n) === c).map(([, v]) => v);
}

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

function parseHead(head: string, format = 'sip'): Omit<SipRequest, 'body'> | Omit<SipResponse, 'body'> {
  // Unfold continuation lines (RFC 3261 §7.3.1), then split.
  const lines = head.replace(/\r\n[ \t]+/g, ' ').split('\r\n');
  const start = lines.shift() ?? '';
  const hdrs: SipHeaders = [];
  for (const line of lines) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new WireError(format, 'bad-header', `header line without a name: "${line.slice(0, 40)}"`);
    const name = line.slice(0, colon).trim();
    if (!TOKEN.test(name)) throw new WireError(format, 'bad-header', `bad header name "${name.slice(0, 40)}"`);
    hdrs.push([name, line.slice(colon + 1).trim()]);
  }
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

export function encodeSip(m: SipMessage): Buffer {
  const start = m.kind === 'request' ? `${m.method} ${m.uri} SIP/2.0` : `SIP/2.0 ${m.status} ${m.reason}`;
  const lines = [start];
  for (const [n, v] of m.headers) {
    if (canon(n) === 'content-length') continue;
    if (/[\r\n]/.test(n + v)) throw new RangeError(`header ${n} contains a line break`);
    lines.push(`${n}: ${v}`);
  }
  lines.push(`Content-Length: ${m.body.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8'), m.body]);
}

/**
 * Frames messages out of a TCP byte stream. Leading CRLFs are keep-alive pings (RFC 5626 §4.4.1)
 * and are skipped. A framing error is fatal for the connection: the caller closes it.
 */
export class SipStreamDecoder {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): Result<SipMessage[]> {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    const out: SipMessage[] = [];
    for (;;) {
      let skip = 0;
      while (skip + 1 < this.pending.length && this.pending[skip] === 13 && this.pending[skip + 1] === 10) skip += 2;
      if (skip) this.pending = this.pending.subarray(skip);
      const end = this.pending.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.pending.length > SIP_MAX_HEADER_BYTES) return err(new WireError('sip', 'oversized', `headers exceed ${SIP_MAX_HEADER_BYTES} bytes`));
        return ok(out);
      }
      if (end > SIP_MAX_HEADER_BYTES) return err(new WireError('sip', 'oversized', `headers exceed ${SIP_MAX_HEADER_BYTES} bytes`));
      const parsed = catchWire(() => {
        const head = parseHead(this.pending.subarray(0, end).toString('utf8'));
        return { head, length: contentLength(head, true) };
      });
      if (!parsed.ok) return parsed;
      const total = end + 4 + parsed.value.length;
      if (this.pending.length < total) return ok(out);
      const body = Uint8Array.from(this.pending.subarray(end + 4, total));
      out.push({ ...parsed.value.head, body } as SipMessage);
      this.pending = this.pending.subarray(total);
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

/** `;a=b;c;d="x y"` -> {a:'b', c:'', d:'x y'}; names lower-cased, quotes removed. */
export function parseParams(s: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  const re = /;\s*([^=;\s]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*))?/g;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    let v = (m[2] ?? '').trim();
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    out[m[1]!.toLowerCase()] = v;
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
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '"' && v[i - 1] !== '\\') quoted = !quoted;
    else if (!quoted && c === '<') depth++;
    else if (!quoted && c === '>') depth--;
    if (c === ',' && !quoted && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
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
  const copied: SipHeaders = [];
  for (const [n, v] of req.headers) {
    const c = canon(n);
    if (c === 'via' || c === 'from' || c === 'call-id' || c === 'cseq') copied.push([n, v]);
    else if (c === 'to') copied.push([n, toTag && !/;\s*tag=/i.test(v) ? `${v};tag=${toTag}` : v]);
  }
  return { kind: 'response', status, reason: REASON_PHRASES[status] ?? 'Unknown', headers: [...copied, ...extra], body };
}
