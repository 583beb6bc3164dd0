/**
 * A small SIP user agent core (RFC 3261 §8, §12–§15) on the transaction layer: the TU of
 * transaction-layer.ts. It sends requests and gives back their final response (provisional
 * ones to a callback), answers digest challenges once, places and takes INVITEs (invite.ts),
 * keeps the dialogs, routes requests inside them (BYE, re-INVITE, INFO …) and ACKs 2xx
 * retransmissions. Media is not its business: bodies are bytes in and out.
 *
 *   const ua = new UserAgent({ transports: [udp], clock, aor: 'sip:1001@10.0.0.1' });
 *   const call = ua.invite({ uri: 'sip:1002@10.0.0.2', body: sdp, contentType: 'application/sdp' });
 *   const { response, dialog } = await call.result;   // 200 and the dialog, ACK sent
 *   await ua.bye(dialog!);
 *
 *   ua.onInvite = async (inv) => { await inv.progress(180); const d = await inv.accept({ body, contentType }); };
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Clock } from '../common/clock.ts';
import { type SipHeaders, type SipRequest, type SipResponse, header, parseSipUri, responseTo } from '../wire/sip.ts';
import { type CredentialSource, authorizedRetry } from './auth.ts';
import { Dialog, type DialogEnd, dialogKey } from './dialog.ts';
import { type BodyOptions, IncomingInvite, OutgoingInvite, type UaCore, localResponse } from './invite.ts';
import { EMPTY_BODY, type HostPort, type SipDestination, type TransportKind, cseqOf, fromTag, inheritTopVia, newCallId, newTag, toTag, uriDestination, uriHost, uriOf, withNewVia } from './message.ts';
import type { ServerTransaction } from './server-transaction.ts';
import type { SipTimerSettings, SipTimerValues } from './timers.ts';
import { TransactionLayer, type TransactionUser } from './transaction-layer.ts';
import { type SipSource, type Transport, type TransportDrop, TransportSet } from './transport.ts';

export interface UserAgentOptions {
  /** The transports to use (one per kind), or a set already made. */
  transports: Transport[] | TransportSet;
  clock: Clock;
  timers?: Partial<SipTimerSettings>;
  /** Our address of record: the From of requests that name none (`sip:1001@cm.example`). */
  aor: string;
  displayName?: string;
  /** The user part of our Contact; the address of record's user unless said. */
  contactUser?: string;
  /** Builds our Contact for a message leaving from `local` over `transport` (a Cisco phone's carries its device parameters). */
  contact?: (local: HostPort, transport: TransportKind) => string;
  /** User-Agent on requests, Server on responses. */
  userAgent?: string;
  /** For 401/407: answered once per request. */
  credentials?: CredentialSource;
  /**
   * The transport for URIs that name none. RFC 3263 says UDP for `sip:`; a UA with no UDP
   * transport (a phone on its call manager's TCP connection) means its own. Default: UDP when
   * there is a UDP transport, else the first given.
   */
  defaultTransport?: TransportKind;
  /** Host names in URIs to addresses; the system resolver (A records) unless said. No SRV/NAPTR. */
  resolveHost?: (host: string) => Promise<string>;
  /**
   * Requests in a dialog go over the flow it was made on (the connection or address an INVITE
   * came from or went to), not to the remote target: for a registrar's UA whose clients are
   * reachable only over their own connection (RFC 5626 §5.3). Default false.
   */
  dialogFlows?: boolean;
  onDrop?: (d: TransportDrop) => void;
}

export interface RequestSpec extends BodyOptions {
  method: string;
  /** Request-URI. */
  uri: string;
  /** To (name-addr); `<uri>` unless said. */
  to?: string;
  /** From without tag; our address of record unless said. */
  from?: string;
  /** Dialog-less series (REGISTER refreshes) keep their Call-ID, From tag and count CSeq themselves. */
  fromTag?: string;
  callId?: string;
  cseq?: number;
  /** true: our Contact; a string: that Contact; nothing: INVITE gets ours, other methods none. */
  contact?: boolean | string;
  /** A preloaded route (an outbound proxy), as Route values. */
  route?: string[];
  /** Where to send; from the first route or the Request-URI unless said (RFC 3263 without DNS SRV). */
  destination?: SipDestination;
  onProvisional?: (r: SipResponse) => void;
}

/** A request from outside any dialog, or inside one, for the application to answer. */
export class IncomingRequest {
  readonly request: SipRequest;
  readonly source: SipSource;
  readonly dialog: Dialog | undefined;
  private readonly tx: ServerTransaction;
  private readonly extra: SipHeaders;

  constructor(tx: ServerTransaction, dialog: Dialog | undefined, extra: SipHeaders) {
    this.tx = tx;
    this.request = tx.request;
    this.source = tx.source;
    this.dialog = dialog;
    this.extra = extra;
  }

  get answered(): boolean {
    return this.tx.answered;
  }

  /** Answers; a final response gets a To tag (the dialog's, else a new one). */
  respond(status: number, o: BodyOptions & { reason?: string } = {}): void {
    const hs: SipHeaders = [...this.extra, ...(o.contentType ? ([['Content-Type', o.contentType]] as SipHeaders) : []), ...(o.headers ?? [])];
    const tag = status > 100 ? (this.dialog?.localTag ?? toTag(this.request) ?? newTag()) : undefined;
    const made = responseTo(this.request, status, hs, o.body ?? EMPTY_BODY, tag);
    const res = o.reason ? { ...made, reason: o.reason } : made;
    inheritTopVia(res, this.request);
    this.tx.respond(res);
  }
}

export class UserAgent {
  readonly layer: TransactionLayer;
  readonly clock: Clock;
  readonly timers: SipTimerValues;
  private readonly o: UserAgentOptions;
  private readonly byId = new Map<string, Dialog>();
  private readonly acks = new Map<string, { ack: SipRequest; to: SipDestination }>();
  private readonly ackWaiters = new Map<string, (ack: SipRequest) => void>();
  private readonly incoming = new WeakMap<ServerTransaction, IncomingInvite>();
  private nc = 0;
  private readonly core: UaCore;
  readonly defaultTransport: TransportKind;
  /** New INVITEs. Unset: 480 Temporarily Unavailable. */
  onInvite: ((inv: IncomingInvite) => void | Promise<void>) | undefined;
  /** re-INVITEs in a dialog. Unset: 488 Not Acceptable Here (this core does not negotiate media). */
  onReinvite: ((inv: IncomingInvite) => void | Promise<void>) | undefined;
  /** Other requests outside a dialog (OPTIONS, NOTIFY, MESSAGE …). Unset: 200 to OPTIONS, 405 to the rest. */
  onRequest: ((req: IncomingRequest) => void | Promise<void>) | undefined;
  /** Requests inside a dialog other than BYE, ACK and INVITE (INFO, NOTIFY …). Unset: 200 to INFO/OPTIONS/NOTIFY, 501 to the rest. */
  onDialogRequest: ((req: IncomingRequest) => void | Promise<void>) | undefined;

  constructor(o: UserAgentOptions) {
    this.o = o;
    this.clock = o.clock;
    const transports = o.transports instanceof TransportSet ? o.transports : new TransportSet(o.transports);
    this.layer = new TransactionLayer({ transports, clock: o.clock, ...(o.timers ? { timers: o.timers } : {}), ...(o.onDrop ? { onDrop: o.onDrop } : {}) });
    this.timers = this.layer.timers;
    this.defaultTransport = o.defaultTransport ?? (transports.kinds.includes('UDP') ? 'UDP' : (transports.kinds[0] ?? 'UDP'));
    const tu: TransactionUser = {
      onRequest: (tx) => this.onServerTransaction(tx),
      onAck: (ack) => this.onAck(ack),
      onStrayResponse: (res) => this.onStray(res),
    };
    this.layer.setUser(tu);
    this.core = {
      layer: this.layer, clock: this.clock, timers: this.timers,
      resolve: (d) => this.resolve(d),
      contactFor: (local, t) => this.contactFor(local, t),
      authorize: (req, res, next) => authorizedRetry(req, res, this.o.credentials, next, ++this.nc),
      register: (d) => this.register(d),
      rememberAck: (d, ack, to) => {
        this.acks.set(d.id, { ack, to });
        this.layer.sendStateless(ack, to).catch(() => {});
      },
      expectAck: (d, seq, fn) => {
        const k = `${d.id}|${seq}`;
        this.ackWaiters.set(k, fn);
        return () => this.ackWaiters.delete(k);
      },
      bye: (d) => this.bye(d),
      responseHeaders: () => (this.o.userAgent ? [['Server', this.o.userAgent]] : []),
      dialogFlows: o.dialogFlows ?? false,
    };
  }

  /** Dialogs alive now (early and confirmed). */
  get dialogs(): Dialog[] {
    return [...this.byId.values()];
  }

  findDialog(callId: string, localTag: string, remoteTag: string): Dialog | undefined {
    return this.byId.get(dialogKey(callId, localTag, remoteTag));
  }

  private register(d: Dialog): void {
    const id = d.id;
    this.byId.set(id, d);
    d.onEnd(() => {
      if (this.byId.get(id) === d) this.byId.delete(id);
      this.acks.delete(id);
    });
  }

  /** Our Contact for a message leaving from `local`. */
  contactFor(local: HostPort, transport: TransportKind): string {
    if (this.o.contact) return this.o.contact(local, transport);
    const user = this.o.contactUser ?? parseSipUri(this.o.aor)?.user ?? '';
    const t = transport === 'UDP' ? '' : `;transport=${transport.toLowerCase()}`;
    return `<sip:${user ? `${encodeURIComponent(user)}@` : ''}${uriHost(local.host)}:${local.port}${t}>`;
  }

  /** A destination whose host is a name, resolved to an address. */
  async resolve(d: SipDestination): Promise<SipDestination> {
    if (isIP(d.host)) return d;
    const address = this.o.resolveHost ? await this.o.resolveHost(d.host) : (await lookup(d.host, { family: 4 })).address;
    return { ...d, host: address };
  }

  private async destinationFor(spec: Omit<RequestSpec, 'method'>): Promise<SipDestination> {
    if (spec.destination) return spec.destination;
    const next = spec.route?.length ? uriOf(spec.route[0]) : spec.uri;
    const d = next === undefined ? undefined : uriDestination(next, this.defaultTransport);
    if (!d) throw new Error(`no destination in ${next ?? spec.uri}`);
    return this.resolve(d);
  }

  /** §8.1.1: a request outside any dialog. */
  private async build(spec: RequestSpec, dest: SipDestination): Promise<SipRequest> {
    const from = spec.from ?? (this.o.displayName ? `"${this.o.displayName.replace(/["\\]/g, '\\$&')}" <${this.o.aor}>` : `<${this.o.aor}>`);
    const hs: SipHeaders = [
      ['Max-Forwards', '70'],
      ['From', `${from};tag=${spec.fromTag ?? newTag()}`],
      ['To', spec.to ?? `<${spec.uri}>`],
      ['Call-ID', spec.callId ?? newCallId()],
      ['CSeq', `${spec.cseq ?? 1 + Math.floor(Math.random() * 10_000)} ${spec.method}`],
    ];
    for (const r of spec.route ?? []) hs.push(['Route', r]);
    const contact = spec.contact ?? spec.method === 'INVITE';
    if (typeof contact === 'string') hs.push(['Contact', contact]);
    else if (contact) hs.push(['Contact', this.contactFor(await this.layer.transports.localFor(dest), dest.transport)]);
    if (this.o.userAgent) hs.push(['User-Agent', this.o.userAgent]);
    if (spec.contentType) hs.push(['Content-Type', spec.contentType]);
    hs.push(...(spec.headers ?? []));
    return { kind: 'request', method: spec.method, uri: spec.uri, headers: hs, body: spec.body ?? EMPTY_BODY };
  }

  /** One client transaction, its final response (a local 408/503 when none came). */
  private transact(req: SipRequest, to: SipDestination, onProvisional?: (r: SipResponse) => void): Promise<SipResponse> {
    return new Promise((resolve) => {
      this.layer.sendRequest(req, to, {
        onResponse: (r) => (r.status < 200 ? onProvisional?.(r) : resolve(r)),
        onFailure: (kind, detail) => resolve(localResponse(req, kind === 'timeout' ? 408 : 503, detail)),
      });
    });
  }

  /**
   * Sends a request outside a dialog (REGISTER, OPTIONS, MESSAGE, SUBSCRIBE …) and resolves
   * with its final response; a 401/407 is answered once with the credentials (the answer's
   * CSeq is one more: read it from the response to continue a series). INVITE: use invite().
   */
  async request(spec: RequestSpec): Promise<SipResponse> {
    if (spec.method === 'INVITE' || spec.method === 'ACK' || spec.method === 'CANCEL') throw new Error(`${spec.method} is not sent with request()`);
    const dest = await this.destinationFor(spec);
    const req = await this.build(spec, dest);
    const res = await this.transact(req, dest, spec.onProvisional);
    const retry = authorizedRetry(req, res, this.o.credentials, cseqOf(req)!.seq + 1, ++this.nc);
    return retry ? this.transact(retry, dest, spec.onProvisional) : res;
  }

  /** Places a call: the result resolves with the final response and, on 2xx, the dialog (ACKed). */
  invite(spec: Omit<RequestSpec, 'method'>): OutgoingInvite {
    const prepared = (async () => {
      const dest = await this.destinationFor(spec);
      return { request: await this.build({ ...spec, method: 'INVITE' }, dest), dest };
    })();
    return new OutgoingInvite(this.core, prepared, spec.onProvisional);
  }

  /** A request inside a dialog (§12.2.1.1), with one digest answer. */
  async requestInDialog(dialog: Dialog, method: string, o: BodyOptions = {}): Promise<SipResponse> {
    const req = dialog.createRequest(method, o);
    const to = await this.resolve(dialog.destination() ?? { transport: dialog.transport, host: '', port: 0 });
    const res = await this.transact(req, to);
    const retry = authorizedRetry(req, res, this.o.credentials, dialog.localSeq + 1, ++this.nc);
    if (!retry) return res;
    dialog.localSeq++;
    return this.transact(retry, to);
  }

  /** §15.1.1: the session is over as soon as the BYE is sent; resolves with the BYE's answer. */
  async bye(dialog: Dialog, o: BodyOptions = {}): Promise<SipResponse> {
    if (dialog.state === 'terminated') throw new Error('the dialog is already over');
    const req = dialog.createRequest('BYE', o);
    dialog.terminate('bye-sent');
    const to = await this.resolve(dialog.destination() ?? { transport: dialog.transport, host: '', port: 0 });
    return this.transact(req, to);
  }

  /** A re-INVITE (new offer or session refresh): on 2xx the target is refreshed and the ACK sent (again for each 2xx retransmission). */
  async reinvite(dialog: Dialog, o: BodyOptions = {}): Promise<SipResponse> {
    const req = dialog.createRequest('INVITE', o);
    const to = await this.resolve(dialog.destination() ?? { transport: dialog.transport, host: '', port: 0 });
    return new Promise((resolve) => {
      let ack: SipRequest | undefined;
      this.layer.sendRequest(req, to, {
        onResponse: (r) => {
          if (r.status < 200) return;
          if (r.status < 300 && !ack) {
            dialog.confirm(r);
            ack = withNewVia(dialog.createAck(cseqOf(req)!.seq), to.transport);
            this.core.rememberAck(dialog, ack, to);
          } else if (r.status < 300 && ack) this.layer.sendStateless(ack, to).catch(() => {});
          resolve(r);
        },
        onFailure: (kind, detail) => resolve(localResponse(req, kind === 'timeout' ? 408 : 503, detail)),
      });
    });
  }

  // ---- as UAS ------------------------------------------------------------------------------

  private responseExtra(): SipHeaders {
    return this.o.userAgent ? [['Server', this.o.userAgent]] : [];
  }

  /** The local address a message to `to` leaves from (a TCP connection opens if needed): for a Contact built by hand. */
  localFor(to: SipDestination): Promise<HostPort> {
    return this.layer.transports.localFor(to);
  }

  /** A bug in a handler (thrown, or an async handler's rejection) ends that exchange with 500, never the UA. */
  private onServerTransaction(tx: ServerTransaction): void {
    try {
      this.dispatchRequest(tx);
    } catch (e) {
      this.failed(tx, e);
    }
  }

  private guard(tx: ServerTransaction, r: void | Promise<void>): void {
    if (r instanceof Promise) r.catch((e: unknown) => this.failed(tx, e));
  }

  private failed(tx: ServerTransaction, e: unknown): void {
    if (tx.answered || tx.state === 'terminated') return;
    const why = (e instanceof Error ? e.message : String(e)).slice(0, 80).replace(/[\r\n"]/g, ' ');
    tx.respond({ ...responseTo(tx.request, 500, this.responseExtra(), EMPTY_BODY, newTag()), reason: `Server Internal Error (${why})` });
  }

  private dispatchRequest(tx: ServerTransaction): void {
    const req = tx.request;
    const reply = (status: number, reason?: string) => {
      const r = responseTo(req, status, this.responseExtra(), EMPTY_BODY, status > 100 ? newTag() : undefined);
      tx.respond(reason ? { ...r, reason } : r);
    };
    if (req.method === 'CANCEL') return this.onCancel(tx);
    const tag = toTag(req);
    if (tag !== undefined) {
      const dialog = this.byId.get(dialogKey(header(req, 'call-id') ?? '', tag, fromTag(req) ?? ''));
      if (!dialog) return reply(481);
      if (!dialog.checkRemoteSeq(req)) return reply(500, 'Server Internal Error (CSeq out of order)');
      return this.inDialog(tx, dialog);
    }
    if (req.method === 'INVITE') {
      const inv = new IncomingInvite(this.core, tx);
      this.incoming.set(tx, inv);
      if (!this.onInvite) return inv.reject(480);
      return this.guard(tx, this.onInvite(inv));
    }
    if (req.method === 'BYE') return reply(481);
    const ir = new IncomingRequest(tx, undefined, this.responseExtra());
    if (this.onRequest) return this.guard(tx, this.onRequest(ir));
    if (req.method === 'OPTIONS') return ir.respond(200, { headers: [['Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO']] });
    ir.respond(405, { headers: [['Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO']] });
  }

  private inDialog(tx: ServerTransaction, dialog: Dialog): void {
    const req = tx.request;
    const ir = new IncomingRequest(tx, dialog, this.responseExtra());
    if (req.method === 'BYE') {
      ir.respond(200);
      dialog.terminate('bye-received');
      return;
    }
    if (req.method === 'INVITE') {
      const inv = new IncomingInvite(this.core, tx, dialog);
      this.incoming.set(tx, inv);
      if (!this.onReinvite) return inv.reject(488);
      return this.guard(tx, this.onReinvite(inv));
    }
    if (this.onDialogRequest) return this.guard(tx, this.onDialogRequest(ir));
    ir.respond(req.method === 'INFO' || req.method === 'OPTIONS' || req.method === 'NOTIFY' ? 200 : 501);
  }

  /** §9.2: 200 to the CANCEL (with the INVITE's tag), then 487 to the INVITE if it is still unanswered; 481 when there is no such INVITE. */
  private onCancel(tx: ServerTransaction): void {
    const invite = this.layer.findInvite(tx.request);
    if (!invite) {
      tx.respond(responseTo(tx.request, 481, this.responseExtra(), EMPTY_BODY, newTag()));
      return;
    }
    const inv = this.incoming.get(invite);
    tx.respond(responseTo(tx.request, 200, this.responseExtra(), EMPTY_BODY, inv?.localTag ?? newTag()));
    if (invite.answered) return;
    if (inv) inv.cancelled();
    else invite.respond(responseTo(invite.request, 487, this.responseExtra(), EMPTY_BODY, newTag()));
  }

  /** The ACK for a 2xx: it confirms an accepted INVITE (stops the 2xx retransmissions). */
  private onAck(ack: SipRequest): void {
    const tag = toTag(ack);
    const seq = cseqOf(ack)?.seq;
    if (tag === undefined || seq === undefined) return;
    const id = dialogKey(header(ack, 'call-id') ?? '', tag, fromTag(ack) ?? '');
    const waiter = this.ackWaiters.get(`${id}|${seq}`);
    if (!waiter) return;
    this.ackWaiters.delete(`${id}|${seq}`);
    waiter(ack);
  }

  /** A 2xx to INVITE after its transaction ended: ACK it again (§13.2.2.4); anything else is dropped. */
  private onStray(res: SipResponse): void {
    const cseq = cseqOf(res);
    if (!cseq || cseq.method !== 'INVITE' || res.status < 200 || res.status >= 300) return;
    const id = dialogKey(header(res, 'call-id') ?? '', fromTag(res) ?? '', toTag(res) ?? '');
    const known = this.acks.get(id);
    if (known) this.layer.sendStateless(known.ack, known.to).catch(() => {});
  }

  /** Ends every transaction and closes the transports. Dialogs are dropped without BYE. */
  async close(): Promise<void> {
    for (const d of this.byId.values()) d.terminate('failed');
    await this.layer.close();
  }
}

export type { DialogEnd };
export { Dialog, IncomingInvite, OutgoingInvite };
