/**
 * The companion's SIP registrar on TCP 5060 (reference §9.1, §10 item 5), on the shared SIP
 * core (src/sip, docs/sip-core.md): one StreamTransport that listens and enforces the limits of
 * docs/security.md, one UserAgent whose `onRequest` takes REGISTER and the rest, and whose
 * `onInvite` routes calls between the registered devices (sip/calls.ts).
 *
 * It knows phones by the device name and MAC in their Contact (`+u.sip!devicename`,
 * `+sip.instance`), answers 200 with a short Expires as CUCM does (120 s by default), leaves
 * the binding alone on a `expires=0;cisco-keep-alive` REGISTER (a phone keeping its backup
 * warm), challenges with digest only phones that have a password, and autoregisters unknown
 * phones: the phone gets the next DN of the range and a `service-control` reset so it reboots
 * onto its own file. Unknown phones with autoregistration off get 403 and a Warning that says why.
 *
 * A REGISTER whose Contact carries none of the Cisco parameters is a third-party SIP client
 * (baresip, linphone, SIPp) taking a line: its To names a DN, and it must answer the digest
 * challenge with that DN as user name and the line's password (docs/companion.md, "Calls").
 *
 * At scale (issue 12, docs/scale.md "SIP registrar"): bindings are read from memory
 * (registrar/registration-book.ts) and written by group commit in a worker thread
 * (group-commit.ts, registrar/registration-writer.ts); a 200 that binds or unbinds
 * leaves only once its change is durable, so a kill -9 loses nothing a phone was told. Per-device
 * log lines are capped at 200 a second, a storm gets one summary line a second (storm-log.ts).
 */
import { type Clock, SystemClock } from '../common/clock.ts';
import { type IncomingRequest, type SipSource, StreamTransport, UserAgent, isLocalResponse, newCallId, newTag, nodeTcpSockets } from '../sip/index.ts';
import type { TransportDrop } from '../sip/transport.ts';
import { type ServiceAction, buildServiceControl, parseAlarmReason, parseCiscoContacts } from '../wire/cisco-sip.ts';
import { type SipHeaders, header, headers, parseNameAddr, parseSipUri, splitList } from '../wire/sip.ts';
import type { CompanionConfig } from './config.ts';
import type { CompanionDb, PhoneRecord } from './db.ts';
import { AutoRegistration } from './autoregistration.ts';
import { LimitLog } from './limits.ts';
import { CallRouter } from './sip/calls.ts';
import { IvrCalls } from './ivr/ivr-calls.ts';
import { openRtpUdp } from './ivr/prompt-audio.ts';
import { IvrStore } from './ivr/store.ts';
import { DigestGuard } from './sip/digest.ts';
import { FlowTable, flowKey } from './sip/flows.ts';
import type { RegistrationBook } from './registrar/registration-book.ts';
import { GroupCommit } from './group-commit.ts';
import { InlineRegistrationWriter, type RegistrationWriter, WorkerRegistrationWriter } from './registrar/registration-writer.ts';
import { StormLog } from './storm-log.ts';
import { PhoneLookup } from './registrar/phone-lookup.ts';
import { withDeferredSync } from './deferred-sync.ts';

export interface RegistrarLogEntry {
  method: string;
  device: string;
  from: string;
  status: number;
  detail: string;
}

/** How long a phone has to answer a service-control NOTIFY (shorter than Timer F's 32 s). */
const NOTIFY_ANSWER_MS = 10_000;
const SERVER = 'sepi-cm/0.1';
/**
 * Under load, commits of bindings are 2 ms apart (group-commit.ts `pace`): phones that open a
 * connection per REGISTER otherwise get a commit for every two or three 200s.
 */
const COMMIT_PACE_MS = 2;

export class Registrar {
  private readonly db: CompanionDb;
  private readonly cfg: CompanionConfig;
  private readonly log: (e: RegistrarLogEntry) => void;
  private readonly clock: Clock;
  private readonly digest: DigestGuard;
  private readonly flows: FlowTable;
  private readonly autoRegistration: AutoRegistration;
  private readonly limits: LimitLog;
  private readonly book: RegistrationBook;
  private readonly phones: PhoneLookup;
  /** Per-device lines, through the storm budget. */
  private readonly deviceLog: StormLog<RegistrarLogEntry>;
  private writer: RegistrationWriter | undefined;
  private commit: GroupCommit | undefined;
  /** Autoregistered devices already seen on their own file in this process (markOwnFile is a write). */
  private readonly ownFileSeen = new Set<string>();
  /** The Date header of the current second (formatting it costs more than the rest of a 200's headers). */
  private date = { second: NaN, text: '' };
  private tcp: StreamTransport | undefined;
  private ua: UserAgent | undefined;
  private calls: CallRouter | undefined;
  private ivr: IvrCalls | undefined;
  /** Lines already in words (the IVR's). */
  private readonly line: (line: string) => void;
  private host = '';
  private port = 0;

  constructor(db: CompanionDb, cfg: CompanionConfig, log: (e: RegistrarLogEntry) => void, clock: Clock = new SystemClock(), line?: (line: string) => void) {
    this.db = db;
    this.line = line ?? ((l) => log({ method: 'IVR', device: '', from: '-', status: 0, detail: l }));
    this.cfg = cfg;
    this.log = log;
    this.clock = clock;
    this.digest = new DigestGuard(clock);
    this.flows = new FlowTable(cfg.sip.maxUnregisteredPerAddress);
    this.autoRegistration = new AutoRegistration(db, cfg.autoRegistration, clock);
    this.limits = new LimitLog((line) => log({ method: 'LIMIT', device: '', from: '-', status: 0, detail: line }), clock);
    this.book = db.registrationBook;
    this.phones = new PhoneLookup(db);
    this.deviceLog = new StormLog({ write: log, summary: (detail) => log({ method: 'NOTE', device: '', from: '-', status: 0, detail }), clock });
  }

  /** Group commits so far: how many, the replies they carried, the largest batch, failures. */
  get commitStats(): { commits: number; replies: number; largest: number; failed: number } {
    return { ...(this.commit?.stats ?? { commits: 0, replies: 0, largest: 0, failed: 0 }) };
  }

  /** Listens; resolves to the bound port (the kernel's choice when port is 0). */
  async start(host: string, port: number): Promise<number> {
    const sip = this.cfg.sip;
    const inline = new InlineRegistrationWriter(this.book);
    const path = this.db.handle.location();
    const writer = path ? new WorkerRegistrationWriter(path, inline, (detail) => this.log({ method: 'NOTE', device: '', from: '-', status: 0, detail })) : inline;
    this.writer = writer;
    const commit = new GroupCommit({
      commit: (done) => writer.write(this.book.take(), (e) => {
        if (e) this.log({ method: 'NOTE', device: '', from: '-', status: 0, detail: `registrations not written (${e.message}): their REGISTERs are answered 500` });
        done(!e);
      }),
      pending: () => this.book.pending,
      pace: COMMIT_PACE_MS,
    });
    this.commit = commit;
    this.book.onQueued = () => commit.schedule();
    const tcp = await StreamTransport.open({
      // Inbound only: everything the registrar sends rides a connection a device opened. A
      // response whose connection has closed is dropped rather than sent over a new connection
      // to the Via's sent-by (§18.2.2), which would let any host make the companion open
      // connections to addresses of its choosing.
      sockets: { listen: nodeTcpSockets.listen!, connect: (host, p) => Promise.reject(new Error(`the registrar opens no connections (${host}:${p})`)) },
      listen: { host, port },
      maxConnections: sip.maxConnections,
      // Connection limits are socket timeouts, in real time whatever clock the SIP timers run on.
      idle: { clock: new SystemClock(), ms: sip.unregisteredIdleSecs * 1000 },
      admit: (peer) => {
        const a = this.flows.admit(peer);
        if (!a.ok) this.limits.bite('sip-unregistered', peer.host, `${a.waiting} connections that registered nothing: refused`);
        return a.ok;
      },
      onDrop: (d) => this.dropped(d),
    });
    tcp.onFlowClosed((peer, why) => this.flowClosed(peer, why));
    this.tcp = tcp;
    this.host = host;
    this.port = tcp.listening!.port;
    const ua = new UserAgent({
      transports: [tcp], clock: this.clock, aor: `sip:${host}:${this.port}`, userAgent: SERVER, defaultTransport: 'TCP',
      // Devices are reached over their own connection, whatever their Contact says.
      dialogFlows: true,
      onDrop: (d) => this.limits.bite('sip-malformed', hostOf(d.from), `dropped: ${d.reason}`),
    });
    ua.onRequest = (req) => this.dispatch(req);
    this.ua = ua;
    this.ivr = new IvrCalls({
      ua, db: this.db, store: new IvrStore(this.db), clock: this.clock, address: host === '0.0.0.0' ? this.cfg.address : host, openUdp: openRtpUdp,
      reset: (device) => this.sendServiceControl(device, 'reset'), log: this.line,
    });
    const ivr = this.ivr;
    this.calls = new CallRouter({
      ua, db: this.db, clock: this.clock, host, port: this.port, maxCallsPerDevice: sip.maxCallsPerDevice, ivr,
      callers: (source) => this.devicesOn(source),
      reach: (device) => this.reach(device),
      log: (e) => this.log(e),
    });
    return this.port;
  }

  async stop(): Promise<void> {
    // Connections close after this returns, and the database closes soon after: the transport
    // no longer reports closed connections once closing, so nothing writes to the database then.
    // Bindings queued are written first, and the 200s waiting for them go out.
    await this.commit?.drain();
    const ua = this.ua;
    this.ua = undefined;
    this.calls = undefined;
    this.ivr?.stop();
    this.ivr = undefined;
    await ua?.close();
    await this.commit?.drain();
    this.book.onQueued = undefined;
    await this.writer?.close();
  }

  /** Devices with a live connection right now. */
  connected(): string[] {
    return this.flows.devices();
  }

  private dropped(d: TransportDrop): void {
    const host = hostOf(d.from);
    if (d.reason === 'not admitted') return; // admit() said why
    if (/connections open: refused$/.test(d.reason)) return this.limits.bite('sip-connections', host, `${this.cfg.sip.maxConnections} SIP connections open: refused`);
    this.limits.bite('sip-malformed', host, `closing: ${d.reason}`);
  }

  private flowClosed(peer: { host: string; port: number }, why: string): void {
    if (why.startsWith('idle for')) this.limits.bite('sip-idle', peer.host, 'idle connections closed');
    const lost = this.flows.closed(peer);
    this.calls?.flowClosed(peer);
    const now = this.clock.now();
    for (const device of lost) {
      const reg = this.book.get(device);
      // CUCM marks a phone unregistered when its TCP connection goes (Last=cm-closed-tcp).
      // Nobody waits for this write: it joins the next commit.
      if (reg && reg.expiresAt > now) this.book.put({ ...reg, expiresAt: now });
    }
  }

  /** The devices registered over the connection a request came in on (callers), whose registration is current. */
  private devicesOn(source: SipSource): string[] {
    const now = this.clock.now();
    return this.flows.devicesOn(source).filter((d) => (this.book.get(d)?.expiresAt ?? 0) > now);
  }

  /** Where a device is reachable now: its registered Contact and its connection; undefined when not registered. */
  private reach(device: string): { contact: string; host: string; port: number } | undefined {
    const flow = this.flows.flowOf(device);
    const reg = this.book.get(device);
    if (!flow || !reg || reg.expiresAt <= this.clock.now()) return undefined;
    return { contact: reg.contact, host: flow.host, port: flow.port };
  }

  /** Requests outside a dialog other than INVITE (the call router takes those). */
  private dispatch(req: IncomingRequest): void {
    switch (req.request.method) {
      case 'REGISTER':
        return this.onRegister(req);
      case 'OPTIONS':
      case 'PUBLISH':
        return req.respond(200);
      case 'REFER':
        // Phones report alarms (DeviceTLInfo, last out-of-service) with REFER after registering.
        return req.respond(202);
      case 'SUBSCRIBE':
        return req.respond(489);
      default:
        return req.respond(501);
    }
  }

  private reply(r: IncomingRequest, status: number, device: string, detail: string, extra: SipHeaders = []): void {
    r.respond(status, { headers: [['Date', this.dateHeader()], ...extra] });
    this.deviceLog.entry(`${status}`, { method: r.request.method, device, from: flowKey(r.source), status, detail });
  }

  /**
   * A reply that promises a change of binding (a 200 that binds or unbinds): sent once the
   * change is durable; a change that could not be written is answered 500 (the phone retries).
   */
  private replyDurable(r: IncomingRequest, device: string, detail: string, extra: SipHeaders, then?: () => void): void {
    const commit = this.commit;
    if (!commit) return this.reply(r, 500, device, 'registrar stopping', [['Retry-After', '5']]);
    commit.afterCommit((ok) => {
      if (!ok) return this.reply(r, 500, device, 'binding not written', [['Retry-After', '5']]);
      this.reply(r, 200, device, detail, extra);
      then?.();
    });
  }

  private dateHeader(): string {
    const now = this.clock.now();
    const second = Math.floor(now / 1000);
    if (second !== this.date.second) this.date = { second, text: new Date(second * 1000).toUTCString() };
    return this.date.text;
  }

  private warning(text: string): [string, string] {
    return ['Warning', `399 ${this.host} "${text}"`];
  }

  private onRegister(r: IncomingRequest): void {
    const req = r.request;
    const contactValues = headers(req, 'contact');
    const contacts = contactValues.flatMap(parseCiscoContacts);
    const contact = contacts[0];
    if (contactValues.length && (contactValues[0]!.trim() === '*' || (contact && !contact.mac && !contact.deviceName && contact.modelCode === undefined))) {
      return this.onLineRegister(r);
    }
    const device = contact?.deviceName ?? (contact?.mac ? contact.mac.deviceName : undefined);
    if (!contact || !device || !contact.mac) {
      return this.reply(r, 400, '', 'REGISTER without +sip.instance / +u.sip!devicename', [this.warning('Contact must carry +sip.instance and +u.sip!devicename.ccm.cisco.com')]);
    }
    // The name in +u.sip!devicename and the MAC in +sip.instance are one phone's. Checking the
    // password of one and filing the binding under the other let a host with no password take
    // any phone's registration (issue 7).
    if (device !== contact.mac.deviceName) {
      return this.reply(r, 403, device, `device name does not match +sip.instance (${contact.mac.deviceName})`, [this.warning('Device name and MAC do not match')]);
    }
    if (contact.keepAlive) {
      // A keep-alive to this (backup) member: answer, touch nothing (reference §9.1).
      return this.reply(r, 200, device, 'backup keep-alive', [['Contact', contactValues[0]!], ['Expires', '0']]);
    }
    const requested = this.requestedExpires(r, contact.expires, device);
    if (requested === undefined) return;
    const fromUser = parseSipUri(parseNameAddr(header(req, 'from') ?? '')?.uri ?? '')?.user ?? '';
    const mac = contact.mac.hex;
    const address = r.source.host;
    // Known by the name it registers with, or by its MAC (a device added before it was seen).
    let phone = this.phones.byDevice(device, mac);
    let created = false;
    if (!phone) {
      if (!this.cfg.autoRegistration.enabled) {
        return this.reply(r, 403, device, 'unknown device, autoregistration off', [this.warning('Unknown device; autoregistration is off')]);
      }
      if (requested === 0) return this.reply(r, 200, device, 'de-register of unknown device');
      const a = this.autoRegistration.admit({ deviceName: device, mac, modelCode: contact.modelCode }, address);
      if (a.kind === 'rate-limited') {
        this.limits.bite('autoregistration', address, `more than ${this.cfg.autoRegistration.perAddressBurst} new phones at once or ${this.cfg.autoRegistration.perAddressPerMinute} a minute: refused`);
        return this.reply(r, 503, device, 'autoregistration rate limit', [['Retry-After', '60'], this.warning('Too many new phones from this address; try later')]);
      }
      if (a.kind !== 'created') {
        return this.reply(r, 403, device, 'autoregistration range exhausted', [this.warning(`Autoregistration DNs ${this.cfg.autoRegistration.dnFirst}-${this.cfg.autoRegistration.dnLast} all in use`)]);
      }
      for (const gone of a.released) this.log({ method: 'REGISTER', device: gone, from: '-', status: 0, detail: `autoregistered phone never came back on its own file: removed, its DN free again` });
      phone = a.phone;
      created = true;
    }
    if (phone.password) {
      const check = this.digest.check(header(req, 'authorization'), 'REGISTER', phone.dn, phone.password);
      if (check !== 'ok') return this.reply(r, 401, device, 'challenge', [['WWW-Authenticate', this.digest.challenge(check === 'stale')]]);
    }
    if (requested === 0) {
      this.book.remove(device);
      this.flows.unbind(device);
      return this.replyDurable(r, device, 'de-registered', [['Expires', '0']]);
    }
    // A second line of a device registered on its own (a Multiplatform phone's line 2 pointed
    // here): this call manager keeps one line a device, so the line is not found — rebinding
    // would take the device's registration from its line, and the restart below would loop.
    // Only while the device's own line is bound from another registration: a phone whose one
    // line disagrees with its DN (a provider's profile, an old DN) is still taken and restarted.
    const current = this.book.get(device);
    if (fromUser !== phone.dn && fromUser !== device && current && current.user === phone.dn && current.expiresAt > this.clock.now() && current.callId !== header(req, 'call-id')) {
      return this.reply(r, 404, device, `no line ${fromUser} on ${device} (its line is ${phone.dn})`, [this.warning(`${device} has one line here: ${phone.dn}`)]);
    }
    const { granted, isNew } = this.bind(r, device, { mac, user: fromUser, contact: contact.uri, modelCode: contact.modelCode ?? 0, activeLoad: parseAlarmReason(header(req, 'reason') ?? '')?.activeLoad }, requested);
    if (fromUser === phone.dn && phone.autoregistered && !this.ownFileSeen.has(device)) {
      // Its fsync is the binding's commit's, which the 200 waits for (deferred-sync.ts).
      withDeferredSync(this.db.handle, () => this.db.markOwnFile(device, this.clock.now()));
      this.ownFileSeen.add(device);
    }
    const echo = `${contactValues[0]!.replace(/;expires=\d+/i, '')};expires=${granted}${isNew ? ';x-cisco-newreg' : ''}`;
    const restart = !created && isNew && fromUser !== phone.dn;
    this.replyDurable(r, device, `${fromUser} ${created ? 'autoregistered' : isNew ? 'registered' : 'refreshed'} for ${granted} s`, [['Contact', echo], ['Expires', String(granted)]], () => {
      // A new device, or a known one still on the default file, must reboot onto its own file.
      if (created) void this.sendServiceControl(device, 'reset');
      else if (restart) void this.sendServiceControl(device, 'restart');
    });
  }

  /** Expires asked for (the Contact's, else the header's, else an hour); undefined once answered 400. */
  private requestedExpires(r: IncomingRequest, fromContact: number | undefined, device: string): number | undefined {
    const expiresHeader = header(r.request, 'expires')?.trim();
    if (fromContact === undefined && expiresHeader !== undefined && !/^\d{1,10}$/.test(expiresHeader)) {
      this.reply(r, 400, device, 'Expires is not a number of seconds', [this.warning('Expires must be a number of seconds')]);
      return undefined;
    }
    return Math.min(fromContact ?? (expiresHeader === undefined ? 3600 : Number(expiresHeader)), 0x7fffffff);
  }

  /** Saves the binding and ties the device to this connection. */
  private bind(r: IncomingRequest, device: string, b: { mac: string; user: string; contact: string; modelCode: number; activeLoad: string | undefined }, requested: number): { granted: number; isNew: boolean } {
    const granted = Math.max(1, Math.min(requested, this.cfg.sip.expires));
    const previous = this.book.get(device);
    const callId = header(r.request, 'call-id') ?? '';
    const now = this.clock.now();
    const isNew = !previous || previous.callId !== callId || previous.expiresAt < now;
    this.book.put({
      device, mac: b.mac, user: b.user, contact: b.contact, callId, source: flowKey(r.source),
      modelCode: b.modelCode, activeLoad: b.activeLoad ?? previous?.activeLoad ?? '', member: `${this.host}:${this.port}`,
      registeredAt: isNew ? now : (previous?.registeredAt ?? now), expiresAt: now + granted * 1000,
    });
    // A device registered on this connection: it is a phone's now, and may stay quiet longer.
    if (this.flows.bind(r.source, device)) this.tcp?.setIdle(r.source, this.cfg.sip.idleSecs * 1000);
    return { granted, isNew };
  }

  /**
   * A third-party SIP client on a line: To names the DN; the line must have a password, and the
   * client must answer the challenge with the DN and that password. An unknown DN or a line
   * without a password is challenged the same way and never accepted, so the answers do not
   * tell which DNs exist.
   */
  private onLineRegister(r: IncomingRequest): void {
    const req = r.request;
    const dn = parseSipUri(parseNameAddr(header(req, 'to') ?? '')?.uri ?? '')?.user ?? '';
    const line: PhoneRecord | undefined = dn ? this.phones.byDn(dn) : undefined;
    const device = line?.deviceName ?? '';
    const check = line?.password ? this.digest.check(header(req, 'authorization'), 'REGISTER', line.dn, line.password) : 'missing';
    if (!line?.password || check !== 'ok') {
      return this.reply(r, 401, device, `challenge (line ${dn || '-'}${line && !line.password ? ', which has no password: third-party clients cannot take it' : ''})`, [['WWW-Authenticate', this.digest.challenge(check === 'stale')]]);
    }
    const value = headers(req, 'contact')[0]!.trim();
    const na = value === '*' ? undefined : parseNameAddr(splitList(value)[0] ?? '');
    const param = na?.params['expires'];
    const requested = this.requestedExpires(r, param !== undefined && /^\d{1,10}$/.test(param) ? Number(param) : undefined, device);
    if (requested === undefined) return;
    if (requested === 0 || !na) {
      this.book.remove(device);
      this.flows.unbind(device);
      return this.replyDurable(r, device, `line ${dn} de-registered`, [['Expires', '0']]);
    }
    const { granted, isNew } = this.bind(r, device, { mac: line.mac ?? '', user: dn, contact: na.uri, modelCode: 0, activeLoad: undefined }, requested);
    this.replyDurable(r, device, `${dn} line ${isNew ? 'registered' : 'refreshed'} for ${granted} s (${header(req, 'user-agent') ?? 'third-party client'})`, [['Contact', `<${na.uri}>;expires=${granted}`], ['Expires', String(granted)]]);
  }

  /**
   * NOTIFY Event: service-control on the phone's own connection, quoting the Call-ID of its
   * REGISTER so the phone knows the request is for its registration.
   */
  async sendServiceControl(device: string, action: ServiceAction): Promise<{ ok: boolean; detail: string }> {
    const flow = this.flows.flowOf(device);
    const reg = this.book.get(device);
    const ua = this.ua;
    if (!flow || !reg || !ua) return { ok: false, detail: `${device} is not connected` };
    const user = reg.user || device;
    const body = Buffer.from(buildServiceControl({ action, registerCallId: reg.callId, configVersionStamp: '' }));
    const answer = ua.request({
      method: 'NOTIFY', uri: reg.contact, destination: { transport: 'TCP', host: flow.host, port: flow.port },
      from: `<sip:${user}@${this.host}>`, to: `<sip:${user}@${this.host}>`, fromTag: newTag(), callId: newCallId(this.host),
      headers: [['Event', 'service-control'], ['Subscription-State', 'active']], contentType: 'text/plain', body,
    });
    // Timer F would wait 32 s; an admin waiting on a reset is told after 10 s.
    let cancel = () => {};
    const timeout = new Promise<undefined>((resolve) => {
      cancel = this.clock.timer(NOTIFY_ANSWER_MS, () => resolve(undefined));
    });
    const res = await Promise.race([answer, timeout]);
    cancel();
    if (!res) return { ok: false, detail: 'no answer' };
    if (isLocalResponse(res)) return { ok: false, detail: res.reason };
    this.deviceLog.entry('notify', { method: 'NOTIFY', device, from: flowKey(flow), status: res.status, detail: `service-control ${action}` });
    return { ok: res.status === 200, detail: `${res.status} ${res.reason}` };
  }
}

/** The host of a `host:port` or `TCP host:port` a drop names. */
function hostOf(from: string): string {
  const addr = from.split(' ').at(-1) ?? from;
  const i = addr.lastIndexOf(':');
  return i > 0 && /^\d+$/.test(addr.slice(i + 1)) ? addr.slice(0, i) : addr;
}
