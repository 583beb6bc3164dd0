/**
 * The companion's SIP registrar on TCP 5060 (reference §9.1, §10 item 5). It knows phones by
 * the device name and MAC in their Contact (`+u.sip!devicename`, `+sip.instance`), answers
 * 200 with a short Expires as CUCM does (120 s by default), leaves the binding alone on a
 * `expires=0;cisco-keep-alive` REGISTER (a phone keeping its backup warm), challenges with
 * digest only phones that have a password, and autoregisters unknown phones: the phone gets
 * the next DN of the range and a `service-control` reset so it reboots onto its own file.
 * Unknown phones with autoregistration off get 403 and a Warning that says why.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { type Clock, SystemClock } from '../common/clock.ts';
import { type ServiceAction, buildServiceControl, parseAlarmReason, parseCiscoContacts } from '../wire/cisco-sip.ts';
import { digestResponse, parseDigestAnswer } from '../wire/sip-digest.ts';
import { type SipHeaders, type SipMessage, type SipRequest, type SipResponse, SipStreamDecoder, encodeSip, header, headers, parseNameAddr, parseSipUri, responseTo } from '../wire/sip.ts';
import type { CompanionConfig } from './config.ts';
import type { CompanionDb, PhoneRecord } from './db.ts';
import { AutoRegistration } from './autoregistration.ts';
import { LimitLog, Tally } from './limits.ts';
import { listen } from './listen.ts';

export interface RegistrarLogEntry {
  method: string;
  device: string;
  from: string;
  status: number;
  detail: string;
}

const REALM = 'sepi';
const NONCE_LIFETIME_MS = 5 * 60_000;
/** How long a phone has to answer a service-control NOTIFY. */
const NOTIFY_ANSWER_MS = 10_000;
const SERVER = 'sepi-cm/0.1';

/** One phone's TCP connection. */
class PhoneConnection {
  readonly socket: net.Socket;
  readonly decoder = new SipStreamDecoder();
  readonly pending = new Map<string, (r: SipResponse) => void>();
  devices = new Set<string>();
  readonly address: string;

  constructor(socket: net.Socket) {
    this.socket = socket;
    this.address = socket.remoteAddress ?? '';
  }

  send(m: SipMessage): void {
    if (!this.socket.destroyed) this.socket.write(encodeSip(m));
  }

  get peer(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }
}

export class Registrar {
  private server: net.Server | undefined;
  private readonly db: CompanionDb;
  private readonly cfg: CompanionConfig;
  private readonly log: (e: RegistrarLogEntry) => void;
  private readonly clock: Clock;
  private readonly secret = randomBytes(32);
  private readonly connections = new Map<string, PhoneConnection>();
  private readonly open = new Set<PhoneConnection>();
  /** Connections per source address that have registered no device yet. */
  private readonly unregistered = new Tally();
  private stopping = false;
  private readonly autoRegistration: AutoRegistration;
  private readonly limits: LimitLog;
  private cseq = 100;
  private host = '';
  private port = 0;

  constructor(db: CompanionDb, cfg: CompanionConfig, log: (e: RegistrarLogEntry) => void, clock: Clock = new SystemClock()) {
    this.db = db;
    this.cfg = cfg;
    this.log = log;
    this.clock = clock;
    this.autoRegistration = new AutoRegistration(db, cfg.autoRegistration, clock);
    this.limits = new LimitLog((line) => log({ method: 'LIMIT', device: '', from: '-', status: 0, detail: line }), clock);
  }

  /** Listens; resolves to the bound port (the kernel's choice when port is 0). */
  async start(host: string, port: number): Promise<number> {
    const server = net.createServer((s) => this.accept(s));
    // Past the cap the kernel's connection is closed at once ('drop'); an accept error (EMFILE)
    // is reported and the server goes on listening.
    server.maxConnections = this.cfg.sip.maxConnections;
    server.on('drop', (d) => this.limits.bite('sip-connections', d?.remoteAddress ?? '-', `${this.cfg.sip.maxConnections} SIP connections open: refused`));
    server.on('error', (e) => this.limits.bite('sip-accept', '-', `accept failed: ${e.message}`));
    await listen(server, { port, host });
    this.server = server;
    this.host = host;
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    // Sockets close after this returns, and the database closes soon after: their close
    // handlers must not write to it then (a stopping companion must not die of its own stop).
    this.stopping = true;
    for (const c of this.open) c.socket.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  /** Devices with a live connection right now. */
  connected(): string[] {
    return [...this.connections.keys()];
  }

  private accept(socket: net.Socket): void {
    const conn = new PhoneConnection(socket);
    const sip = this.cfg.sip;
    const waiting = this.unregistered.of(conn.address);
    if (waiting >= sip.maxUnregisteredPerAddress) {
      this.limits.bite('sip-unregistered', conn.address, `${waiting} connections that registered nothing: refused`);
      socket.destroy();
      return;
    }
    this.unregistered.add(conn.address);
    this.open.add(conn);
    socket.setNoDelay(true);
    socket.on('error', () => {});
    // Idle connections are closed: briefly until a device registers, then after two refresh periods.
    socket.setTimeout(sip.unregisteredIdleSecs * 1000, () => {
      this.limits.bite('sip-idle', conn.address, 'idle connections closed');
      socket.destroy();
    });
    socket.on('data', (chunk) => {
      const r = conn.decoder.push(chunk);
      if (!r.ok) {
        this.log({ method: '-', device: '', from: conn.peer, status: 400, detail: `closing: ${r.error.message}` });
        socket.destroy();
        return;
      }
      for (const m of r.value) {
        try {
          this.dispatch(conn, m);
        } catch (e) {
          // A bug met by one message ends that exchange, never the registrar.
          this.log({ method: m.kind === 'request' ? m.method : 'response', device: '', from: conn.peer, status: 500, detail: `internal error: ${(e as Error).message}` });
          if (m.kind === 'request' && m.method !== 'ACK') conn.send(responseTo(m, 500, [['Server', SERVER]], undefined, this.tag()));
        }
      }
    });
    socket.on('close', () => {
      this.open.delete(conn);
      if (this.stopping) return;
      if (conn.devices.size === 0) this.unregistered.remove(conn.address);
      for (const device of conn.devices) {
        if (this.connections.get(device) !== conn) continue;
        this.connections.delete(device);
        const reg = this.db.registration(device);
        const now = this.clock.now();
        // CUCM marks a phone unregistered when its TCP connection goes (Last=cm-closed-tcp).
        if (reg && reg.expiresAt > now) this.db.saveRegistration({ ...reg, expiresAt: now });
      }
    });
  }

  /** A device registered on this connection: it is a phone's now, and may stay quiet longer. */
  private bind(conn: PhoneConnection, device: string): void {
    if (conn.devices.size === 0) {
      this.unregistered.remove(conn.address);
      conn.socket.setTimeout(this.cfg.sip.idleSecs * 1000);
    }
    conn.devices.add(device);
    this.connections.set(device, conn);
  }

  private dispatch(conn: PhoneConnection, m: SipMessage): void {
    if (m.kind === 'response') {
      const key = `${header(m, 'call-id')}|${header(m, 'cseq')}`;
      conn.pending.get(key)?.(m);
      return;
    }
    switch (m.method) {
      case 'REGISTER':
        return this.onRegister(conn, m);
      case 'OPTIONS':
      case 'PUBLISH':
        return conn.send(responseTo(m, 200, [['Server', SERVER]], undefined, this.tag()));
      case 'REFER':
        // Phones report alarms (DeviceTLInfo, last out-of-service) with REFER after registering.
        return conn.send(responseTo(m, 202, [['Server', SERVER]], undefined, this.tag()));
      case 'SUBSCRIBE':
        return conn.send(responseTo(m, 489, [['Server', SERVER]], undefined, this.tag()));
      case 'ACK':
        return;
      default:
        return conn.send(responseTo(m, 501, [['Server', SERVER]], undefined, this.tag()));
    }
  }

  private tag(): string {
    return randomBytes(4).toString('hex');
  }

  private reply(conn: PhoneConnection, req: SipRequest, status: number, device: string, detail: string, extra: SipHeaders = []): void {
    conn.send(responseTo(req, status, [['Server', SERVER], ['Date', new Date(this.clock.now()).toUTCString()], ...extra], undefined, this.tag()));
    this.log({ method: req.method, device, from: conn.peer, status, detail });
  }

  private onRegister(conn: PhoneConnection, req: SipRequest): void {
    const contacts = headers(req, 'contact').flatMap(parseCiscoContacts);
    const contact = contacts[0];
    const device = contact?.deviceName ?? (contact?.mac ? contact.mac.deviceName : undefined);
    if (!contact || !device || !contact.mac) {
      return this.reply(conn, req, 400, '', 'REGISTER without +sip.instance / +u.sip!devicename', [['Warning', `399 ${this.host} "Contact must carry +sip.instance and +u.sip!devicename.ccm.cisco.com"`]]);
    }
    // The name in +u.sip!devicename and the MAC in +sip.instance are one phone's. Checking the
    // password of one and filing the binding under the other let a host with no password take
    // any phone's registration (issue 7).
    if (device !== contact.mac.deviceName) {
      return this.reply(conn, req, 403, device, `device name does not match +sip.instance (${contact.mac.deviceName})`, [['Warning', `399 ${this.host} "Device name and MAC do not match"`]]);
    }
    if (contact.keepAlive) {
      // A keep-alive to this (backup) member: answer, touch nothing (reference §9.1).
      return this.reply(conn, req, 200, device, 'backup keep-alive', [['Contact', headers(req, 'contact')[0]!], ['Expires', '0']]);
    }
    const expiresHeader = header(req, 'expires')?.trim();
    if (contact.expires === undefined && expiresHeader !== undefined && !/^\d{1,10}$/.test(expiresHeader)) {
      return this.reply(conn, req, 400, device, 'Expires is not a number of seconds', [['Warning', `399 ${this.host} "Expires must be a number of seconds"`]]);
    }
    const requested = Math.min(contact.expires ?? (expiresHeader === undefined ? 3600 : Number(expiresHeader)), 0x7fffffff);
    const fromUser = parseSipUri(parseNameAddr(header(req, 'from') ?? '')?.uri ?? '')?.user ?? '';
    const mac = contact.mac.hex;
    // Known by the name it registers with, or by its MAC (a device added before it was seen).
    let phone = this.db.phone(device) ?? this.db.phoneByMac(mac);
    let created = false;
    if (!phone) {
      if (!this.cfg.autoRegistration.enabled) {
        return this.reply(conn, req, 403, device, 'unknown device, autoregistration off', [['Warning', `399 ${this.host} "Unknown device; autoregistration is off"`]]);
      }
      if (requested === 0) return this.reply(conn, req, 200, device, 'de-register of unknown device');
      const a = this.autoRegistration.admit({ deviceName: device, mac, modelCode: contact.modelCode }, conn.address);
      if (a.kind === 'rate-limited') {
        this.limits.bite('autoregistration', conn.address, `more than ${this.cfg.autoRegistration.perAddressBurst} new phones at once or ${this.cfg.autoRegistration.perAddressPerMinute} a minute: refused`);
        return this.reply(conn, req, 503, device, 'autoregistration rate limit', [['Retry-After', '60'], ['Warning', `399 ${this.host} "Too many new phones from this address; try later"`]]);
      }
      if (a.kind !== 'created') {
        return this.reply(conn, req, 403, device, 'autoregistration range exhausted', [['Warning', `399 ${this.host} "Autoregistration DNs ${this.cfg.autoRegistration.dnFirst}-${this.cfg.autoRegistration.dnLast} all in use"`]]);
      }
      for (const gone of a.released) this.log({ method: 'REGISTER', device: gone, from: '-', status: 0, detail: `autoregistered phone never came back on its own file: removed, its DN free again` });
      phone = a.phone;
      created = true;
    }
    if (phone.password && !this.authorized(req, phone)) {
      return this.reply(conn, req, 401, device, 'challenge', [['WWW-Authenticate', `Digest realm="${REALM}", nonce="${this.nonce()}", algorithm=MD5, qop="auth"`]]);
    }
    if (requested === 0) {
      this.db.removeRegistration(device);
      this.connections.delete(device);
      return this.reply(conn, req, 200, device, 'de-registered', [['Expires', '0']]);
    }
    const granted = Math.max(1, Math.min(requested, this.cfg.sip.expires));
    const previous = this.db.registration(device);
    const callId = header(req, 'call-id') ?? '';
    const now = this.clock.now();
    const isNew = !previous || previous.callId !== callId || previous.expiresAt < now;
    const reason = parseAlarmReason(header(req, 'reason') ?? '');
    this.db.saveRegistration({
      device, mac, user: fromUser, contact: contact.uri, callId, source: conn.peer,
      modelCode: contact.modelCode ?? 0, activeLoad: reason?.activeLoad ?? previous?.activeLoad ?? '', member: `${this.host}:${this.port}`,
      registeredAt: isNew ? now : (previous?.registeredAt ?? now), expiresAt: now + granted * 1000,
    });
    this.bind(conn, device);
    if (fromUser === phone.dn) this.db.markOwnFile(device, now);
    const echo = `${headers(req, 'contact')[0]!.replace(/;expires=\d+/i, '')};expires=${granted}${isNew ? ';x-cisco-newreg' : ''}`;
    this.reply(conn, req, 200, device, `${fromUser} ${created ? 'autoregistered' : isNew ? 'registered' : 'refreshed'} for ${granted} s`, [['Contact', echo], ['Expires', String(granted)]]);
    // A new device, or a known one still on the default file, must reboot onto its own file.
    if (created) void this.sendServiceControl(device, 'reset');
    else if (isNew && fromUser !== phone.dn) void this.sendServiceControl(device, 'restart');
  }

  private nonce(): string {
    const ts = this.clock.now().toString(36);
    return `${ts}.${createHmac('sha256', this.secret).update(ts).digest('hex').slice(0, 32)}`;
  }

  private nonceValid(n: string): boolean {
    const [ts, mac] = n.split('.');
    if (!ts || !mac) return false;
    const expect = createHmac('sha256', this.secret).update(ts).digest('hex').slice(0, 32);
    const age = this.clock.now() - parseInt(ts, 36);
    return mac.length === expect.length && timingSafeEqual(Buffer.from(mac), Buffer.from(expect)) && age >= 0 && age < NONCE_LIFETIME_MS;
  }

  private authorized(req: SipRequest, phone: PhoneRecord): boolean {
    const a = parseDigestAnswer(header(req, 'authorization') ?? '');
    if (!a || a.realm !== REALM || a.username !== phone.dn || !this.nonceValid(a.nonce)) return false;
    const expect = digestResponse(a, 'REGISTER', phone.password);
    return expect.length === a.response.length && timingSafeEqual(Buffer.from(expect), Buffer.from(a.response.toLowerCase()));
  }

  /**
   * NOTIFY Event: service-control on the phone's own connection, quoting the Call-ID of its
   * REGISTER so the phone knows the request is for its registration.
   */
  sendServiceControl(device: string, action: ServiceAction): Promise<{ ok: boolean; detail: string }> {
    const conn = this.connections.get(device);
    const reg = this.db.registration(device);
    if (!conn || !reg) return Promise.resolve({ ok: false, detail: `${device} is not connected` });
    const callId = `${randomBytes(8).toString('hex')}@${this.host}`;
    const cseq = ++this.cseq;
    const user = reg.user || device;
    const body = Buffer.from(buildServiceControl({ action, registerCallId: reg.callId, configVersionStamp: '' }));
    const req: SipRequest = {
      kind: 'request', method: 'NOTIFY', uri: reg.contact, body,
      headers: [
        ['Via', `SIP/2.0/TCP ${this.host}:${this.port};branch=z9hG4bK${randomBytes(6).toString('hex')}`],
        ['From', `<sip:${user}@${this.host}>;tag=${this.tag()}`],
        ['To', `<sip:${user}@${this.host}>`],
        ['Call-ID', callId],
        ['CSeq', `${cseq} NOTIFY`],
        ['Max-Forwards', '70'],
        ['Event', 'service-control'],
        ['Subscription-State', 'active'],
        ['Content-Type', 'text/plain'],
        ['Server', SERVER],
      ],
    };
    return new Promise((resolve) => {
      const key = `${callId}|${cseq} NOTIFY`;
      const cancel = this.clock.timer(NOTIFY_ANSWER_MS, () => {
        conn.pending.delete(key);
        resolve({ ok: false, detail: 'no answer' });
      });
      conn.pending.set(key, (r) => {
        cancel();
        conn.pending.delete(key);
        this.log({ method: 'NOTIFY', device, from: conn.peer, status: r.status, detail: `service-control ${action}` });
        resolve({ ok: r.status === 200, detail: `${r.status} ${r.reason}` });
      });
      conn.send(req);
    });
  }
}
