/**
 * The phone's calls: the glue between the keypad (through the UI), the registered line's user
 * agent (sip-registration.ts hands it over with the connection to the call manager) and the
 * media (src/media: RTP with G.711 and RFC 4733). One call at a time, one state machine
 * (call-state.ts); every change is a `{"step":"call", …}` event.
 *
 *  - Dialing: a digit on the registered home screen opens the dialing screen (Dial sends it),
 *    NewCall goes off hook (Dial, or the inter-digit timeout on the clock, sends it). The
 *    INVITE goes to `sip:<digits>@<call manager>` over the registration's own connection,
 *    with an SDP offer (PCMU, PCMA, telephone-event 101).
 *  - An incoming INVITE with an SDP offer rings (180); Answer (or auto-answer) sends 200 with
 *    our answer; a second call while busy gets 486, an offer without G.711 488.
 *  - Connected: RTP both ways from the first 20 ms (a tone or a WAV file out, what comes in kept
 *    for `onRecording`), digits typed go as RFC 4733 events, digits received are events.
 *  - EndCall: BYE when connected, CANCEL while it rings out, 486 to a call ringing here.
 */
import { randomInt } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';
import { type Dialog, type IncomingInvite, type IncomingRequest, type OutgoingInvite, isLocalResponse, newCallId } from '../../sip/index.ts';
import { printable } from '../../common/printable.ts';
import { type RtpStats, RtpSession } from '../../media/rtp-session.ts';
import { Recording } from '../../media/audio.ts';
import { type AudioCodec, type Sdp, answerAudio, offerAudio, parseSdp, writeSdp } from '../../wire/sdp.ts';
import { type SipResponse, header, parseNameAddr, parseSipUri } from '../../wire/sip.ts';
import type { PhoneStatus, StepReport } from '../events.ts';
import { StateMachine } from '../flows/state-machine.ts';
import type { Key } from '../keys.ts';
import type { NetworkPort, UdpEndpoint } from '../ports.ts';
import type { ScreenFrame, ScreenGeometry } from '../screen.ts';
import type { SipLineFlow } from '../sip-registration.ts';
import { callFrame } from './call-screens.ts';
import { CALL_EDGES, type CallEndReason, type CallState, END_TEXT, isNormalEnd } from './call-state.ts';
import { type AgreedAudio, type AudioSpec, DEFAULT_AUDIO, audioSource, describeAudio, openRtpSocket, readAnswer } from './media.ts';

export interface CallOptions {
  /** Answer every incoming call at once (`--auto-answer`). */
  autoAnswer?: boolean;
  /** What a call sends: the 1004 Hz test tone unless said. */
  audio?: AudioSpec;
  /** What each call received, when it ends (`--record FILE`); nothing is kept without it. */
  onRecording?: (samples: Int16Array, call: { callId: string; number: string }) => void;
  /** Digits sent as RFC 4733 once a call connects (`--dtmf`). */
  dtmfOnConnect?: string;
  /** A connected call is hung up after this long (`--hangup-after`). */
  hangupAfterMs?: number;
  /** Off hook: the digits are dialed when none came for this long. 5 s unless said. */
  interDigitMs?: number;
  /** The ended screen goes back to the home screen after this long. 5 s unless said. */
  endedScreenMs?: number;
  /** In our order of preference. */
  codecs?: AudioCodec[];
}

export interface PhoneCallsOptions extends CallOptions {
  clock: Clock;
  network: NetworkPort;
  report: (e: StepReport) => void;
}

type CallReport = Extract<StepReport, { step: 'call' }>;
type WithoutStep<T> = T extends unknown ? Omit<T, 'step' | 'ms'> : never;

/** What the call screens show (call-screens.ts). */
export interface CallView {
  state: CallState;
  direction: 'outgoing' | 'incoming' | undefined;
  /** Dialing: the digits so far, and whether off hook (the inter-digit timeout dials). */
  digits: string;
  offHook: boolean;
  /** The far end's number, and its display name when it sent one. */
  number: string;
  name: string | undefined;
  /** Connected: for how long (ms), the codec, the digits sent. */
  connectedMs: number;
  codec: string | undefined;
  dtmfSent: string;
  /** Ended: why, and the SIP status that said so. */
  end: { reason: CallEndReason; status: number | undefined; statusText: string | undefined } | undefined;
  note: string | undefined;
}

interface ActiveCall {
  direction: 'outgoing' | 'incoming';
  number: string;
  name: string | undefined;
  callId: string;
  line: SipLineFlow;
  startedAt: number;
  connectedAt: number | undefined;
  endedAt: number | undefined;
  outgoing: OutgoingInvite | undefined;
  incoming: IncomingInvite | undefined;
  /** The incoming INVITE's offer. */
  offer: Sdp | undefined;
  dialog: Dialog | undefined;
  socket: UdpEndpoint | undefined;
  rtp: RtpSession | undefined;
  agreed: AgreedAudio | undefined;
  recording: Recording | undefined;
  timers: Array<() => void>;
  hangingUp: boolean;
  answering: boolean;
  over: boolean;
}

const DIGITS = /^[0-9*#]$/;
const DTMF_DELAY_MS = 500;

export class PhoneCalls {
  private readonly o: PhoneCallsOptions;
  private readonly machine: StateMachine<CallState>;
  private line: SipLineFlow | undefined;
  private call: ActiveCall | undefined;
  private digits = '';
  private offHook = false;
  private dialingSince = 0;
  private cancelInterDigit: () => void = () => {};
  private cancelEndedScreen: () => void = () => {};
  private cancelTick: () => void = () => {};
  private lastEnd: CallView['end'];
  private note: string | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(o: PhoneCallsOptions) {
    this.o = o;
    this.machine = new StateMachine<CallState>('call', 'idle', CALL_EDGES, () => this.changed());
  }

  get state(): CallState {
    return this.machine.state;
  }

  /** A registered line to call on. */
  get available(): boolean {
    return this.line !== undefined;
  }

  /** Called when the call state or its screen changes (a redraw); returns the unsubscribe. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  private report(call: ActiveCall | undefined, e: WithoutStep<CallReport>): void {
    const ms = call ? Math.max(0, Math.round(this.o.clock.now() - call.startedAt)) : 0;
    this.o.report({ step: 'call', ms, ...e } as CallReport);
  }

  /** The registered line (from the registration), or undefined when it went: a call on it ends. */
  setLine(line: SipLineFlow | undefined): void {
    const previous = this.line;
    if (previous && previous.ua !== line?.ua) previous.ua.onInvite = previous.ua.onDialogRequest = undefined;
    this.line = line;
    if (line) {
      line.ua.onInvite = (inv) => this.incoming(inv, line);
      line.ua.onDialogRequest = (req) => this.inDialog(req);
    }
    const call = this.call;
    if (call && !call.over && call.line !== line) this.end(call, 'line-lost', undefined, 'the registration that carried it ended');
    if (!line && this.state === 'dialing') this.abandon();
    this.changed();
  }

  /**
   * A request in a call's dialog: an INFO or MESSAGE with text/plain is a prompt's words (the
   * companion's IVR, docs/protocols/ivr.md), reported as a call event; the answers are the UA's
   * defaults (200 to INFO, OPTIONS, NOTIFY and to such a MESSAGE; 501 otherwise).
   */
  private inDialog(req: IncomingRequest): void {
    const m = req.request;
    const call = this.call;
    const type = (header(m, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const prompt = (m.method === 'INFO' || m.method === 'MESSAGE') && type === 'text/plain';
    if (prompt && call && !call.over && req.dialog && req.dialog === (call.dialog ?? call.incoming?.dialog)) {
      const text = printable(Buffer.from(m.body).toString('utf8').slice(0, 1024));
      this.report(call, { state: 'progress', message: `prompt: ${text}`, call: 'prompt', text, callId: call.callId });
    }
    req.respond(prompt || m.method === 'INFO' || m.method === 'OPTIONS' || m.method === 'NOTIFY' ? 200 : 501);
  }

  // ---- the keypad ------------------------------------------------------------------------------

  /**
   * A key the UI passes on. `home`: the home screen is open (digits and NewCall start a call
   * there only). True when the call took the key.
   */
  press(key: Key, home: boolean): boolean {
    this.note = undefined;
    switch (this.state) {
      case 'idle':
        if (!home || !this.line) return false;
        if (DIGITS.test(key)) this.startDialing(false, key);
        else if (key === 'soft3') this.startDialing(true, '');
        else return false;
        return true;
      case 'dialing':
        if (DIGITS.test(key)) this.addDigit(key);
        else if (key === 'back') {
          this.digits = this.digits.slice(0, -1);
          this.armInterDigit();
          this.changed();
        } else if (key === 'soft1' || key === 'select') this.dial();
        else if (key === 'soft2') this.abandon();
        return true;
      case 'calling':
      case 'ringback':
        if (key === 'soft2') this.hangup();
        return true;
      case 'ringing':
        if (key === 'soft1' || key === 'select') void this.answer();
        else if (key === 'soft2') this.hangup();
        return true;
      case 'connected':
        if (DIGITS.test(key)) this.sendDigits(key);
        else if (key === 'soft2') this.hangup();
        return true;
      case 'ended':
        this.toIdle();
        // A digit on the ended screen starts the next call, as on the home screen.
        if (home && this.line && DIGITS.test(key)) this.startDialing(false, key);
        return true;
    }
  }

  private startDialing(offHook: boolean, first: string): void {
    this.cancelEndedScreen();
    this.machine.transition('dialing');
    this.digits = first;
    this.offHook = offHook;
    this.dialingSince = this.o.clock.now();
    this.o.report({ step: 'call', state: 'start', ms: 0, message: offHook ? 'Off hook: dial a number' : `Dialing ${first}`, call: 'dialing', offHook });
    this.armInterDigit();
  }

  private addDigit(d: string): void {
    if (this.digits.length < 32) this.digits += d;
    this.armInterDigit();
    this.changed();
  }

  /** Off hook, digits are dialed when none came for the inter-digit time (only once there are some). */
  private armInterDigit(): void {
    this.cancelInterDigit();
    if (!this.offHook || !this.digits) return;
    this.cancelInterDigit = this.o.clock.timer(this.o.interDigitMs ?? 5000, () => {
      if (this.state === 'dialing') this.dial();
    });
  }

  /** Dialing given up before anything was sent. */
  private abandon(): void {
    this.cancelInterDigit();
    const number = this.digits;
    this.digits = '';
    this.machine.transition('idle');
    this.o.report({
      step: 'call', state: 'fail', ms: Math.max(0, Math.round(this.o.clock.now() - this.dialingSince)), message: 'Not dialed', call: 'ended', reason: 'abandoned',
      direction: 'outgoing', number, callId: '', connectedMs: 0, dtmfSent: '', dtmfReceived: '',
    });
  }

  private toIdle(): void {
    this.cancelEndedScreen();
    if (this.state === 'ended') this.machine.transition('idle');
  }

  // ---- placing a call --------------------------------------------------------------------------

  /**
   * Calls `number` (the digits typed when none is given). False when it cannot: no registered
   * line, a call in progress, nothing to dial.
   */
  dial(number?: string): boolean {
    const line = this.line;
    const dn = number ?? this.digits;
    this.cancelInterDigit();
    if (!line) {
      this.note = 'Not registered';
      this.changed();
      return false;
    }
    if (!dn || !/^[0-9*#+A-Za-z._-]{1,32}$/.test(dn)) {
      this.note = dn ? 'Not a number' : 'Dial a number first';
      this.changed();
      return false;
    }
    if (this.state !== 'idle' && this.state !== 'dialing' && this.state !== 'ended') return false;
    this.cancelEndedScreen();
    this.digits = '';
    const call = this.newCall('outgoing', dn, undefined, newCallId(line.local.host), line);
    this.machine.transition('calling');
    void this.placeCall(call, line).catch((e: Error) => this.end(call, 'failed', undefined, e.message));
    return true;
  }

  private newCall(direction: ActiveCall['direction'], number: string, name: string | undefined, callId: string, line: SipLineFlow): ActiveCall {
    const call: ActiveCall = {
      direction, number, name, callId, line, startedAt: this.o.clock.now(), connectedAt: undefined, endedAt: undefined, outgoing: undefined, incoming: undefined, offer: undefined,
      dialog: undefined, socket: undefined, rtp: undefined, agreed: undefined, recording: undefined, timers: [], hangingUp: false, answering: false, over: false,
    };
    this.call = call;
    this.lastEnd = undefined;
    return call;
  }

  private codecs(): AudioCodec[] {
    return this.o.codecs ?? ['PCMU', 'PCMA'];
  }

  private async placeCall(call: ActiveCall, line: SipLineFlow): Promise<void> {
    const socket = await openRtpSocket(this.o.network, line.local.host);
    if (call.over) return socket.close();
    call.socket = socket;
    const offer = offerAudio({ address: line.local.host, port: socket.port, sessionId: String(randomInt(1, 2 ** 31)), codecs: this.codecs(), telephoneEvent: true });
    const uri = `sip:${call.number}@${line.domain}`;
    const from = `${line.displayName ? `"${line.displayName.replace(/["\\]/g, '\\$&')}" ` : ''}<sip:${line.user}@${line.domain}>`;
    const inv = line.ua.invite({
      uri, to: `<${uri}>`, from, callId: call.callId, destination: line.destination,
      body: Buffer.from(writeSdp(offer)), contentType: 'application/sdp',
      onProvisional: (r) => this.provisional(call, r),
    });
    call.outgoing = inv;
    this.report(call, { state: 'start', message: `Calling ${call.number}`, call: 'calling', direction: 'outgoing', number: call.number, callId: call.callId, cm: line.member.address });
    const { response, dialog } = await inv.result;
    if (call.over) {
      // Hung up (or the line went) meanwhile; a 2xx that crossed our CANCEL was ended by the UA.
      if (dialog && dialog.state !== 'terminated') void line.ua.bye(dialog).catch(() => {});
      return;
    }
    if (response.status >= 300 || !dialog) {
      const local = isLocalResponse(response);
      const reason: CallEndReason = response.status === 487 && call.hangingUp ? 'cancelled' : local && response.status === 408 ? 'no-answer' : local ? 'failed' : 'rejected';
      return this.end(call, reason, local ? undefined : response.status, response.reason);
    }
    call.dialog = dialog;
    dialog.onEnd((why) => this.dialogEnded(call, why));
    const parsed = parseSdp(Buffer.from(response.body).toString('utf8'));
    const agreed = parsed.ok ? readAnswer(parsed.value, this.codecs()) : `unreadable SDP answer: ${parsed.error.message}`;
    if (typeof agreed === 'string') {
      void line.ua.bye(dialog).catch(() => {});
      return this.end(call, 'unsupported-media', undefined, agreed);
    }
    this.connect(call, agreed);
  }

  private provisional(call: ActiveCall, r: SipResponse): void {
    if (call.over || (r.status !== 180 && r.status !== 183) || this.state !== 'calling' || this.call !== call) return;
    this.machine.transition('ringback');
    this.report(call, { state: 'progress', message: `Ringing ${call.number}`, call: 'ringback', direction: 'outgoing', number: call.number, callId: call.callId, status: r.status });
  }

  // ---- taking a call ---------------------------------------------------------------------------

  private incoming(inv: IncomingInvite, line: SipLineFlow): void {
    const req = inv.request;
    const from = parseNameAddr(header(req, 'from') ?? '');
    const number = (from && parseSipUri(from.uri)?.user) || 'unknown';
    const name = from?.display || undefined;
    const callId = header(req, 'call-id') ?? '';
    if (this.state !== 'idle' && this.state !== 'ended') return inv.reject(486);
    const type = (header(req, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const parsed = type === 'application/sdp' && req.body.length > 0 ? parseSdp(Buffer.from(req.body).toString('utf8')) : undefined;
    // No offer (a late offer in the ACK) is not done here; nor an offer without G.711.
    const fits = parsed?.ok ? answerAudio(parsed.value, { address: line.local.host, port: 9, sessionId: '1', codecs: this.codecs(), telephoneEvent: true }).ok : false;
    this.cancelEndedScreen();
    const call = this.newCall('incoming', number, name, callId, line);
    call.incoming = inv;
    if (!parsed?.ok || !fits) {
      inv.reject(488);
      // Never rang: straight to ended, from whatever was on show.
      if (this.state === 'idle') this.machine.transition('ringing');
      return this.end(call, 'unsupported-media', 488, parsed ? 'no G.711 in the offer' : 'no SDP offer in the INVITE');
    }
    call.offer = parsed.value;
    inv.oncancel = () => this.end(call, 'caller-cancelled', 487, 'the caller cancelled');
    this.machine.transition('ringing');
    this.report(call, { state: 'start', message: `Call from ${name ? `${name} ` : ''}${number}`, call: 'ringing', direction: 'incoming', number, ...(name ? { name } : {}), callId });
    void inv.progress(180).catch(() => {});
    if (this.o.autoAnswer) call.timers.push(this.o.clock.timer(0, () => void this.answer()));
  }

  /** Answers the call ringing here. */
  async answer(): Promise<void> {
    const call = this.call;
    if (!call || call.over || this.state !== 'ringing' || call.answering || !call.incoming || !call.offer) return;
    call.answering = true;
    const line = call.line;
    const socket = await openRtpSocket(this.o.network, line.local.host).catch((e: Error) => e);
    if (socket instanceof Error) {
      call.incoming.reject(500);
      return this.end(call, 'failed', undefined, `no RTP socket: ${socket.message}`);
    }
    if (call.over) return socket.close();
    call.socket = socket;
    const r = answerAudio(call.offer, { address: line.local.host, port: socket.port, sessionId: String(randomInt(1, 2 ** 31)), codecs: this.codecs(), telephoneEvent: true });
    if (!r.ok) {
      call.incoming.reject(488);
      return this.end(call, 'unsupported-media', 488, r.error.message);
    }
    const accepted = call.incoming.accept({ body: Buffer.from(writeSdp(r.value.answer)), contentType: 'application/sdp' });
    this.connect(call, { codec: r.value.codec, telephoneEventPt: r.value.telephoneEventPt, remote: r.value.remote });
    try {
      const dialog = await accepted;
      call.dialog = dialog;
      dialog.onEnd((why) => this.dialogEnded(call, why));
    } catch (e) {
      this.end(call, 'failed', undefined, (e as Error).message);
    }
  }

  // ---- connected -------------------------------------------------------------------------------

  private connect(call: ActiveCall, agreed: AgreedAudio): void {
    if (call.over) return;
    call.agreed = agreed;
    call.connectedAt = this.o.clock.now();
    call.recording = this.o.onRecording ? new Recording() : undefined;
    const audio = this.o.audio ?? DEFAULT_AUDIO;
    call.rtp = new RtpSession({
      socket: call.socket!, clock: this.o.clock, remote: agreed.remote, codec: agreed.codec, ...(agreed.telephoneEventPt !== undefined ? { telephoneEventPt: agreed.telephoneEventPt } : {}),
      source: audioSource(audio), ...(call.recording ? { recording: call.recording } : {}),
      onDtmf: (digit) => {
        if (call.over) return;
        this.report(call, { state: 'progress', message: `DTMF ${digit} received`, call: 'dtmf', dtmf: 'received', digit, callId: call.callId });
      },
    });
    call.rtp.start();
    this.machine.transition('connected');
    this.report(call, {
      state: 'progress', message: `Connected ${call.number}`, call: 'connected', direction: call.direction, number: call.number, callId: call.callId,
      codec: agreed.codec.encoding, remote: `${agreed.remote.address}:${agreed.remote.port}`, local: `${call.line.local.host}:${call.socket!.port}`,
      dtmf: agreed.telephoneEventPt !== undefined, audio: describeAudio(audio),
    });
    if (this.o.dtmfOnConnect) {
      const digits = this.o.dtmfOnConnect;
      call.timers.push(this.o.clock.timer(DTMF_DELAY_MS, () => this.sendDigits(digits)));
    }
    if (this.o.hangupAfterMs !== undefined) call.timers.push(this.o.clock.timer(this.o.hangupAfterMs, () => this.call === call && this.hangup()));
    // The connected screen's timer: a redraw every second.
    const tick = () => {
      if (call.over) return;
      this.changed();
      this.cancelTick = this.o.clock.timer(1000, tick);
    };
    this.cancelTick = this.o.clock.timer(1000, tick);
  }

  /** Digits sent as RFC 4733 events in the connected call, one event each once it has gone. */
  sendDigits(digits: string): void {
    const call = this.call;
    if (!call || call.over || this.state !== 'connected' || !call.rtp) return;
    if (call.agreed?.telephoneEventPt === undefined) {
      this.note = 'No DTMF in this call';
      this.changed();
      return;
    }
    for (const digit of digits) {
      if (!DIGITS.test(digit) && !/^[A-Da-d]$/.test(digit)) continue;
      const d = digit.toUpperCase();
      call.rtp.sendDtmf(d).then(
        () => {
          if (call.over) return;
          this.report(call, { state: 'progress', message: `DTMF ${d} sent`, call: 'dtmf', dtmf: 'sent', digit: d, callId: call.callId });
          this.changed();
        },
        () => {},
      );
    }
  }

  private dialogEnded(call: ActiveCall, why: string): void {
    if (call.over) return;
    if (why === 'bye-received') this.end(call, 'remote-hangup');
    else if (why !== 'bye-sent') this.end(call, 'failed', undefined, `dialog ${why}`);
  }

  // ---- ending ----------------------------------------------------------------------------------

  /** EndCall: BYE when connected, CANCEL while ringing out, 486 to a call ringing here; dialing is given up. */
  hangup(): void {
    if (this.state === 'dialing') return this.abandon();
    const call = this.call;
    if (!call || call.over) return;
    call.hangingUp = true;
    const line = call.line;
    if (this.state === 'connected') {
      const d = call.dialog ?? call.incoming?.dialog;
      if (d && d.state !== 'terminated') void line.ua.bye(d).catch(() => {});
      return this.end(call, 'local-hangup');
    }
    if (this.state === 'ringing') {
      call.incoming?.reject(486);
      return this.end(call, 'declined', 486, 'declined here');
    }
    // Ringing out: CANCEL (the UA waits for a provisional first); the call is over for us now.
    call.outgoing?.cancel();
    this.end(call, 'cancelled', undefined, 'cancelled here');
  }

  private end(call: ActiveCall, reason: CallEndReason, status?: number, detail?: string): void {
    if (call.over) return;
    call.over = true;
    call.endedAt = this.o.clock.now();
    for (const t of call.timers.splice(0)) t();
    this.cancelTick();
    let stats: RtpStats | undefined;
    if (call.rtp) {
      call.rtp.stop();
      stats = call.rtp.stats();
    }
    call.socket?.close();
    const connectedMs = call.connectedAt === undefined ? 0 : Math.max(0, Math.round(this.o.clock.now() - call.connectedAt));
    const normal = isNormalEnd(reason) && call.connectedAt !== undefined;
    const statusText = status !== undefined && detail ? `${status} ${detail}` : status !== undefined ? String(status) : detail;
    this.lastEnd = { reason, status, statusText };
    if (this.call === call && this.state !== 'ended' && this.machine.can('ended')) this.machine.transition('ended');
    const e: WithoutStep<Extract<CallReport, { call: 'ended' }>> = {
      state: normal ? 'done' : 'fail', message: `${END_TEXT[reason]}${statusText ? ` (${statusText})` : ''}`, call: 'ended', reason, direction: call.direction,
      number: call.number, callId: call.callId, ...(status !== undefined ? { status } : {}), connectedMs,
      ...(stats ? { rtp: { sent: stats.sent, received: stats.received, lost: stats.lost } } : {}),
      dtmfSent: stats?.dtmfSent ?? '', dtmfReceived: stats?.dtmfReceived ?? '',
    };
    this.report(call, e);
    if (call.recording && this.o.onRecording) this.o.onRecording(call.recording.samples, { callId: call.callId, number: call.number });
    if (this.call === call) {
      this.cancelEndedScreen();
      this.cancelEndedScreen = this.o.clock.timer(this.o.endedScreenMs ?? 5000, () => {
        if (this.call === call) this.toIdle();
      });
    }
  }

  /** Ends whatever call there is without signalling (power off: the UA goes with the cycle). */
  close(): void {
    this.cancelInterDigit();
    this.cancelEndedScreen();
    this.cancelTick();
    const call = this.call;
    if (call && !call.over) this.end(call, 'line-lost', undefined, 'the phone stopped');
    this.cancelEndedScreen();
  }

  // ---- the screen ------------------------------------------------------------------------------

  view(): CallView {
    const call = this.call;
    const stats = call?.rtp?.stats();
    return {
      state: this.state, direction: this.state === 'dialing' ? 'outgoing' : call?.direction, digits: this.digits, offHook: this.offHook,
      number: call?.number ?? '', name: call?.name, connectedMs: call?.connectedAt === undefined ? 0 : Math.max(0, (call.endedAt ?? this.o.clock.now()) - call.connectedAt),
      codec: call?.agreed?.codec.encoding, dtmfSent: stats?.dtmfSent ?? '', end: this.lastEnd, note: this.note,
    };
  }

  /** The call screen, or undefined when there is no call (the home screen shows). */
  frame(g: ScreenGeometry, status: PhoneStatus): ScreenFrame | undefined {
    return this.state === 'idle' ? undefined : callFrame(this.view(), status, g);
  }
}
