/**
 * Answering a digest challenge (RFC 3261 §22.2, §8.1.3.5): a 401 (WWW-Authenticate) or 407
 * (Proxy-Authenticate) is answered by sending the request again — same Call-ID, From tag and
 * To, CSeq one more, a new branch — with Authorization or Proxy-Authorization computed by
 * `src/wire/sip-digest.ts`. The UA answers once per request: a second challenge for the same
 * request means the credentials are wrong (unless the server says the nonce was stale).
 */
import { randomBytes } from 'node:crypto';
import { answerChallenge, parseDigestAnswer, parseDigestChallenge } from '../wire/sip-digest.ts';
import { type SipRequest, type SipResponse, header, headers } from '../wire/sip.ts';
import { cseqOf, withHeader, withoutHeader } from './message.ts';

export interface SipCredentials {
  username: string;
  password: string;
}

/** Fixed credentials, or a function that picks them by realm (undefined: do not answer). */
export type CredentialSource = SipCredentials | ((realm: string, res: SipResponse) => SipCredentials | undefined);

/**
 * The request again, answering the challenge in `res`, with CSeq `nextSeq` and no Via (the
 * transaction layer adds one with a new branch). Undefined when there is nothing to answer
 * with: not a 401/407, no digest challenge we can compute, no credentials for the realm, or the
 * request already answered this realm and the nonce was not stale (a wrong password).
 */
export function authorizedRetry(req: SipRequest, res: SipResponse, creds: CredentialSource | undefined, nextSeq: number, nc = 1): SipRequest | undefined {
  if ((res.status !== 401 && res.status !== 407) || !creds) return undefined;
  const [challengeName, answerName] = res.status === 401 ? ['www-authenticate', 'Authorization'] : ['proxy-authenticate', 'Proxy-Authorization'];
  const challenge = headers(res, challengeName).map(parseDigestChallenge).find((c) => c !== undefined);
  if (!challenge) return undefined;
  const previous = parseDigestAnswer(header(req, answerName) ?? '');
  if (previous && previous.realm === challenge.realm && !challenge.stale) return undefined;
  const c = typeof creds === 'function' ? creds(challenge.realm, res) : creds;
  if (!c) return undefined;
  const answer = answerChallenge(challenge, req.method, req.uri, c.username, c.password, randomBytes(8).toString('hex'), nc);
  let out = withoutHeader(req, 'via');
  out = withHeader(out, 'CSeq', `${nextSeq} ${cseqOf(req)?.method ?? req.method}`);
  return withHeader(withoutHeader(out, answerName), answerName, answer);
}
