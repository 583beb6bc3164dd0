/**
 * Dialogs (RFC 3261 §12): the state two user agents share after an INVITE — Call-ID, local and
 * remote tags, local and remote CSeq, the route set (from Record-Route) and the remote target
 * (from Contact) — and the requests built from it. Pure state and builders: no I/O here; the UA
 * core (user-agent.ts) sends what this builds.
 *
 *   early (1xx with a To tag) ──2xx──► confirmed ──BYE either way──► terminated
 *     └── 300-699 / CANCEL ─────────────────────────────────────────► terminated
 */
import { randomInt } from 'node:crypto';
import { type SipHeaders, type SipRequest, type SipResponse, header, headers, parseNameAddr, parseSipUri, splitList } from '../wire/sip.ts';
import { EMPTY_BODY, type SipDestination, type TransportKind, cseqOf, formatParams, fromTag, toTag, uriDestination } from './message.ts';

export type DialogState = 'early' | 'confirmed' | 'terminated';

/** Why a dialog ended, for the UA's user. */
export type DialogEnd = 'bye-sent' | 'bye-received' | 'rejected' | 'cancelled' | 'no-ack' | 'failed';

export interface InDialogRequestOptions {
  headers?: SipHeaders;
  body?: Uint8Array;
  contentType?: string;
}

/** A name-addr without one of its parameters (the tag, when a From/To becomes a dialog's URI). */
export function nameAddrWithout(value: string, param: string): string {
  const na = parseNameAddr(value);
  if (!na) return value;
  const params = Object.fromEntries(Object.entries(na.params).filter(([k]) => k !== param));
  const display = na.display ? `"${na.display.replace(/["\\]/g, '\\$&')}" ` : '';
  return `${display}<${na.uri}>${formatParams(params)}`;
}

/** Record-Route/Route values one by one (a header line may carry several). */
export const routeValues = (m: SipRequest | SipResponse, name: 'record-route' | 'route'): string[] => headers(m, name).flatMap(splitList);

export class Dialog {
  readonly callId: string;
  readonly localTag: string;
  remoteTag: string;
  state: DialogState;
  /** Our CSeq: the last number we used; the next request takes one more (§12.2.1.1). */
  localSeq: number;
  /** The peer's last CSeq, undefined until it sends a request in the dialog (§12.2.2). */
  remoteSeq: number | undefined;
  /** From/To of our requests, without tags. */
  readonly localUri: string;
  readonly remoteUri: string;
  remoteTarget: string;
  routeSet: string[];
  /** sips Request-URI over TLS (§12.1.1): the route set and target must stay secure. */
  readonly secure: boolean;
  /** Our Contact, for requests and target-refresh answers in the dialog. */
  localContact: string;
  /** The transport when a target URI names none: the one the dialog was made over. */
  readonly transport: TransportKind;
  readonly role: 'uac' | 'uas';
  /**
   * When set, every request in the dialog goes here (the connection or address the dialog was
   * made over) instead of to the remote target: how a registrar's UA reaches a client whose
   * Contact is not reachable from outside its own flow (RFC 5626 §5.3). The Request-URI stays
   * the remote target.
   */
  flow: SipDestination | undefined;
  private readonly endHandlers: Array<(why: DialogEnd) => void> = [];

  private constructor(p: {
    callId: string; localTag: string; remoteTag: string; state: DialogState; localSeq: number; remoteSeq: number | undefined;
    localUri: string; remoteUri: string; remoteTarget: string; routeSet: string[]; secure: boolean; localContact: string; transport: TransportKind; role: 'uac' | 'uas';
  }) {
    this.callId = p.callId;
    this.localTag = p.localTag;
    this.remoteTag = p.remoteTag;
    this.state = p.state;
    this.localSeq = p.localSeq;
    this.remoteSeq = p.remoteSeq;
    this.localUri = p.localUri;
    this.remoteUri = p.remoteUri;
    this.remoteTarget = p.remoteTarget;
    this.routeSet = p.routeSet;
    this.secure = p.secure;
    this.localContact = p.localContact;
    this.transport = p.transport;
    this.role = p.role;
  }

  /**
   * §12.1.2: the UAC's dialog from a 2xx (confirmed) or a 101-199 with a To tag (early) to its
   * INVITE. Route set: the response's Record-Route in reverse; remote target: its Contact.
   */
  static asUac(invite: SipRequest, res: SipResponse, transport: TransportKind): Dialog {
    const remoteTag = toTag(res);
    if (!remoteTag) throw new Error('a response without a To tag does not make a dialog');
    return new Dialog({
      callId: header(invite, 'call-id') ?? '',
      localTag: fromTag(invite) ?? '',
      remoteTag,
      state: res.status >= 200 ? 'confirmed' : 'early',
      localSeq: cseqOf(invite)?.seq ?? 0,
      remoteSeq: undefined,
      localUri: nameAddrWithout(header(invite, 'from') ?? '', 'tag'),
      remoteUri: nameAddrWithout(header(res, 'to') ?? header(invite, 'to') ?? '', 'tag'),
      remoteTarget: contactUri(res) ?? invite.uri,
      routeSet: routeValues(res, 'record-route').reverse(),
      secure: invite.uri.startsWith('sips:') && transport === 'TLS',
      localContact: header(invite, 'contact') ?? '',
      transport,
      role: 'uac',
    });
  }

  /**
   * §12.1.1: the UAS's dialog when it answers an INVITE with a 2xx (or a 1xx with a tag).
   * Route set: the request's Record-Route in order; remote target: its Contact; our CSeq starts
   * empty (a random number when we first send).
   */
  static asUas(invite: SipRequest, localTag: string, localContact: string, transport: TransportKind, state: DialogState = 'confirmed'): Dialog {
    return new Dialog({
      callId: header(invite, 'call-id') ?? '',
      localTag,
      remoteTag: fromTag(invite) ?? '',
      state,
      localSeq: randomInt(1, 2 ** 31 - 1),
      remoteSeq: cseqOf(invite)?.seq,
      localUri: nameAddrWithout(header(invite, 'to') ?? '', 'tag'),
      remoteUri: nameAddrWithout(header(invite, 'from') ?? '', 'tag'),
      remoteTarget: contactUri(invite) ?? '',
      routeSet: routeValues(invite, 'record-route'),
      secure: invite.uri.startsWith('sips:') && transport === 'TLS',
      localContact,
      transport,
      role: 'uas',
    });
  }

  /** `callId|localTag|remoteTag`: how the UA finds a dialog from a message. */
  get id(): string {
    return dialogKey(this.callId, this.localTag, this.remoteTag);
  }

  /**
   * §13.2.2.4 / §12.2.1.2: a 2xx for the INVITE confirms an early dialog and the route set and
   * target are taken again from it; a 2xx to a re-INVITE refreshes the target.
   */
  confirm(res: SipResponse): void {
    if (this.state === 'early' && this.role === 'uac') this.routeSet = routeValues(res, 'record-route').reverse();
    if (this.state !== 'terminated') this.state = 'confirmed';
    this.remoteTarget = contactUri(res) ?? this.remoteTarget;
  }

  /** A target refresh (a re-INVITE or UPDATE from the peer, §12.2.2; a later 1xx in an early dialog) moves the remote target. */
  refreshTarget(m: SipRequest | SipResponse): void {
    this.remoteTarget = contactUri(m) ?? this.remoteTarget;
  }

  /**
   * §12.2.2: a request's CSeq against the peer's last one. Lower is out of order (the UAS
   * answers 500); ACK and CANCEL reuse their INVITE's number and are not counted.
   */
  checkRemoteSeq(req: SipRequest): boolean {
    const seq = cseqOf(req)?.seq;
    if (seq === undefined) return false;
    if (req.method === 'ACK' || req.method === 'CANCEL') return true;
    if (this.remoteSeq !== undefined && seq <= this.remoteSeq) return false;
    this.remoteSeq = seq;
    return true;
  }

  /**
   * Request-URI, Route headers and next hop per §12.2.1.1 and §8.1.2: with a loose router
   * (`lr`) first, the target is the Request-URI and the request goes to that router; with a
   * strict one, the router becomes the Request-URI and the target goes last in Route.
   */
  private target(): { uri: string; routes: string[]; next: string } {
    if (this.routeSet.length === 0) return { uri: this.remoteTarget, routes: [], next: this.remoteTarget };
    const firstUri = parseNameAddr(this.routeSet[0]!)?.uri ?? '';
    if (parseSipUri(firstUri)?.params['lr'] !== undefined) return { uri: this.remoteTarget, routes: this.routeSet, next: firstUri };
    return { uri: firstUri, routes: [...this.routeSet.slice(1), `<${this.remoteTarget}>`], next: firstUri };
  }

  /** Where a request in this dialog goes (the host may still be a name to resolve). */
  destination(): SipDestination | undefined {
    if (this.flow) return this.flow;
    return uriDestination(this.target().next, this.transport);
  }

  /**
   * A request within the dialog (§12.2.1.1): To and From with both tags, the dialog's Call-ID,
   * CSeq one more than the last (except ACK and CANCEL, which take their INVITE's), the Request
   * URI and Route from the route set and target. No Via: the transaction layer adds it.
   */
  createRequest(method: string, o: InDialogRequestOptions = {}): SipRequest {
    if (this.state === 'terminated' && method !== 'ACK') throw new Error(`the dialog is over; no ${method} in it`);
    const seq = method === 'ACK' || method === 'CANCEL' ? this.localSeq : ++this.localSeq;
    const { uri, routes } = this.target();
    const hs: SipHeaders = [
      ['Max-Forwards', '70'],
      ['From', `${this.localUri};tag=${this.localTag}`],
      ['To', `${this.remoteUri};tag=${this.remoteTag}`],
      ['Call-ID', this.callId],
      ['CSeq', `${seq} ${method}`],
    ];
    for (const r of routes) hs.push(['Route', r]);
    if (method === 'INVITE' || method === 'UPDATE' || method === 'SUBSCRIBE' || method === 'REFER') hs.push(['Contact', this.localContact]);
    if (o.contentType) hs.push(['Content-Type', o.contentType]);
    hs.push(...(o.headers ?? []));
    return { kind: 'request', method, uri, headers: hs, body: o.body ?? EMPTY_BODY };
  }

  /** §13.2.2.4: the UAC core's ACK for a 2xx — CSeq number of the INVITE it acknowledges, a fresh branch. */
  createAck(inviteSeq: number, o: InDialogRequestOptions = {}): SipRequest {
    const req = this.createRequest('ACK', o);
    return { ...req, headers: req.headers.map(([n, v]): [string, string] => (n === 'CSeq' ? [n, `${inviteSeq} ACK`] : [n, v])) };
  }

  /** Why it ended, once it has. */
  endReason: DialogEnd | undefined;

  /** Calls back when the dialog ends — at once if it already has (a BYE may beat the listener). */
  onEnd(handler: (why: DialogEnd) => void): void {
    if (this.endReason !== undefined) handler(this.endReason);
    else this.endHandlers.push(handler);
  }

  terminate(why: DialogEnd): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.endReason = why;
    for (const h of this.endHandlers.splice(0)) {
      try {
        h(why);
      } catch {
        // a listener's bug does not keep the dialog alive
      }
    }
  }
}

export const dialogKey = (callId: string, localTag: string, remoteTag: string): string => `${callId}|${localTag}|${remoteTag}`;

/** The URI of the first Contact, if any. */
export function contactUri(m: SipRequest | SipResponse): string | undefined {
  const first = headers(m, 'contact').flatMap(splitList)[0];
  return first === undefined ? undefined : parseNameAddr(first)?.uri;
}
