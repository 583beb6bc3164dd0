/**
 * SDP (RFC 8866, which obsoletes RFC 4566) for one audio call, and the offer/answer rules of
 * RFC 3264 for G.711 with RFC 4733 DTMF.
 *
 *   session  v= o= s= [i=] [u=] e=* p=* [c=] b=* t= r=* [z=] [k=] a=* then media descriptions
 *   media    m= [i=] [c=] b=* [k=] a=*
 *
 * The parser is strict where a mistake would change the call: the type letters, their order,
 * the fields of o= c= t= m= rtpmap fmtp ptime and the direction attributes. Lines it does not
 * interpret (i= u= e= p= b= r= z= k=, and attributes other than those) are kept as they came
 * and written back in their place, so parse → write → parse is stable. An unknown type letter
 * refuses the whole description, as RFC 8866 §5 requires. Line ends may be CRLF or LF.
 */
import { type Result, WireError, catchWire, err, ok } from './result.ts';

export const SDP_MAX_BYTES = 16 * 1024;
/** A video phone's offer runs to about 60 lines; nothing legitimate needs hundreds. */
export const SDP_MAX_LINES = 256;
const FORMAT = 'sdp';

export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
const ANSWER_DIRECTION: Readonly<Record<SdpDirection, SdpDirection>> = { sendrecv: 'sendrecv', sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive' };
const DIRECTIONS: ReadonlySet<string> = new Set(Object.keys(ANSWER_DIRECTION));

export interface SdpConnection { netType: 'IN'; addrType: 'IP4' | 'IP6'; address: string }
/** Session id and version are digit strings: RFC 8866 suggests NTP timestamps, which can pass 2^53. */
export interface SdpOrigin extends SdpConnection { username: string; sessionId: string; sessionVersion: string }
export interface SdpRtpmap { encoding: string; clockRate: number; channels?: number }
/** A line kept but not interpreted: its type letter and everything after the '='. */
export interface SdpLine { type: string; value: string }
export interface SdpMedia {
  media: string;
  port: number;
  portCount?: number;
  proto: string;
  /** Payload types, for RTP profiles (proto RTP/…); empty for others, whose formats are in tokens. */
  formats: number[];
  tokens?: string[];
  connection?: SdpConnection;
  rtpmap: Map<number, SdpRtpmap>;
  fmtp: Map<number, string>;
  /** The media's own, else the session's, else sendrecv (RFC 3264 §5.1). */
  direction: SdpDirection;
  ptime?: number;
  /** Other a= lines, raw (what follows "a="). */
  attributes: string[];
  extra: SdpLine[];
}
export interface Sdp {
  version: 0;
  origin: SdpOrigin;
  sessionName: string;
  connection?: SdpConnection;
  /** Start and stop as NTP seconds; [0, 0] is an unbounded session, which is what calls use. */
  timing: [number, number];
  attributes: string[];
  extra: SdpLine[];
  media: SdpMedia[];
}

// The RFC's order as ranks: a line may not follow one of a higher rank within its level.
const SESSION_RANK: Readonly<Record<string, number>> = { v: 0, o: 1, s: 2, i: 3, u: 4, e: 5, p: 6, c: 7, b: 8, t: 9, r: 10, z: 11, k: 12, a: 13, m: 14 };
const MEDIA_RANK: Readonly<Record<string, number>> = { m: 0, i: 1, c: 2, b: 3, k: 4, a: 5 };
const SESSION_ONCE = new Set('vosiuctzk');
const MEDIA_ONCE = new Set('ick');
const SESSION_EXTRA = new Set('iuepbrzk');
const MEDIA_EXTRA = new Set('ibk');
const CONTROL = /[\x00-\x1f\x7f]/;
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;
const IP4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IP6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$/;
const FQDN = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
const isRtp = (proto: string): boolean => /(^|\/)RTP\/[A-Z]+$/.test(proto);

class Lines {
  n = 0;
  fail(code: string, message: string): never {
    throw new WireError(FORMAT, code, message, `line ${this.n}`);
  }
}

function connectionOf(at: Lines, fields: string[], what: string): SdpConnection {
  const [netType, addrType, address] = fields;
  if (netType !== 'IN') at.fail('unsupported', `${what} network type "${netType}" is not IN`);
  if (addrType !== 'IP4' && addrType !== 'IP6') at.fail('unsupported', `${what} address type "${addrType}" is not IP4 or IP6`);
  if (address!.includes('/')) at.fail('unsupported', `${what} address "${address}" is multicast (TTL or count given)`);
  const good = addrType === 'IP4' ? IP4.test(address!) || (FQDN.test(address!) && !/^[\d.]+$/.test(address!)) : IP6.test(address!) || FQDN.test(address!);
  if (!good) at.fail('bad-address', `${what} address "${address!.slice(0, 60)}" is not an ${addrType} address or host name`);
  return { netType, addrType, address: address! };
}

function splitFields(at: Lines, value: string, n: number | [number, number], what: string): string[] {
  const f = value.split(' ');
  const [min, max] = typeof n === 'number' ? [n, n] : n;
  if (f.length < min || f.length > max || f.some((x) => x === '')) at.fail('bad-field', `${what} needs ${min === max ? min : `${min} or more`} fields separated by single spaces`);
  return f;
}

function payloadType(at: Lines, s: string, what: string): number {
  if (!/^\d{1,3}$/.test(s) || Number(s) > 127) at.fail('bad-format', `${what} "${s.slice(0, 20)}" is not a payload type 0..127`);
  return Number(s);
}

type Draft = Omit<SdpMedia, 'direction'> & { direction?: SdpDirection };

function mediaLine(at: Lines, value: string): Draft {
  const [media, port, proto, ...fmts] = splitFields(at, value, [4, 1000], 'm=');
  if (!TOKEN.test(media!)) at.fail('bad-media', `media type "${media!.slice(0, 20)}" is not a token`);
  const p = /^(\d{1,5})(?:\/(\d{1,5}))?$/.exec(port!);
  if (!p || Number(p[1]) > 0xffff || (p[2] !== undefined && !(Number(p[2]) >= 1))) at.fail('bad-media', `port "${port!.slice(0, 20)}" is not 0..65535[/count]`);
  if (!/^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~/]+$/.test(proto!)) at.fail('bad-media', `protocol "${proto!.slice(0, 30)}" is not a token`);
  const d: Draft = { media: media!, port: Number(p![1]), proto: proto!, formats: [], rtpmap: new Map(), fmtp: new Map(), attributes: [], extra: [] };
  if (p![2] !== undefined) d.portCount = Number(p![2]);
  if (isRtp(proto!)) d.formats = fmts.map((f) => payloadType(at, f, 'format'));
  else if (fmts.every((f) => TOKEN.test(f))) d.tokens = fmts;
  else at.fail('bad-media', 'a format is not a token');
  if (new Set<unknown>(d.tokens ?? d.formats).size !== fmts.length) at.fail('bad-media', 'a format is listed twice');
  return d;
}

/** Returns the direction when the attribute is one; interprets rtpmap, fmtp and ptime on RTP media. */
function attribute(at: Lines, value: string, m: Draft | undefined, raw: string[]): SdpDirection | undefined {
  const colon = value.indexOf(':');
  const name = colon < 0 ? value : value.slice(0, colon);
  const arg = colon < 0 ? undefined : value.slice(colon + 1);
  if (!TOKEN.test(name)) at.fail('bad-attribute', `attribute name "${name.slice(0, 30)}" is not a token`);
  if (DIRECTIONS.has(name)) {
    if (arg !== undefined) at.fail('bad-attribute', `${name} takes no value`);
    return name as SdpDirection;
  }
  if (!m || !isRtp(m.proto) || (name !== 'rtpmap' && name !== 'fmtp' && name !== 'ptime')) {
    raw.push(value);
    return undefined;
  }
  if (arg === undefined) at.fail('bad-attribute', `${name} needs a value`);
  if (name === 'ptime') {
    if (m.ptime !== undefined) at.fail('bad-attribute', 'ptime given twice');
    if (!/^\d{1,4}(\.\d{1,3})?$/.test(arg) || Number(arg) === 0) at.fail('bad-attribute', `ptime "${arg.slice(0, 20)}" is not a positive number of ms`);
    m.ptime = Number(arg);
    return undefined;
  }
  const space = arg.indexOf(' ');
  const pt = payloadType(at, space < 0 ? arg : arg.slice(0, space), `${name} payload type`);
  const rest = space < 0 ? '' : arg.slice(space + 1);
  if (name === 'fmtp') {
    if (m.fmtp.has(pt)) at.fail('bad-attribute', `fmtp for payload type ${pt} given twice`);
    if (rest === '') at.fail('bad-attribute', `fmtp for payload type ${pt} has no parameters`);
    m.fmtp.set(pt, rest);
    return undefined;
  }
  if (m.rtpmap.has(pt)) at.fail('bad-attribute', `rtpmap for payload type ${pt} given twice`);
  const r = /^([^\s/]+)\/(\d{1,10})(?:\/(\d{1,3}))?$/.exec(rest);
  if (!r || !TOKEN.test(r[1]!) || !(Number(r[2]) > 0) || (r[3] !== undefined && !(Number(r[3]) > 0))) {
    at.fail('bad-attribute', `rtpmap "${rest.slice(0, 40)}" is not <encoding>/<clock rate>[/<channels>]`);
  }
  m.rtpmap.set(pt, r[3] === undefined ? { encoding: r[1]!, clockRate: Number(r[2]) } : { encoding: r[1]!, clockRate: Number(r[2]), channels: Number(r[3]) });
  return undefined;
}

export function parseSdp(text: string): Result<Sdp> {
  return catchWire(() => {
    const at: Lines = new Lines();
    if (text.length > SDP_MAX_BYTES || Buffer.byteLength(text, 'utf8') > SDP_MAX_BYTES) at.fail('oversized', `description exceeds ${SDP_MAX_BYTES} bytes`);
    const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    if (lines.length === 0) at.fail('missing', 'empty description');
    if (lines.length > SDP_MAX_LINES) at.fail('oversized', `${lines.length} lines exceed ${SDP_MAX_LINES}`);
    let origin: SdpOrigin | undefined, sessionName: string | undefined, connection: SdpConnection | undefined;
    let timing: [number, number] | undefined, sessionDirection: SdpDirection | undefined, m: Draft | undefined;
    const attributes: string[] = [], extra: SdpLine[] = [], drafts: Draft[] = [], seen = new Set<string>();
    let rank = -1;
    for (const line of lines) {
      at.n++;
      if (CONTROL.test(line)) at.fail('bad-character', 'control character in a line');
      if (line.length < 2 || line[1] !== '=' || !/^[a-z]$/.test(line[0]!)) at.fail('bad-line', `"${line.slice(0, 30)}" is not <type>=<value>`);
      const type = line[0]!;
      const value = line.slice(2);
      if (at.n === 1 && type !== 'v') at.fail('bad-order', 'the first line must be v=');
      if (type === 'm') {
        if (!timing) at.fail('missing', 'm= before the session\'s t= line');
        drafts.push((m = mediaLine(at, value)));
        rank = 0;
        seen.clear();
        continue;
      }
      const ranks = m ? MEDIA_RANK : SESSION_RANK;
      const r = ranks[type];
      if (r === undefined) at.fail(SESSION_RANK[type] === undefined ? 'bad-type' : 'bad-order', `${type}= is ${SESSION_RANK[type] === undefined ? 'not an SDP line type' : 'not allowed in a media description'}`);
      if (r < rank) at.fail('bad-order', `${type}= comes after a line that must follow it`);
      if ((m ? MEDIA_ONCE : SESSION_ONCE).has(type) && seen.has(type)) at.fail('duplicate', `${type}= given twice`);
      rank = r;
      seen.add(type);
      if (type === 'a') {
        const dir = attribute(at, value, m, m ? m.attributes : attributes);
        if (dir === undefined) continue;
        if (m ? m.direction : sessionDirection) at.fail('duplicate', `${m ? 'media' : 'session'} direction given twice`);
        if (m) m.direction = dir;
        else sessionDirection = dir;
      } else if (type === 'c') {
        const c = connectionOf(at, splitFields(at, value, 3, 'c='), 'connection');
        if (m) m.connection = c;
        else connection = c;
      } else if (m) m.extra.push({ type, value });
      else if (type === 'v') {
        if (value !== '0') at.fail('bad-version', `version "${value.slice(0, 10)}" is not 0`);
      } else if (type === 'o') {
        const [username, sessionId, sessionVersion, ...conn] = splitFields(at, value, 6, 'o=');
        if (!/^\d{1,20}$/.test(sessionId!) || !/^\d{1,20}$/.test(sessionVersion!)) at.fail('bad-origin', 'session id and version must be numbers');
        origin = { username: username!, sessionId: sessionId!, sessionVersion: sessionVersion!, ...connectionOf(at, conn, 'origin') };
      } else if (type === 's') {
        if (value === '') at.fail('bad-field', 's= must not be empty');
        sessionName = value;
      } else if (type === 't') {
        const t = /^(\d{1,15}) (\d{1,15})$/.exec(value);
        if (!t) at.fail('bad-field', 't= needs start and stop times');
        timing = [Number(t[1]), Number(t[2])];
      } else if (SESSION_EXTRA.has(type)) extra.push({ type, value });
    }
    at.n++;
    if (!origin) at.fail('missing', 'no o= line');
    if (sessionName === undefined) at.fail('missing', 'no s= line');
    if (!timing) at.fail('missing', 'no t= line');
    const media = drafts.map((d, i): SdpMedia => {
      if (!d.connection && !connection) at.fail('missing', `media ${i + 1} has no c= and the session has none`);
      return { ...d, direction: d.direction ?? sessionDirection ?? 'sendrecv' };
    });
    const sdp: Sdp = { version: 0, origin, sessionName, timing, attributes, extra, media };
    if (connection) sdp.connection = connection;
    return sdp;
  });
}

/** Throws RangeError when a value would break the line structure (a bug in the caller). */
export function writeSdp(s: Sdp): string {
  const out: Array<[rank: number, line: string]> = [];
  const put = (rank: number, type: string, value: string) => {
    if (CONTROL.test(value)) throw new RangeError(`SDP ${type}= value has a control character`);
    out.push([rank, `${type}=${value}`]);
  };
  const conn = (c: SdpConnection) => `${c.netType} ${c.addrType} ${c.address}`;
  const extras = (lines: SdpLine[], allowed: Set<string>, ranks: Record<string, number>) =>
    lines.forEach((l) => (allowed.has(l.type) ? put(ranks[l.type]!, l.type, l.value) : badExtra(l.type)));
  const o = s.origin;
  put(0, 'v', '0');
  put(1, 'o', `${o.username} ${o.sessionId} ${o.sessionVersion} ${conn(o)}`);
  put(2, 's', s.sessionName);
  if (s.connection) put(7, 'c', conn(s.connection));
  put(9, 't', `${s.timing[0]} ${s.timing[1]}`);
  extras(s.extra, SESSION_EXTRA, SESSION_RANK);
  for (const a of s.attributes) put(13, 'a', a);
  const text = sorted(out);
  for (const m of s.media) {
    out.length = 0;
    for (const pt of m.formats) if (!Number.isInteger(pt) || pt < 0 || pt > 127) throw new RangeError(`payload type ${pt}`);
    if ((m.tokens ?? m.formats).length === 0) throw new RangeError('an m= line needs at least one format');
    const port = m.portCount === undefined ? `${m.port}` : `${m.port}/${m.portCount}`;
    put(0, 'm', `${m.media} ${port} ${m.proto} ${(m.tokens ?? m.formats).join(' ')}`);
    if (m.connection) put(2, 'c', conn(m.connection));
    extras(m.extra, MEDIA_EXTRA, MEDIA_RANK);
    // Listed formats first in their order, then any map entries for formats not listed.
    const pts = [...new Set([...m.formats, ...m.rtpmap.keys(), ...m.fmtp.keys()])];
    for (const pt of pts) {
      const r = m.rtpmap.get(pt);
      if (r) put(5, 'a', `rtpmap:${pt} ${r.encoding}/${r.clockRate}${r.channels === undefined ? '' : `/${r.channels}`}`);
      const f = m.fmtp.get(pt);
      if (f !== undefined) put(5, 'a', `fmtp:${pt} ${f}`);
    }
    if (m.ptime !== undefined) put(5, 'a', `ptime:${m.ptime}`);
    put(5, 'a', m.direction);
    for (const a of m.attributes) put(5, 'a', a);
    text.push(...sorted(out));
  }
  return text.map((l) => `${l}\r\n`).join('');
}

// Array sort is stable, so lines of one rank keep the order they were put in.
const sorted = (lines: Array<[number, string]>): string[] => lines.sort((a, b) => a[0] - b[0]).map((l) => l[1]);
const badExtra = (type: string): never => {
  throw new RangeError(`SDP ${type}= cannot be kept at this level`);
};

// ---- offer/answer (RFC 3264) for G.711 + RFC 4733 -------------------------------------------

export type AudioCodec = 'PCMU' | 'PCMA';
/** RFC 3551's static payload types for the two G.711 laws. */
export const STATIC_AUDIO_PT: Readonly<Record<AudioCodec, number>> = Object.freeze({ PCMU: 0, PCMA: 8 });
/** The dynamic payload type Cisco phones and CUCM use for telephone-event. */
export const TELEPHONE_EVENT_PT = 101;

/**
 * Our side: IPv4 address and RTP port, the o= line's id and version (the caller bumps the
 * version on every new description in the session, as for a re-INVITE; default 0), the codecs
 * in our order of preference (offers use it; answers follow the offer's order), ptime default 20.
 */
export interface OurAudio {
  address: string;
  port: number;
  sessionId: string;
  sessionVersion?: string;
  username?: string;
  codecs: AudioCodec[];
  telephoneEvent: boolean;
  ptime?: number;
}

export interface AudioAnswer { answer: Sdp; codec: { pt: number; encoding: AudioCodec }; telephoneEventPt?: number; remote: { address: string; port: number } }

function ourSession(ours: OurAudio, media: SdpMedia[]): Sdp {
  if (!IP4.test(ours.address)) throw new RangeError(`our address ${ours.address} is not IPv4`);
  if (!Number.isInteger(ours.port) || ours.port < 1 || ours.port > 0xffff) throw new RangeError(`our RTP port ${ours.port}`);
  if (!/^\d{1,20}$/.test(ours.sessionId) || !/^\d{1,20}$/.test(ours.sessionVersion ?? '0')) throw new RangeError('session id and version must be digit strings');
  const at: SdpConnection = { netType: 'IN', addrType: 'IP4', address: ours.address };
  return {
    version: 0,
    origin: { username: ours.username ?? 'Cisco-SIPUA', sessionId: ours.sessionId, sessionVersion: ours.sessionVersion ?? '0', ...at },
    sessionName: 'SIP Call', connection: at, timing: [0, 0], attributes: [], extra: [], media,
  };
}

/** The G.711 law a payload type carries in this media: its rtpmap, else the static table. */
function g711Of(m: SdpMedia, pt: number): AudioCodec | undefined {
  const r = m.rtpmap.get(pt);
  if (!r) return pt === 0 ? 'PCMU' : pt === 8 ? 'PCMA' : undefined;
  const enc = r.encoding.toUpperCase();
  return (enc === 'PCMU' || enc === 'PCMA') && r.clockRate === 8000 && (r.channels ?? 1) === 1 ? enc : undefined;
}

/** The DTMF events (0–15) an RFC 4733 §7.1.1 list ("0-15,66") names; undefined when malformed. */
function dtmfEvents(list: string): number[] | undefined {
  const out = new Set<number>();
  for (const part of list.split(',')) {
    const r = /^(\d{1,3})(?:-(\d{1,3}))?$/.exec(part.trim());
    const lo = Number(r?.[1]);
    const hi = r?.[2] === undefined ? lo : Number(r[2]);
    if (!r || hi < lo || hi > 255) return undefined;
    for (let e = lo; e <= Math.min(hi, 15); e++) out.add(e);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * Answers an offer with one G.711 stream: the first RTP/AVP audio m-line (port not 0, IPv4)
 * whose format list holds a law we accept takes the first such format in the offer's order,
 * plus the offer's 8 kHz telephone-event type (events narrowed to DTMF 0–15) when we speak
 * RFC 4733. Every other m-line is answered rejected (port 0, the offer's formats), since an
 * answer must carry exactly the offer's m-lines (RFC 3264 §6). No acceptable stream at all
 * is an error: the caller answers 488 Not Acceptable Here.
 */
export function answerAudio(offer: Sdp, ours: OurAudio): Result<AudioAnswer> {
  let chosen: Omit<AudioAnswer, 'answer'> | undefined;
  const media = offer.media.map((m): SdpMedia => {
    const conn = m.connection ?? offer.connection;
    if (!chosen && m.media === 'audio' && m.proto === 'RTP/AVP' && m.port !== 0 && conn?.addrType === 'IP4') {
      const pt = m.formats.find((f) => {
        const c = g711Of(m, f);
        return c !== undefined && ours.codecs.includes(c);
      });
      if (pt !== undefined) {
        const encoding = g711Of(m, pt)!;
        chosen = { codec: { pt, encoding }, remote: { address: conn.address, port: m.port } };
        const answer: SdpMedia = {
          media: 'audio', port: ours.port, proto: 'RTP/AVP', formats: [pt], rtpmap: new Map([[pt, { encoding, clockRate: 8000 }]]),
          fmtp: new Map(), direction: ANSWER_DIRECTION[m.direction], ptime: m.ptime ?? ours.ptime ?? 20, attributes: [], extra: [],
        };
        const te = m.formats.find((f) => m.rtpmap.get(f)?.encoding.toLowerCase() === 'telephone-event' && m.rtpmap.get(f)?.clockRate === 8000);
        // No fmtp means 0-15 (RFC 4733 §7.1.1); a malformed one or one without DTMF drops DTMF, not the call.
        const events = te === undefined || !ours.telephoneEvent ? undefined : dtmfEvents(m.fmtp.get(te) ?? '0-15');
        if (te !== undefined && events && events.length > 0) {
          chosen.telephoneEventPt = te;
          answer.formats.push(te);
          answer.rtpmap.set(te, { encoding: 'telephone-event', clockRate: 8000 });
          answer.fmtp.set(te, events.length === 16 ? '0-15' : events.join(','));
        }
        return answer;
      }
    }
    const rejected = { media: m.media, port: 0, proto: m.proto, formats: [...m.formats], rtpmap: new Map(), fmtp: new Map(), attributes: [], extra: [] };
    return { ...rejected, direction: 'inactive', ...(m.tokens ? { tokens: [...m.tokens] } : {}) };
  });
  const answer = ourSession(ours, media);
  if (!chosen) return err(new WireError(FORMAT, 'no-common-codec', `no RTP/AVP audio stream on IPv4 offers ${ours.codecs.join(' or ')}`));
  return ok({ answer, ...chosen });
}

/** Our offer: the codecs at their static types in our order, telephone-event 101 for DTMF 0–15, 20 ms, sendrecv. */
export function offerAudio(ours: OurAudio): Sdp {
  if (ours.codecs.length === 0) throw new RangeError('an offer needs at least one codec');
  const formats = ours.codecs.map((c) => STATIC_AUDIO_PT[c]);
  const rtpmap = new Map<number, SdpRtpmap>(ours.codecs.map((c) => [STATIC_AUDIO_PT[c], { encoding: c, clockRate: 8000 }]));
  const fmtp = new Map<number, string>();
  if (ours.telephoneEvent) {
    formats.push(TELEPHONE_EVENT_PT);
    rtpmap.set(TELEPHONE_EVENT_PT, { encoding: 'telephone-event', clockRate: 8000 });
    fmtp.set(TELEPHONE_EVENT_PT, '0-15');
  }
  return ourSession(ours, [{
    media: 'audio', port: ours.port, proto: 'RTP/AVP', formats: [...new Set(formats)], rtpmap, fmtp,
    direction: 'sendrecv', ptime: ours.ptime ?? 20, attributes: [], extra: [],
  }]);
}
