/**
 * The two halves of an INVITE in the UA core (RFC 3261 §13): `OutgoingInvite` (the UAC: early
 * dialogs from 1xx with a tag, the dialog and its ACK on 2xx, CANCEL, one digest answer) and
 * `IncomingInvite` (the UAS: 1xx, 2xx retransmitted until the ACK, a rejection, a CANCEL turned
 * into 487). Both run on the `UaCore` the UserAgent gives them. No media: bodies (SDP) are
 * bytes the caller provides and reads.
 */
import type { Clock } from '../common/clock.ts';
import { REASON_PHRASES, type SipHeaders, type SipRequest, type SipResponse, header, headers, responseTo } from '../wire/sip.ts';
import type { ClientTransaction } from './client-transaction.ts';
import { Dialog, type DialogEnd } from './dialog.ts';
import { EMPTY_BODY, type HostPort, type SipDestination, type TransportKind, cseqOf, newTag, toTag, viaValues, withNewVia } from './message.ts';
import type { ServerTransaction } from './server-transaction.ts';
import type { SipTimerValues } from './timers.ts';
import type { TransactionLayer } from './transaction-layer.ts';
import type { SipSource } from './transport.ts';

/** What the invite halves need from the UserAgent. */
export interface UaCore {
  readonly layer: TransactionLayer;
  readonly clock: Clock;
  readonly timers: SipTimerValues;
  resolve(d: SipDestination): Promise<SipDestination>;
  contactFor(local: HostPort, transport: TransportKind): string;
  authorize(req: SipRequest, res: SipResponse, nextSeq: number): SipRequest | undefined;
  register(d: Dialog): void;
  /** Keeps the ACK of a 2xx so a retransmitted 2xx (even after its transaction) is ACKed again. */
  rememberAck(d: Dialog, ack: SipRequest, to: SipDestination): void;
  /** Calls back when the ACK for the 2xx with that CSeq arrives in the dialog; returns a cancel. */
  expectAck(d: Dialog, seq: number, fn: (ack: SipRequest) => void): () => void;
  bye(d: Dialog): Promise<SipResponse>;
  /** Server (or User-Agent) header for responses. */
  responseHeaders(): SipHeaders;
  /** Dialogs keep to the flow they were made over (UserAgentOptions.dialogFlows). */
  readonly dialogFlows: boolean;
}

export interface BodyOptions {
  headers?: SipHeaders;
  body?: Uint8Array;
  contentType?: string;
}

export interface InviteResult {
  /** The final response, or a local 408/503/487 (isLocalResponse) when none came. */
  response: SipResponse;
  /** With a 2xx: the confirmed dialog, already ACKed. */
  dialog: Dialog | undefined;
}

const LOCAL = new WeakSet<SipResponse>();
const PLACEHOLDER: SipRequest = { kind: 'request', method: 'INVITE', uri: 'sip:invalid', headers: [['CSeq', '1 INVITE']], body: EMPTY_BODY };

/** A response the UA made up (§8.1.3.1: a timeout is a 408, a transport failure a 503). */
export function localResponse(req: SipRequest, status: number, detail: string): SipResponse {
  const r = { ...responseTo(req, status), reason: `${REASON_PHRASES[status] ?? (status === 487 ? 'Request Terminated' : 'Error')} (${detail})` };
  LOCAL.add(r);
  return r;
}

export const isLocalResponse = (r: SipResponse): boolean => LOCAL.has(r);

/** §9.1: CANCEL copies the INVITE's Request-URI, Call-ID, From, To, CSeq number, top Via and Route. */
export function buildCancel(invite: SipRequest): SipRequest {
  const hs: SipHeaders = [['Via', viaValues(invite)[0]!], ['Max-Forwards', '70']];
  for (const name of ['from', 'to', 'call-id']) hs.push([name === 'call-id' ? 'Call-ID' : name === 'from' ? 'From' : 'To', header(invite, name) ?? '']);
  hs.push(['CSeq', `${cseqOf(invite)!.seq} CANCEL`]);
  for (const r of headers(invite, 'route')) hs.push(['Route', r]);
  return { kind: 'request', method: 'CANCEL', uri: invite.uri, headers: hs, body: EMPTY_BODY };
}

export class OutgoingInvite {
  private prepared: SipRequest | undefined;
  readonly result: Promise<InviteResult>;
  /** Early dialogs by remote tag (one per fork that sent a 1xx with a tag). */
  readonly early = new Map<string, Dialog>();
  private readonly core: UaCore;
  private dest: SipDestination | undefined;
  private readonly onProvisional: ((r: SipResponse) => void) | undefined;
  private tx: ClientTransaction | undefined;
  private provisional = false;
  private cancelRequested = false;
  private cancelSent = false;
  private authTried = false;
  private settled = false;
  private settle!: (r: InviteResult) => void;
  /** ACKs sent, by the To tag of the 2xx they answer (undefined while the first is on its way). */
  private readonly acked = new Map<string, { ack: SipRequest; to: SipDestination } | undefined>();
  private cancelGiveUp: () => void = () => {};

  /**
   * The INVITE as last sent (after a digest answer, the second one), with the Via its transport
   * wrote once it has left; undefined until it is built.
   */
  get request(): SipRequest | undefined {
    return this.tx?.request ?? this.prepared;
  }

  private setRequest(r: SipRequest): void {
    this.prepared = r;
    this.tx = undefined;
  }

  /**
   * `prepared` is the INVITE and where it goes: building it may have to open a TCP connection
   * first (for the Contact), so the INVITE leaves when that resolves — and a cancel() before
   * then means it never leaves.
   */
  constructor(core: UaCore, prepared: Promise<{ request: SipRequest; dest: SipDestination }>, onProvisional?: (r: SipResponse) => void) {
    this.core = core;
    this.onProvisional = onProvisional;
    this.result = new Promise((resolve) => {
      this.settle = (r) => {
        if (this.settled) return;
        this.settled = true;
        this.cancelGiveUp();
        resolve(r);
      };
    });
    prepared.then(
      ({ request, dest }) => {
        this.setRequest(request);
        this.dest = dest;
        if (this.cancelRequested) this.settle({ response: localResponse(request, 487, 'cancelled before it was sent'), dialog: undefined });
        else this.send();
      },
      (e: Error) => this.settle({ response: localResponse(PLACEHOLDER, 503, e.message), dialog: undefined }),
    );
  }

  private send(): void {
    const req = this.request!;
    this.provisional = false;
    try {
      this.tx = this.core.layer.sendRequest(req, this.dest!, {
        onResponse: (r) => this.onResponse(r),
        onFailure: (kind, detail) => {
          this.endEarly('failed');
          this.settle({ response: localResponse(req, kind === 'timeout' ? 408 : 503, detail), dialog: undefined });
        },
      });
    } catch (e) {
      this.settle({ response: localResponse(req, 503, (e as Error).message), dialog: undefined });
      return;
    }
  }

  /**
   * §9.1: a CANCEL goes only once a provisional has come (until then it waits for one); if no
   * final answer follows within 64*T1, the INVITE is given up as cancelled. A 2xx that crosses
   * the CANCEL is ACKed and ended with BYE.
   */
  cancel(): void {
    if (this.settled || this.cancelRequested) return;
    this.cancelRequested = true;
    if (this.provisional) this.sendCancel();
  }

  private sendCancel(): void {
    if (this.cancelSent || !this.request || !this.dest) return;
    this.cancelSent = true;
    this.core.layer.sendRequest(buildCancel(this.request), this.dest, { onResponse: () => {}, onFailure: () => {} });
    this.cancelGiveUp = this.core.clock.timer(this.core.timers.B, () => {
      this.tx?.terminate();
      this.endEarly('cancelled');
      this.settle({ response: localResponse(this.request!, 487, 'no answer to CANCEL'), dialog: undefined });
    });
  }

  private onResponse(r: SipResponse): void {
    const req = this.request!;
    const dest = this.dest!;
    if (r.status < 200) {
      this.provisional = true;
      const tag = toTag(r);
      if (tag && r.status > 100 && !this.settled) {
        const d = this.early.get(tag);
        if (d) d.refreshTarget(r);
        else {
          const nd = Dialog.asUac(req, r, dest.transport);
          if (this.core.dialogFlows) nd.flow = dest;
          this.early.set(tag, nd);
          this.core.register(nd);
        }
      }
      this.onProvisional?.(r);
      if (this.cancelRequested) this.sendCancel();
      return;
    }
    if (r.status < 300) {
      void this.on2xx(r);
      return;
    }
    if ((r.status === 401 || r.status === 407) && !this.authTried && !this.cancelRequested) {
      const retry = this.core.authorize(req, r, (cseqOf(req)?.seq ?? 0) + 1);
      if (retry) {
        this.authTried = true;
        this.endEarly('rejected');
        this.setRequest(retry);
        this.send();
        return;
      }
    }
    this.endEarly(r.status === 487 ? 'cancelled' : 'rejected');
    this.settle({ response: r, dialog: undefined });
  }

  /** §13.2.2.4: every 2xx is ACKed by the core; the first makes the dialog, a late or second one is ACKed and BYEd. */
  private async on2xx(r: SipResponse): Promise<void> {
    const req = this.request!;
    const dest = this.dest!;
    const tag = toTag(r) ?? '';
    if (this.acked.has(tag)) {
      // A retransmitted 2xx (our ACK was lost): the same ACK again.
      const sent = this.acked.get(tag);
      if (sent) this.core.layer.sendStateless(sent.ack, sent.to).catch(() => {});
      return;
    }
    this.acked.set(tag, undefined);
    const early = this.early.get(tag);
    const dialog = early ?? Dialog.asUac(req, r, dest.transport);
    dialog.confirm(r);
    this.early.delete(tag);
    if (!early && this.core.dialogFlows) dialog.flow = dest;
    if (!early) this.core.register(dialog);
    const ack = withNewVia(dialog.createAck(cseqOf(req)!.seq), dest.transport);
    let to: SipDestination;
    try {
      to = await this.core.resolve(dialog.destination() ?? dest);
    } catch {
      to = dest;
    }
    this.acked.set(tag, { ack, to });
    this.core.rememberAck(dialog, ack, to);
    if (this.settled || this.cancelRequested) {
      void this.core.bye(dialog).catch(() => {});
      if (this.settled) return;
    }
    this.endEarly('rejected');
    this.settle({ response: r, dialog });
  }

  private endEarly(why: DialogEnd): void {
    for (const d of this.early.values()) d.terminate(why);
    this.early.clear();
  }
}

export type IncomingInviteState = 'pending' | 'early' | 'accepted' | 'confirmed' | 'rejected' | 'cancelled' | 'failed';

export class IncomingInvite {
  readonly request: SipRequest;
  readonly source: SipSource;
  readonly tx: ServerTransaction;
  /** Our To tag for every response (and the dialog); a re-INVITE's is the dialog's. */
  readonly localTag: string;
  state: IncomingInviteState = 'pending';
  /** Set for a re-INVITE from the start; for a new call once answered (1xx with tag or 2xx). */
  dialog: Dialog | undefined;
  /** Called when the caller cancelled (the 487 has gone out already). */
  oncancel: (() => void) | undefined;
  private readonly core: UaCore;

  constructor(core: UaCore, tx: ServerTransaction, dialog?: Dialog) {
    this.core = core;
    this.tx = tx;
    this.request = tx.request;
    this.source = tx.source;
    this.dialog = dialog;
    this.localTag = dialog?.localTag ?? newTag();
  }

  /** An INVITE inside a dialog (it carries a To tag): a session refresh or a new offer. */
  get isReinvite(): boolean {
    return toTag(this.request) !== undefined;
  }

  private async contact(): Promise<string> {
    const t = this.source.transport;
    const local = await this.core.layer.transports.localFor({ transport: t, host: this.source.host, port: this.source.port }).catch(() => this.source.local);
    return this.core.contactFor(local, t);
  }

  private keepFlow(d: Dialog): void {
    if (this.core.dialogFlows) d.flow = { transport: this.source.transport, host: this.source.host, port: this.source.port };
  }

  /** Record-Route is copied into every dialog-making response (§12.1.1). */
  private build(status: number, o: BodyOptions, contact: string | undefined): SipResponse {
    const extra: SipHeaders = headers(this.request, 'record-route').map((v): [string, string] => ['Record-Route', v]);
    if (contact) extra.push(['Contact', contact]);
    extra.push(...this.core.responseHeaders());
    if (o.contentType) extra.push(['Content-Type', o.contentType]);
    extra.push(...(o.headers ?? []));
    return responseTo(this.request, status, extra, o.body ?? EMPTY_BODY, this.localTag);
  }

  /** A provisional (180 Ringing unless said); with a tag, it makes an early dialog on our side too. */
  async progress(status = 180, o: BodyOptions = {}): Promise<void> {
    if (this.state !== 'pending' && this.state !== 'early') return;
    if (status < 101 || status > 199) throw new RangeError(`progress takes 101-199, not ${status}`);
    const contact = await this.contact();
    if (this.state !== 'pending' && this.state !== 'early') return;
    if (!this.dialog) {
      this.dialog = Dialog.asUas(this.request, this.localTag, contact, this.source.transport, 'early');
      this.keepFlow(this.dialog);
      this.core.register(this.dialog);
    }
    this.state = 'early';
    this.tx.respond(this.build(status, o, contact));
  }

  /**
   * Answers 200 and resolves with the confirmed dialog when the ACK comes. Until then the 2xx
   * is sent again at T1, 2*T1 … T2 (§13.3.1.4, whatever the transport: a proxy on the way may
   * use UDP); with no ACK after 64*T1 the session is ended with BYE and this rejects.
   */
  async accept(o: BodyOptions = {}): Promise<Dialog> {
    if (this.state !== 'pending' && this.state !== 'early') throw new Error(`cannot accept an INVITE that is ${this.state}`);
    const contact = await this.contact();
    if (this.state !== 'pending' && this.state !== 'early') throw new Error(`cannot accept an INVITE that is ${this.state}`);
    const res = this.build(200, o, contact);
    const dialog = this.dialog ?? Dialog.asUas(this.request, this.localTag, contact, this.source.transport);
    if (!this.dialog) {
      this.keepFlow(dialog);
      this.core.register(dialog);
    }
    this.dialog = dialog;
    if (dialog.state === 'early') dialog.state = 'confirmed';
    else dialog.refreshTarget(this.request);
    dialog.localContact = contact;
    this.state = 'accepted';
    this.tx.respond(res);
    const t = this.core.timers;
    const seq = cseqOf(this.request)!.seq;
    return new Promise((resolve, reject) => {
      let interval = t.t1;
      let cancelRetransmit = () => {};
      const retransmit = () => {
        this.core.layer.sendResponse(res, this.source).catch(() => {});
        interval = Math.min(2 * interval, t.t2);
        cancelRetransmit = this.core.clock.timer(interval, retransmit);
      };
      cancelRetransmit = this.core.clock.timer(interval, retransmit);
      const stopWaiting = this.core.expectAck(dialog, seq, () => {
        cancelRetransmit();
        cancelGiveUp();
        this.state = 'confirmed';
        resolve(dialog);
      });
      const cancelGiveUp = this.core.clock.timer(64 * t.t1, () => {
        cancelRetransmit();
        stopWaiting();
        this.state = 'failed';
        void this.core.bye(dialog).catch(() => {});
        reject(new Error(`no ACK for the 200 within ${64 * t.t1} ms`));
      });
      dialog.onEnd(() => {
        // A BYE before the ACK (the caller hung up at once) ends the wait too.
        cancelRetransmit();
        cancelGiveUp();
        stopWaiting();
        if (this.state === 'accepted') resolve(dialog);
      });
    });
  }

  /** A final refusal (486 Busy Here unless said); the transaction waits for its ACK. */
  reject(status = 486, o: BodyOptions = {}): void {
    if (this.state !== 'pending' && this.state !== 'early') return;
    if (status < 300) throw new RangeError(`reject takes 300-699, not ${status}`);
    this.state = 'rejected';
    this.tx.respond(this.build(status, o, undefined));
    if (this.dialog?.state === 'early') this.dialog.terminate('rejected');
  }

  /** @internal The UA saw a CANCEL for this INVITE (§9.2): 487 and the early dialog gone. */
  cancelled(): void {
    if (this.state !== 'pending' && this.state !== 'early') return;
    this.state = 'cancelled';
    this.tx.respond(this.build(487, {}, undefined));
    if (this.dialog?.state === 'early') this.dialog.terminate('cancelled');
    this.oncancel?.();
  }
}
