/**
 * The self-provisioning IVR as a SIP endpoint (the CTI route point): an INVITE from a registered
 * phone to the IVR's extension is answered by the companion itself — G.711 and telephone-event,
 * an RtpSession that beeps at each prompt and hears RFC 4733 digits — and runs the script
 * (script.ts). Each prompt's text goes to the log and to the caller in an in-dialog INFO,
 * `Content-Type: text/plain` (docs/protocols/ivr.md). A `check` is decided by decide.ts against
 * the database; on success the phone becomes the user's on the user's primary DN with the user
 * profile's universal device and line templates applied (templates/apply.ts), the IVR says
 * goodbye, sends BYE, and resets the phone with service-control so it comes back on that line,
 * its new cnf.xml carrying what the templates gave it.
 * No digit for 10 s is a timeout, on the injected clock.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';
import { verifySecret } from '../../common/password-hash.ts';
import { RtpSession } from '../../media/rtp-session.ts';
import type { Dialog, IncomingInvite, UserAgent } from '../../sip/index.ts';
import { answerAudio, parseSdp, writeSdp } from '../../wire/sdp.ts';
import type { CompanionDb } from '../db.ts';
import { dress } from '../templates/apply.ts';
import { UniversalTemplateStore } from '../templates/store.ts';
import { decide } from './decide.ts';
import { PromptAudio, type UdpEndpoint } from './prompt-audio.ts';
import { type IvrOutput, SelfProvisioningScript } from './script.ts';
import type { IvrStore } from './store.ts';

/** No digit for this long: the script's timeout. */
export const DIGIT_TIMEOUT_MS = 10_000;
/** Between the goodbye and the BYE: the goodbye's beep and text reach the caller first. */
const GOODBYE_MS = 1_000;
/** How prompts' words travel (docs/protocols/ivr.md). */
export const PROMPT_CONTENT_TYPE = 'text/plain';
/** IVR calls at once (each holds an RTP socket), and per calling device. */
export const MAX_IVR_CALLS = 32;
const MAX_PER_DEVICE = 1;
/** The BYE waits this long at most for the prompts' INFOs to be answered. */
const INFO_WAIT_MS = 2_000;

export interface IvrCallsDeps {
  ua: UserAgent;
  db: CompanionDb;
  store: IvrStore;
  clock: Clock;
  /** Where the IVR's RTP socket binds (the companion's address). */
  address: string;
  openUdp(address: string): Promise<UdpEndpoint>;
  /** service-control reset of a device, over its own connection. */
  reset(device: string): Promise<{ ok: boolean; detail: string }>;
  log(line: string): void;
}

export class IvrCalls {
  private readonly d: IvrCallsDeps;
  private readonly live = new Set<IvrCall>();

  constructor(d: IvrCallsDeps) {
    this.d = d;
  }

  /** The IVR's extension now (it may change at run time), undefined when no IVR is set. */
  extension(): string | undefined {
    return this.d.store.settings().extension;
  }

  /** Calls in progress. */
  get active(): number {
    return this.live.size;
  }

  /** Answers a call to the IVR from `caller` (a registered device). */
  async take(inv: IncomingInvite, caller: { device: string; dn: string }): Promise<void> {
    const mine = [...this.live].filter((c) => c.device === caller.device).length;
    if (this.live.size >= MAX_IVR_CALLS || mine >= MAX_PER_DEVICE) {
      inv.reject(486);
      this.d.log(`ivr ${caller.device} (${caller.dn}): refused, busy (486): ${mine >= MAX_PER_DEVICE ? 'this device is in the IVR already' : `${MAX_IVR_CALLS} IVR calls at once`}`);
      return;
    }
    const call = new IvrCall(this.d, caller, () => this.live.delete(call));
    this.live.add(call);
    await call.run(inv);
  }

  /** The companion stops: every IVR call ends. */
  stop(): void {
    for (const c of [...this.live]) c.close('the companion stops');
  }
}

class IvrCall {
  private readonly d: IvrCallsDeps;
  private readonly caller: { device: string; dn: string };
  private readonly gone: () => void;
  private readonly audio = new PromptAudio();
  private script: SelfProvisioningScript | undefined;
  private socket: UdpEndpoint | undefined;
  private rtp: RtpSession | undefined;
  private dialog: Dialog | undefined;
  /** Digits heard before the dialog was confirmed: run once it is. */
  private early: string[] = [];
  private cancelTimer: (() => void) | undefined;
  /** INFOs go one after another, in order. */
  private sending: Promise<unknown> = Promise.resolve();
  private over = false;

  constructor(d: IvrCallsDeps, caller: { device: string; dn: string }, gone: () => void) {
    this.d = d;
    this.caller = caller;
    this.gone = gone;
  }

  get device(): string {
    return this.caller.device;
  }

  private log(text: string): void {
    this.d.log(`ivr ${this.caller.device} (${this.caller.dn}): ${text}`);
  }

  async run(inv: IncomingInvite): Promise<void> {
    const settings = this.d.store.settings();
    const offer = parseSdp(Buffer.from(inv.request.body).toString('utf8'));
    if (!offer.ok) {
      inv.reject(488);
      this.log('refused: the INVITE carries no SDP offer the IVR can read (488)');
      return this.close('no offer');
    }
    try {
      this.socket = await this.d.openUdp(this.d.address);
    } catch (e) {
      inv.reject(503);
      this.log(`refused: no RTP socket (${(e as Error).message})`);
      return this.close('no socket');
    }
    const answer = answerAudio(offer.value, {
      address: this.d.address, port: this.socket.port, sessionId: String(this.d.clock.now()), username: 'sepi-ivr', codecs: ['PCMU', 'PCMA'], telephoneEvent: true,
    });
    if (!answer.ok) {
      inv.reject(488);
      this.log(`refused: ${answer.error.message} (488)`);
      return this.close('no common codec');
    }
    const a = answer.value;
    if (a.telephoneEventPt === undefined) this.log('the caller offers no telephone-event: its digits cannot reach the IVR');
    this.script = new SelfProvisioningScript({ auth: settings.auth });
    this.rtp = new RtpSession({
      socket: this.socket, clock: this.d.clock, remote: a.remote, codec: a.codec, source: this.audio,
      ...(a.telephoneEventPt !== undefined ? { telephoneEventPt: a.telephoneEventPt } : {}),
      onDtmf: (digit) => this.digit(digit),
    });
    inv.oncancel = () => this.close('cancelled by the caller');
    try {
      this.dialog = await inv.accept({ body: Buffer.from(writeSdp(a.answer)), contentType: 'application/sdp' });
    } catch (e) {
      return this.close(`not answered: ${(e as Error).message}`);
    }
    if (this.over) return;
    this.dialog.onEnd((why) => this.close(why === 'bye-received' ? 'the caller hung up' : `dialog ${why}`));
    this.log(`answered (${a.codec.encoding}${a.telephoneEventPt !== undefined ? ', telephone-event' : ''}), authentication ${settings.auth}`);
    this.rtp.start();
    this.handle(this.script.start());
    for (const digit of this.early.splice(0)) this.digit(digit);
  }

  private digit(digit: string): void {
    if (this.over || !this.script) return;
    if (!this.dialog) {
      this.early.push(digit);
      return;
    }
    this.handle(this.script.digit(digit));
  }

  /** (Re)starts the no-digit timer. */
  private arm(): void {
    this.cancelTimer?.();
    this.cancelTimer = this.d.clock.timer(DIGIT_TIMEOUT_MS, () => {
      this.cancelTimer = undefined;
      if (this.over || !this.script) return;
      this.log(`no digit for ${DIGIT_TIMEOUT_MS / 1000} s`);
      this.handle(this.script.timeout());
    });
  }

  private handle(outputs: IvrOutput[]): void {
    for (const o of outputs) {
      if (this.over) return;
      if (o.kind === 'prompt') {
        this.say(o.text);
        this.arm();
      } else if (o.kind === 'check') {
        this.handle(this.check(o.userId, o.secret));
      } else {
        this.cancelTimer?.();
        this.say(o.text);
        this.finish(o.reason);
      }
    }
  }

  /** A prompt: a beep to the ear, the words to the log and to the caller. */
  private say(text: string): void {
    if (!text) return;
    this.log(`says "${text}"`);
    this.audio.beep();
    const dialog = this.dialog;
    if (!dialog) return;
    this.sending = this.sending.then(() =>
      dialog.state === 'confirmed' ? this.d.ua.requestInDialog(dialog, 'INFO', { body: Buffer.from(text), contentType: PROMPT_CONTENT_TYPE }).catch(() => undefined) : undefined,
    );
  }

  private check(userId: string, secret: string | undefined): IvrOutput[] {
    const { db, store } = this.d;
    const settings = store.settings();
    const phone = db.phone(this.caller.device);
    const user = store.user(userId);
    const v = decide({ auth: settings.auth, authCodeHash: settings.authCodeHash }, user, { deviceName: this.caller.device, autoregistered: phone?.autoregistered ?? false }, secret, verifySecret);
    if (!v.ok) {
      this.log(`user ${userId}: refused (${v.why})`);
      return this.script!.verdict(v);
    }
    // The user's line may be on another phone already (one phone per DN here: no shared lines).
    const holder = db.phoneByDn(v.dn);
    if (holder && holder.deviceName !== this.caller.device) {
      this.log(`user ${userId}: refused, ${v.dn} is the line of ${holder.deviceName} already`);
      return this.script!.verdict({ ok: false, why: 'device' });
    }
    const released = phone?.dn;
    // The user profile's templates, as they are now (a template named but since removed is no template).
    const templates = new UniversalTemplateStore(db);
    const device = user?.deviceTemplate ? templates.deviceTemplate(user.deviceTemplate) : undefined;
    const line = user?.lineTemplate ? templates.lineTemplate(user.lineTemplate) : undefined;
    const dressed = dress({ device, line, phone: { deviceName: this.caller.device, model: phone?.model ?? '', dn: v.dn }, user: { id: userId, name: user?.name ?? '' } }, `${userId} ${v.dn}`);
    try {
      store.provision(this.caller.device, userId, v.dn, `${this.d.clock.now()}-${randomBytes(8).toString('hex')}`, dressed);
    } catch (e) {
      this.log(`user ${userId}: could not provision: ${(e as Error).message}`);
      return this.script!.verdict({ ok: false, why: 'device' });
    }
    const applied = [device && `device template ${device.name}`, line && `line template ${line.name}`].filter(Boolean).join(', ') || 'no templates';
    this.log(`provisioned ${this.caller.device} for user ${userId} on ${v.dn} (authenticated ${v.by}); ${released} back to the autoregistration range`);
    this.log(`user profile ${user?.profile ?? '(implicit)'}: ${applied} applied: "${dressed.description}", device pool ${dressed.applied.devicePool}, line "${dressed.applied.displayName}"`);
    return this.script!.verdict({ ok: true, dn: v.dn });
  }

  /** Goodbye said: BYE once it has been heard, then (provisioned) the reset. */
  private finish(reason: 'provisioned' | 'refused' | 'gave-up'): void {
    const dialog = this.dialog;
    this.d.clock.timer(GOODBYE_MS, () => {
      // A caller that never answers an INFO does not hold the BYE for Timer F's 32 s.
      let cancelWait = () => {};
      const waited = new Promise<void>((resolve) => {
        cancelWait = this.d.clock.timer(INFO_WAIT_MS, resolve);
      });
      void Promise.race([this.sending, waited]).then(async () => {
        cancelWait();
        if (dialog && dialog.state === 'confirmed') await this.d.ua.bye(dialog).catch(() => undefined);
        this.close(`ended: ${reason}`);
        if (reason !== 'provisioned') return;
        const r = await this.d.reset(this.caller.device);
        this.log(`service-control reset: ${r.ok ? 'sent' : 'failed'} (${r.detail})`);
      });
    });
  }

  close(why: string): void {
    if (this.over) return;
    this.over = true;
    this.cancelTimer?.();
    this.rtp?.stop();
    this.socket?.close();
    if (this.dialog?.state === 'confirmed') void this.d.ua.bye(this.dialog).catch(() => undefined);
    const stats = this.rtp?.stats();
    this.log(`call over: ${why}${stats ? ` (rtp sent ${stats.sent}, received ${stats.received}, digits "${stats.dtmfReceived}")` : ''}`);
    this.gone();
  }
}
