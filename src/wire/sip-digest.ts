/**
 * HTTP digest authentication as SIP uses it (RFC 3261 §22, RFC 2617, RFC 7616 for SHA-256).
 * The phone answers a 401/407 challenge; the companion's registrar issues and checks them.
 */
import { createHash } from 'node:crypto';

export interface DigestChallenge {
  realm: string;
  nonce: string;
  algorithm: 'MD5' | 'SHA-256';
  qop: 'auth' | undefined;
  opaque: string | undefined;
  stale: boolean;
}

/** Parses `Digest realm="x", nonce="y", qop="auth,auth-int", algorithm=MD5`. */
export function parseDigestParams(v: string): Record<string, string> | undefined {
  const m = /^\s*Digest\s+(.*)$/is.exec(v);
  if (!m) return undefined;
  const out: Record<string, string> = Object.create(null);
  const re = /([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]*)\s*(?:,|$)/g;
  for (let p = re.exec(m[1]!); p; p = re.exec(m[1]!)) {
    out[p[1]!.toLowerCase()] = p[3] !== undefined ? p[3].replace(/\\(.)/g, '$1') : p[2]!;
  }
  return out;
}

export function parseDigestChallenge(v: string): DigestChallenge | undefined {
  const p = parseDigestParams(v);
  if (!p || p['realm'] === undefined || !p['nonce']) return undefined;
  const alg = (p['algorithm'] ?? 'MD5').toUpperCase();
  if (alg !== 'MD5' && alg !== 'SHA-256') return undefined;
  const qops = (p['qop'] ?? '').split(',').map((s) => s.trim());
  return {
    realm: p['realm'],
    nonce: p['nonce'],
    algorithm: alg,
    qop: qops.includes('auth') ? 'auth' : undefined,
    opaque: p['opaque'],
    stale: (p['stale'] ?? '').toLowerCase() === 'true',
  };
}

const hash = (alg: DigestChallenge['algorithm'], s: string) => createHash(alg === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex');

export interface DigestAnswer {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: DigestChallenge['algorithm'];
  qop: 'auth' | undefined;
  nc: string | undefined;
  cnonce: string | undefined;
  opaque: string | undefined;
}

export function digestResponse(a: Omit<DigestAnswer, 'response'>, method: string, password: string): string {
  const ha1 = hash(a.algorithm, `${a.username}:${a.realm}:${password}`);
  const ha2 = hash(a.algorithm, `${method}:${a.uri}`);
  return a.qop ? hash(a.algorithm, `${ha1}:${a.nonce}:${a.nc}:${a.cnonce}:${a.qop}:${ha2}`) : hash(a.algorithm, `${ha1}:${a.nonce}:${ha2}`);
}

export function answerChallenge(c: DigestChallenge, method: string, uri: string, username: string, password: string, cnonce: string, nc = 1): string {
  const base = { username, realm: c.realm, nonce: c.nonce, uri, algorithm: c.algorithm, qop: c.qop, nc: c.qop ? nc.toString(16).padStart(8, '0') : undefined, cnonce: c.qop ? cnonce : undefined, opaque: c.opaque };
  const response = digestResponse(base, method, password);
  const q = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
  const parts = [`username=${q(username)}`, `realm=${q(c.realm)}`, `nonce=${q(c.nonce)}`, `uri=${q(uri)}`, `response=${q(response)}`, `algorithm=${c.algorithm}`];
  if (c.qop) parts.push(`qop=${c.qop}`, `nc=${base.nc}`, `cnonce=${q(cnonce)}`);
  if (c.opaque !== undefined) parts.push(`opaque=${q(c.opaque)}`);
  return `Digest ${parts.join(', ')}`;
}

/** Reads an Authorization header into the fields a verifier needs. */
export function parseDigestAnswer(v: string): DigestAnswer | undefined {
  const p = parseDigestParams(v);
  if (!p || !p['username'] || p['realm'] === undefined || !p['nonce'] || !p['uri'] || !p['response']) return undefined;
  const alg = (p['algorithm'] ?? 'MD5').toUpperCase();
  if (alg !== 'MD5' && alg !== 'SHA-256') return undefined;
  const qop = p['qop'] === 'auth' ? 'auth' : undefined;
  return { username: p['username'], realm: p['realm'], nonce: p['nonce'], uri: p['uri'], response: p['response'], algorithm: alg, qop, nc: p['nc'], cnonce: p['cnonce'], opaque: p['opaque'] };
}
