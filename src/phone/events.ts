/**
 * What the firmware tells the world: one typed event per step outcome, published on the
 * firmware's bus to any number of subscribers (screens, the `--json-events` stream, the LCD log,
 * fleet statistics, next the web page and a per-boot report). The publisher does not know who
 * listens.
 *
 * The events are declared once, here, as zod schemas: the TypeScript types are inferred from
 * them, and `docs/schema/phone-events.schema.json` (JSON Schema 2020-12, the published contract
 * of the JSON stream) is generated from them by `scripts/phone-events-schema.ts` — so the code,
 * the contract and the validator the tests use cannot drift apart. The firmware imports only
 * the types (`import type`), so a phone process never loads zod.
 *
 * Every event line has `type` ("event" for step outcomes, "flow" for a boot flow's state
 * change), and step events keep `step`, `state`, `ms` (since the step started), `t` (since
 * power-on or the last reboot) and `message` (the words the phone shows).
 */
import { z } from 'zod';

const int = z.int().nonnegative();
const stamp = {
  type: z.literal('event'),
  /** Milliseconds since this step started. */
  ms: int,
  /** Milliseconds since power-on (or the last reboot). */
  t: int,
  /** The words the phone shows for this event. */
  message: z.string(),
};
const ev = <S extends string, T extends string, F extends z.ZodRawShape>(step: S, state: T, fields: F, what: string) =>
  z.strictObject({ ...stamp, step: z.literal(step), state: z.literal(state), ...fields }).describe(what);

const ipv4 = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/);
const fetchResult = {
  file: z.string(),
  server: ipv4,
  result: z.enum(['found', 'absent', 'failed']),
  via: z.enum(['http', 'tftp']).optional(),
  bytes: int.optional(),
  detail: z.string(),
};

// ---- power and reboots -------------------------------------------------------------------------

export const REBOOT_REASONS = ['power-on', 'reset-reset', 'reset-restart', 'user-restart', 'trust-list-erased', 'factory-reset', 'dhcp-lease-lost', 'load-installed', 'configured-by-hand', 'resync', 'settings-changed'] as const;
const rebootReason = z.enum(REBOOT_REASONS);

export const powerStart = ev('power', 'start', { reason: rebootReason, mac: z.string(), model: z.string(), persona: z.enum(['enterprise', 'mpp']), load: z.string(), inactiveLoad: z.string() }, 'A boot cycle begins: why, who this phone is, the load it runs and the one in its other bank');
export const powerFail = ev('power', 'fail', { problem: z.enum(['settings', 'firmware-error']), error: z.string().optional() }, 'The boot cannot go on: bad settings, or a firmware bug (with its stack)');
export const rebootStart = ev('reboot', 'start', { kind: z.enum(['reset', 'restart']), reason: rebootReason }, 'A reset (from DHCP) or a restart (configuration again, address kept) begins');

// ---- DHCP --------------------------------------------------------------------------------------

export const dhcpStart = ev('dhcp', 'start', { iface: z.string() }, 'DHCP begins on an interface');
export const dhcpSend = ev('dhcp', 'progress', { dhcp: z.enum(['discover', 'request']), attempt: int, to: ipv4 }, 'A DISCOVER or REQUEST sent (attempt counts retransmissions)');
export const dhcpOffer = ev('dhcp', 'progress', { dhcp: z.literal('offer'), offered: ipv4, server: ipv4 }, 'An OFFER taken');
export const dhcpNak = ev('dhcp', 'progress', { dhcp: z.literal('nak'), server: ipv4, reason: z.string() }, 'A NAK: back to INIT');
export const dhcpReuse = ev('dhcp', 'progress', { dhcp: z.literal('reuse'), address: ipv4, remainingSecs: int }, 'No answer to INIT-REBOOT: the unexpired stored lease is kept (RFC 2131 §3.2)');
export const dhcpIgnored = ev('dhcp', 'progress', { dhcp: z.literal('ignored'), reason: z.string() }, 'A reply not used, and why');
export const dhcpRenewed = ev('dhcp', 'progress', { dhcp: z.literal('renewed'), address: ipv4, leaseSecs: int }, 'The lease renewed (T1) or rebound (T2)');
export const dhcpLease = ev('dhcp', 'done', {
  dhcp: z.literal('lease'), address: ipv4, prefix: int, router: ipv4.optional(), server: ipv4, leaseSecs: int,
  option150: z.array(ipv4), option66: z.string().optional(), siaddr: ipv4,
}, 'An address leased, with the TFTP server options');
export const dhcpStatic = ev('dhcp', 'done', { dhcp: z.literal('off'), address: ipv4 }, 'DHCP off: the static address in use');
export const dhcpKept = ev('dhcp', 'done', { dhcp: z.literal('kept'), address: ipv4 }, 'A restart keeps the address it has');
export const dhcpFail = ev('dhcp', 'fail', { dhcp: z.enum(['interface', 'lost']), reason: z.string() }, 'The interface is not usable, or the lease was lost (the phone reboots)');
export const dhcpRetry = ev('dhcp', 'retry', { reason: z.enum(['no-offer', 'no-ack', 'nak', 'send-failed']), inSecs: int }, 'No lease this round; the next after inSecs');

// ---- TFTP server choice ------------------------------------------------------------------------

const tftpSource = z.enum(['alternate', 'option 150', 'option 66', 'siaddr']);
export const tftpChosen = ev('tftp', 'done', { server: ipv4, host: z.string(), source: tftpSource }, 'The TFTP server to ask, and where its name came from');
export const tftpUnresolved = ev('tftp', 'fail', { host: z.string(), source: tftpSource, reason: z.string() }, 'A TFTP server name that did not resolve');

// ---- trust lists -------------------------------------------------------------------------------

export const trustStart = ev('trust', 'start', { server: ipv4 }, 'Asking for the CTL and ITL');
export const trustFetched = ev('trust', 'progress', fetchResult, 'A trust list asked for: found, absent or failed');
export const trustInstalled = ev('trust', 'progress', { file: z.string(), trust: z.literal('installed'), how: z.string(), records: int }, 'A list installed, and on what grounds');
export const trustTvs = ev('trust', 'progress', { tvs: z.enum(['valid', 'invalid', 'unreachable']), server: z.string().optional() }, "TVS's answer about a certificate");
export const trustRefused = ev('trust', 'fail', { file: z.string(), trust: z.literal('refused'), reason: z.string() }, 'A list refused: the installed one stays');
export const trustServerDown = ev('trust', 'fail', { file: z.string(), trust: z.literal('server-down'), server: ipv4, reason: z.string() }, 'The TFTP server did not answer for a list');
export const trustTvsDown = ev('trust', 'retry', { file: z.string(), tvs: z.literal('unavailable'), reason: z.string() }, 'A new list needs TVS and TVS is not answering');
export const trustDone = ev('trust', 'done', { server: ipv4, signedFiles: z.boolean() }, 'Trust lists handled; whether files must now come signed');

// ---- the configuration file --------------------------------------------------------------------

/** `profile`: a Multiplatform phone's flat-profile parameters (no cnf.xml). */
const configKind = z.enum(['device', 'default', 'profile']);
export const configStart = ev('config', 'start', { server: ipv4, file: z.string() }, 'Asking for the configuration file');
export const configFetched = ev('config', 'progress', fetchResult, 'A configuration name asked for: found, absent or failed');
export const configLoad = ev('config', 'progress', { wantedLoad: z.string(), activeLoad: z.string() }, 'The file asks for another firmware load');
export const configRefused = ev('config', 'fail', { file: z.string(), error: z.string(), reason: z.string(), at: z.union([z.string(), int]).optional() }, 'A file refused: bad signature, unreadable XML, not SIP');
export const configDone = ev('config', 'done', {
  file: z.string(), server: ipv4, via: z.enum(['http', 'tftp']), configKind, callManagers: int, signed: z.boolean(),
  /** The full file came encrypted for this phone's LSC (`<name>.enc.sgn`) and was decrypted. */
  encrypted: z.boolean().optional(),
}, 'A configuration file accepted');
export const configShort = ev('config', 'progress', { file: z.string(), encrypted: z.literal(false), certHash: z.string(), reason: z.string() }, 'The file says the full one is encrypted, and this phone cannot open it yet (no LSC, or another one): CAPF first');
export const configLastGood = ev('config', 'done', { file: z.string(), server: ipv4, configKind, lastGood: z.literal(true) }, 'The newest file was refused: the last good one is used');
export const configRetry = ev('config', 'retry', { reason: z.enum(['no-server', 'absent', 'refused', 'tvs-down']), round: int, inSecs: int }, 'No usable configuration this round; the next after inSecs');

// ---- certificate (CAPF) ------------------------------------------------------------------------
export const certificateStart = ev('certificate', 'start', { server: z.string(), authMode: int }, 'A CAPF session begins (capfAuthMode: 1 authentication string, 2 null string, 3 LSC, 4 MIC)');
export const certificateDone = ev('certificate', 'done', {
  certificate: z.enum(['installed', 'deleted', 'fetched', 'no-action']), server: z.string(),
  serial: z.string().optional(), issuer: z.string().optional(), certHash: z.string().optional(),
}, 'The CAPF session ended well: an LSC installed (its serial, issuer and hash), deleted, fetched, or nothing to do');
export const certificateFail = ev('certificate', 'fail', { certificate: z.enum(['refused', 'failed', 'cancelled']), server: z.string(), reason: z.string() }, 'CAPF refused the phone, the session failed, or the user cancelled the authentication string');

// ---- onboarding (activation codes) --------------------------------------------------------------
export const onboardingStart = ev('onboarding', 'start', { method: z.literal('activation-code'), service: z.string() }, 'The default file says this model onboards with an activation code: the phone asks for one');
export const onboardingSent = ev('onboarding', 'progress', { onboarding: z.literal('code-sent'), service: z.string() }, 'A code (never in the event) sent to the Device Activation Service with the MIC');
export const onboardingDone = ev('onboarding', 'done', { onboarding: z.literal('activated'), deviceName: z.string() }, 'Activated: the phone is now its own device and reads its own file');
export const onboardingFail = ev('onboarding', 'fail', {
  onboarding: z.enum(['typo', 'refused', 'locked-out', 'no-mic', 'no-trust', 'unreachable']), reason: z.string(), retryAfterSecs: int.optional(),
}, 'A code not accepted (a typo caught by the check digit, or the service\'s reason), a lockout with its time left, or what stops onboarding altogether');

// ---- firmware loads (two banks) ---------------------------------------------------------------
export const loadStart = ev('load', 'start', { wantedLoad: z.string(), activeLoad: z.string(), server: ipv4 }, 'The configuration names another load: downloading it to the inactive bank');
export const loadFile = ev('load', 'progress', { file: z.string(), bytes: int }, 'A component downloaded, its size and SHA-256 as the signed list says, written to the inactive bank');
export const loadInstalled = ev('load', 'done', { load: z.string(), bank: z.enum(['A', 'B']), files: int }, 'Every component there and verified: the banks switched, the phone reboots on trial');
export const loadRefused = ev('load', 'fail', { wantedLoad: z.string(), activeLoad: z.string(), reason: z.string() }, 'The load is not installed (no signer, not signed by it, a file that does not match, failed before): the active bank stays');
export const loadTrial = ev('load', 'progress', { trial: z.enum(['passed', 'failed']), load: z.string(), activeLoad: z.string() }, 'A load on trial registered (it is good now), or a second boot on it without registering sent the phone back to the other bank');

// ---- Multiplatform: customization (EDOS) and provisioning profiles -----------------------------

/** Cisco's names for the Remote Customization states (src/phone/mpp/customization.ts). */
const customizationState = z.enum(['Open', 'Pending', 'Custom-Pending', 'Acquired', 'Unavailable', 'Aborted']);
const resyncTrigger = z.enum(['power-up', 'periodic', 'retry', 'explicit', 'dhcp', 'edos-redirect']);
export const customizationNow = ev('customization', 'done', { customization: customizationState, from: customizationState.optional(), why: z.string() }, 'The customization state changed (from), or, at boot, what it is (no from)');
export const customizationAsk = ev('customization', 'start', { customization: z.literal('Pending'), edos: z.string(), attempt: int }, 'Asking the EDOS server for this phone\'s provider');
export const customizationRetry = ev('customization', 'retry', { customization: z.enum(['Pending', 'Custom-Pending']), reason: z.string(), inSecs: int, attempt: int }, 'EDOS or the redirect failed; asked again after inSecs (nominal: --wait-scale shortens the real wait, not this number)');
export const profileStart = ev('profile', 'start', { url: z.string(), rule: z.string(), trigger: resyncTrigger }, 'A resync: the URL the profile rule chose (keys and passwords never shown)');
export const profileDone = ev('profile', 'done', { url: z.string(), params: int, encrypted: z.boolean(), gzipped: z.boolean(), trigger: resyncTrigger }, 'A profile downloaded and applied: how many parameters it set');
export const profileFail = ev('profile', 'fail', { url: z.string(), reason: z.string(), status: int.optional() }, 'A profile not downloaded or not readable: why (HTTP status, TFTP error, bad key, bad XML)');
export const profileRetry = ev('profile', 'retry', { reason: z.string(), inSecs: int }, 'The resync failed; the next after inSecs (Resync_Error_Retry_Delay, nominal)');
export const profileScheduled = ev('profile', 'progress', { resync: z.literal('scheduled'), inSecs: int }, 'The next periodic resync (Resync_Periodic, nominal)');
export const profileManual = ev('profile', 'progress', { resync: z.literal('configured-by-hand'), params: z.array(z.string()), source: z.enum(['keypad', 'web', 'command']) }, 'Parameters set by hand (names only, never values)');

// ---- registration ------------------------------------------------------------------------------

export const registerStart = ev('register', 'start', { user: z.string(), callId: z.string() }, 'Registering a line (or the device name on the default file)');
export const registerUnresolved = ev('register', 'progress', { registration: z.literal('unresolved'), host: z.string(), reason: z.string() }, 'A call manager name that did not resolve');
export const registerConnecting = ev('register', 'progress', { registration: z.literal('connecting'), cm: ipv4, port: int }, 'Connecting to a call manager');
export const registerConnectFailed = ev('register', 'progress', { registration: z.literal('connect-failed'), cm: ipv4, failed: z.literal(true), reason: z.string() }, 'A call manager not reachable');
export const registerChallenged = ev('register', 'progress', { registration: z.literal('challenged'), cm: ipv4, realm: z.string() }, 'Digest challenge answered');
export const registerRejected = ev('register', 'progress', { registration: z.literal('rejected'), cm: ipv4, status: int, reason: z.string() }, 'One call manager refused the phone');
export const registerRefreshed = ev('register', 'progress', { registration: z.literal('refreshed'), cm: ipv4, expires: int, refreshed: z.literal(true) }, 'Registration refreshed');
export const registerBackup = ev('register', 'progress', { registration: z.literal('backup'), backup: ipv4, reason: z.string() }, 'A keep-alive to the backup call manager failed');
export const registerServiceControl = ev('register', 'progress', { registration: z.literal('service-control'), serviceControl: z.enum(['reset', 'restart', 'prt-report', 'apply-config']), accepted: z.boolean() }, 'A service-control NOTIFY: obeyed when it names our registration');
export const registerDone = ev('register', 'done', {
  cm: ipv4, line: z.string(), expires: int, configKind, file: z.string(), priority: int,
  // What the configuration file says to show for the line (its featureLabel) and its speed-dial buttons, when it has them.
  label: z.string().optional(),
  speedDials: z.array(z.strictObject({ button: int, number: z.string(), label: z.string() })).optional(),
}, 'Registered');
export const registerLost = ev('register', 'fail', { cm: ipv4, reason: z.string() }, 'The registration was lost');
export const registerUnanswered = ev('register', 'retry', { registration: z.literal('unanswered'), inSecs: int }, 'No call manager answered; the next round after inSecs');
// Lines 2 to 10 of a Multiplatform phone, each registering with its own proxy beside line 1
// (whose `register` events are the phone's registration): they never change the phone's phase.
const lineIndex = z.int().min(2).max(10);
export const lineStart = ev('line', 'start', { lineIndex, user: z.string(), proxy: z.string() }, 'A further line (2 to 10, Multiplatform) begins registering with its proxy');
export const lineProgress = ev('line', 'progress', { lineIndex, user: z.string(), registration: z.string(), reason: z.string().optional() }, 'A further line\'s registration moved on (connecting, challenged, refreshed, refused by one proxy…)');
export const lineDone = ev('line', 'done', { lineIndex, user: z.string(), cm: ipv4, expires: int }, 'A further line registered');
export const lineLost = ev('line', 'fail', { lineIndex, user: z.string(), reason: z.string() }, 'A further line\'s registration was lost');
export const lineRetry = ev('line', 'retry', { lineIndex, user: z.string(), reason: z.string(), inSecs: int }, 'A further line was refused or unanswered; it tries again after inSecs');
export const registerRefused = ev('register', 'retry', { registration: z.literal('refused'), cm: z.string(), status: int, reason: z.string(), inSecs: int }, 'Every call manager refused the phone; the configuration is read again after inSecs');

// ---- calls (src/phone/call) ----------------------------------------------------------------------

const callDirection = z.enum(['outgoing', 'incoming']);
/** Why a call ended (src/phone/call/call-state.ts): the first two end a connected call normally. */
const callEndReason = z.enum(['local-hangup', 'remote-hangup', 'rejected', 'cancelled', 'caller-cancelled', 'declined', 'no-answer', 'unsupported-media', 'failed', 'line-lost', 'abandoned']);
export const callDialing = ev('call', 'start', { call: z.literal('dialing'), offHook: z.boolean() }, 'The dialing screen opened: off hook (NewCall, digits dialed after an inter-digit timeout) or a first digit typed on the home screen (dialed with Dial)');
export const callCalling = ev('call', 'start', { call: z.literal('calling'), direction: z.literal('outgoing'), number: z.string(), callId: z.string(), cm: ipv4 }, 'An INVITE (with our SDP offer) sent to the call manager for number');
export const callRingback = ev('call', 'progress', { call: z.literal('ringback'), direction: z.literal('outgoing'), number: z.string(), callId: z.string(), status: int }, 'The far end rings (180, or 183 with early media)');
export const callRinging = ev('call', 'start', { call: z.literal('ringing'), direction: z.literal('incoming'), number: z.string(), name: z.string().optional(), callId: z.string() }, "An incoming call rings (180 sent): the caller's number and display name");
export const callConnected = ev('call', 'progress', {
  call: z.literal('connected'), direction: callDirection, number: z.string(), callId: z.string(),
  codec: z.enum(['PCMU', 'PCMA']), remote: z.string(), local: z.string(), dtmf: z.boolean(), audio: z.string(),
}, 'Answered: the codec agreed, where RTP goes (remote) and comes in (local), whether RFC 4733 DTMF was agreed, what this phone sends');
export const callDtmf = ev('call', 'progress', { call: z.literal('dtmf'), dtmf: z.enum(['sent', 'received']), digit: z.string(), callId: z.string() }, 'A DTMF digit sent or received as RFC 4733 telephone-events');
export const callPrompt = ev('call', 'progress', { call: z.literal('prompt'), text: z.string(), callId: z.string() }, "A prompt's words from the far end (the companion's IVR) in an INFO or MESSAGE, Content-Type text/plain (docs/protocols/ivr.md)");
const callEnd = {
  call: z.literal('ended'), reason: callEndReason, direction: callDirection, number: z.string(), callId: z.string(),
  /** The final response that ended it (a refusal, 487 to our CANCEL), when there was one. */
  status: int.optional(),
  /** Connected for this long (0 when it never connected). */
  connectedMs: int,
  rtp: z.strictObject({ sent: int, received: int, lost: int }).optional(),
  dtmfSent: z.string(), dtmfReceived: z.string(),
};
export const callEnded = ev('call', 'done', callEnd, 'A connected call ended normally (either side hung up): the RTP packets sent, received and lost, the DTMF both ways');
export const callFailed = ev('call', 'fail', callEnd, 'A call that did not connect, or ended otherwise: refused (status), cancelled, no answer, no common codec, the line lost');

// ---- boot flows --------------------------------------------------------------------------------

export const flowTransition = z
  .strictObject({
    type: z.literal('flow'),
    flow: z.enum(['enterprise', 'mpp']),
    from: z.string(),
    to: z.string(),
    t: int,
  })
  .describe("A boot flow's state changed (the flow's states are drawn in its source)");

export const STEP_EVENTS = [
  powerStart, powerFail, rebootStart,
  dhcpStart, dhcpSend, dhcpOffer, dhcpNak, dhcpReuse, dhcpIgnored, dhcpRenewed, dhcpLease, dhcpStatic, dhcpKept, dhcpFail, dhcpRetry,
  tftpChosen, tftpUnresolved,
  trustStart, trustFetched, trustInstalled, trustTvs, trustRefused, trustServerDown, trustTvsDown, trustDone,
  configStart, configFetched, configLoad, configRefused, configDone, configShort, configLastGood, configRetry,
  certificateStart, certificateDone, certificateFail,
  onboardingStart, onboardingSent, onboardingDone, onboardingFail,
  loadStart, loadFile, loadInstalled, loadRefused, loadTrial,
  customizationNow, customizationAsk, customizationRetry, profileStart, profileDone, profileFail, profileRetry, profileScheduled, profileManual,
  registerStart, registerUnresolved, registerConnecting, registerConnectFailed, registerChallenged, registerRejected, registerRefreshed,
  registerBackup, registerServiceControl, registerDone, registerLost, registerUnanswered, registerRefused,
  lineStart, lineProgress, lineDone, lineLost, lineRetry,
  callDialing, callCalling, callRingback, callRinging, callConnected, callDtmf, callPrompt, callEnded, callFailed,
] as const;

export const stepEvent = z.union(STEP_EVENTS);

/** One line of the JSON stream that is not an event: the screen as drawn (`--json-screens`). */
export const screenLine = z
  .strictObject({ type: z.literal('screen'), screen: z.array(z.string()), softkeys: z.array(z.string()) })
  .describe('The LCD as drawn: rows of characters and the softkey labels');

/** Every line `sepi phone --json-events` prints. */
export const phoneStreamLine = z.union([stepEvent, flowTransition, screenLine]);

export type StepEvent = z.infer<typeof stepEvent>;
export type FlowTransition = z.infer<typeof flowTransition>;
export type RegisteredEvent = z.infer<typeof registerDone>;
export type CallEvent = Extract<StepEvent, { step: 'call' }>;
export type ScreenLine = z.infer<typeof screenLine>;
/** What the firmware publishes on its bus. */
export type PhoneEvent = StepEvent | FlowTransition;
export type BootStep = StepEvent['step'];
export type StepState = StepEvent['state'];
export type RebootReason = (typeof REBOOT_REASONS)[number];

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** An event as a step reports it; the firmware stamps `type` and `t`. */
export type StepReport = DistributiveOmit<StepEvent, 'type' | 't'>;

/** What the screens are drawn from: a summary the firmware keeps current. */
export interface PhoneStatus {
  model: string;
  deviceName: string;
  /** The big word on the screen: Configuring IP, Configuring CM, Registering, Registered… */
  phase: string;
  registered: boolean;
  address: string | undefined;
  tftpServer: string | undefined;
  configFile: string | undefined;
  line: string | undefined;
  /** Lines 2 to 10 of a Multiplatform phone, in order: registered or not, and why not. */
  lines?: Array<{ index: number; user: string; registered: boolean; problem?: string | undefined }> | undefined;
  /** The registered line's label and speed-dial buttons, as its configuration gives them (a universal template's). */
  lineLabel?: string | undefined;
  speedDials?: Array<{ button: number; number: string; label: string }> | undefined;
  callManager: string | undefined;
  /** Latest event messages, newest last. */
  log: string[];
  /** The last failure in words, cleared on success. */
  problem: string | undefined;
  /** A refusal the phone is living with (a file refused, the last good one in use): stays on show while registered. */
  warning: { text: string; from: 'trust' | 'config' } | undefined;
  /** The firmware load running, and the one in the other bank (from the power-on event). */
  load: string;
  inactiveLoad: string;
  /** This boot's step outcomes, oldest first, with their time since power-on: Status > Last boot. */
  boot: Array<{ step: string; state: 'done' | 'fail'; t: number; message: string }>;
  /** A Multiplatform phone's customization state (Open … Aborted); undefined on an enterprise phone. */
  customization: string | undefined;
  /** The URL of the last profile applied (Multiplatform). */
  profileUrl: string | undefined;
}
