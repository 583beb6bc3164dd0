/**
 * The companion's Certificate Authority Proxy Function (TLS on TCP 3804; reference
 * cisco-boot-protocol.md §7, message layout in src/wire/capf.ts). A phone whose configuration
 * file has a non-zero `capfAuthMode` connects; the server speaks first, the phone names itself
 * and proves who it is the way the admin chose (an authentication string typed on the phone,
 * nothing — "null string" —, or the LSC it already holds), and CAPF does the operation pending
 * for it: install (the phone makes a key pair, CAPF signs its public key into an LSC, the phone
 * stores it) or delete. The LSC is written to the database only after the phone said it stored
 * it. The LSC sent is recorded as pending first: after a power cut between the phone storing it
 * and saying so, the phone's encrypted file is still for the old LSC (the phone reports it),
 * and the admin runs the operation again — with auth `lsc`, the pending LSC is accepted as
 * proof and recorded.
 *
 * A peer gets one session per connection, 10 s for the TLS handshake, 30 s per answer (60 s
 * for making the key, which takes seconds on a Pi Zero), at most one largest message unread.
 * Authentication strings are tried at most 5 times at once then 2 a minute per device, and 10
 * wrong ones cancel the operation until the admin schedules it again: a 4-digit string could
 * otherwise be found in days. A session writes its result only if the phone's settings are
 * still those it began with, so a cancelled operation or a concurrent session cannot win late.
 */
import { constants, createHash, publicDecrypt, randomInt, timingSafeEqual, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { type Clock, SystemClock } from '../../common/clock.ts';
import { MessageReader, socketSource } from '../../common/message-reader.ts';
import {
  CAPF_HEADER_BYTES, CAPF_MAX_PAYLOAD, CAPF_PROTOCOL_VERSION, CapfAuthType, CapfCertificateType, CapfCommand, CapfElement, CapfHash, CapfKeyType, CapfReason,
  type CapfMessage, byteValue, capfAuthData, capfMessage, capfMessageLength, certificateValue, decodeCapf, encodeCapf, readByte, readCertificate, readCstring, readElements,
  readSha2Signed, u16Value,
} from '../../wire/capf.ts';
import type { CompanionDb, PhoneCertificate } from '../db.ts';
import { LimitLog, RateLimiter } from '../limits.ts';
import { listenTls } from '../listen.ts';
import { verifySecret } from '../../common/password-hash.ts';
import type { CompanionPki } from '../pki.ts';
import { issueLsc } from './lsc-issuer.ts';

const HANDSHAKE_TIMEOUT_MS = 10_000;
const ANSWER_TIMEOUT_MS = 30_000;
const KEYGEN_TIMEOUT_MS = 60_000;
const MAX_CONNECTIONS = 256;
const MAX_WRONG_STRINGS = 10;

export interface CapfLogEntry {
  from: string;
  device: string;
  result: 'installed' | 'deleted' | 'no-action' | 'unknown-device' | 'refused' | 'failed';
  detail: string;
}

export interface CapfServerOptions {
  db: CompanionDb;
  pki: CompanionPki;
  log: (e: CapfLogEntry) => void;
  limitLog: (line: string) => void;
  clock?: Clock;
}

/** Ends a session early with a reason for the phone and a line for the log. */
class SessionEnd extends Error {
  readonly reason: number;
  readonly result: CapfLogEntry['result'];
  constructor(result: CapfLogEntry['result'], reason: number, detail: string) {
    super(detail);
    this.result = result;
    this.reason = reason;
  }
}

const AUTH_NAMES: Record<PhoneCertificate['auth'], string> = { 'string': 'authentication string', 'null-string': 'null string', 'lsc': 'existing LSC' };

export class CapfServer {
  private server: tls.Server | undefined;
  private readonly o: CapfServerOptions;
  private readonly clock: Clock;
  private readonly attempts: RateLimiter;
  private readonly wrong = new Map<string, number>();
  private readonly limits: LimitLog;
  private readonly sockets = new Set<tls.TLSSocket>();

  constructor(o: CapfServerOptions) {
    this.o = o;
    this.clock = o.clock ?? new SystemClock();
    this.attempts = new RateLimiter({ burst: 5, perMinute: 2, clock: this.clock });
    this.limits = new LimitLog(o.limitLog, this.clock);
  }

  async start(host: string, port: number): Promise<number> {
    const onSocket = (socket: tls.TLSSocket) => void this.session(socket);
    const { server, port: bound } = await listenTls({ identity: this.o.pki.get('capf'), handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, maxConnections: MAX_CONNECTIONS, onSocket }, host, port);
    this.server = server;
    return bound;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    // Sessions in progress end with the server: stop() never waits on a slow peer.
    for (const socket of this.sockets) socket.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private async session(socket: tls.TLSSocket): Promise<void> {
    const from = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on('error', () => {});
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const session = randomInt(1, 0xffffffff);
    const reader = new MessageReader(socketSource(socket), { messageLength: capfMessageLength, maxBytes: CAPF_HEADER_BYTES + CAPF_MAX_PAYLOAD, clock: this.clock });
    const send = (command: number, elements: Array<[number, Uint8Array]> = []) => socket.write(encodeCapf(capfMessage(command, session, elements)));
    const receive = async (expect: number[], timeoutMs: number, what: string): Promise<CapfMessage> => {
      const raw = await reader.next(timeoutMs, what);
      const m = decodeCapf(raw);
      if (!m.ok) throw new SessionEnd('failed', CapfReason.INVALID_ELEMENT, `${what}: ${m.error.message}`);
      if (m.value.session !== session) throw new SessionEnd('failed', CapfReason.INVALID_ELEMENT, `${what}: session ${m.value.session} is not ${session}`);
      if (!expect.includes(m.value.command)) throw new SessionEnd('failed', CapfReason.INVALID_ELEMENT, `${what}: command ${m.value.command} where ${expect.join(' or ')} was expected`);
      return m.value;
    };
    let device = '';
    try {
      send(CapfCommand.AUTH_REQUEST, [[CapfElement.VERSION, byteValue(CAPF_PROTOCOL_VERSION)], [CapfElement.AUTH_TYPE, byteValue(CapfAuthType.NONE)]]);
      const auth = await receive([CapfCommand.AUTH_RESPONSE], ANSWER_TIMEOUT_MS, 'AUTH_RESPONSE');
      const fields = readElements(() => ({
        version: readByte(auth, CapfElement.VERSION, 'version'),
        name: readCstring(auth, CapfElement.DEVICE_NAME, 'device name', 15),
        password: readCstring(auth, CapfElement.PASSWORD, 'password', 64),
      }));
      if (!fields.ok) throw new SessionEnd('failed', CapfReason.INVALID_ELEMENT, fields.error.message);
      const { version, name, password } = fields.value;
      if (version !== CAPF_PROTOCOL_VERSION) throw new SessionEnd('failed', CapfReason.INVALID_ELEMENT, `protocol version ${version ?? 'missing'}, not ${CAPF_PROTOCOL_VERSION}`);
      if (!name || !/^SEP[0-9A-F]{12}$/.test(name)) throw new SessionEnd('failed', CapfReason.INVALID_ELEMENT, `device name "${name ?? ''}" is not SEP and 12 hex digits`);
      device = name;
      const cert = this.o.db.certificate(name);
      if (!cert) throw new SessionEnd('unknown-device', CapfReason.UNKNOWN_DEVICE, 'not a phone of this companion');
      if (cert.operation === 'none') throw new SessionEnd('no-action', CapfReason.NO_ACTION, 'no certificate operation pending');
      const adopted = this.authenticate(name, cert, auth, password, from);
      // Proven by the LSC that was pending: it is on record now, and the session goes on from there.
      const current = adopted ? this.o.db.certificate(name)! : cert;
      if (current.operation === 'install') await this.install(name, current, send, receive, from);
      else await this.remove(name, current, send, receive, from);
    } catch (e) {
      if (e instanceof SessionEnd) {
        send(CapfCommand.END_SESSION, [[CapfElement.REASON, byteValue(e.reason)]]);
        this.o.log({ from, device, result: e.result, detail: e.message });
      } else {
        this.o.log({ from, device, result: 'failed', detail: (e as Error).message });
      }
    } finally {
      // The conversation is over: nothing more is read, and a peer that does not close is not waited for.
      reader.close();
      socket.pause();
      socket.end();
      const cancel = this.clock.timer(5_000, () => socket.destroy());
      socket.once('close', cancel);
    }
  }

  /** Refuses (throws SessionEnd) unless the phone proves itself; true when it proved it with the pending LSC, now adopted. */
  private authenticate(name: string, cert: PhoneCertificate, auth: CapfMessage, password: string | undefined, from: string): boolean {
    const refuse = (why: string) => new SessionEnd('refused', CapfReason.INVALID_ELEMENT, `${AUTH_NAMES[cert.auth]}: ${why}`);
    if (cert.auth === 'null-string') return false;
    if (cert.auth === 'string') {
      if (!this.attempts.take(name)) {
        this.limits.bite('capf-auth', name, `authentication string tried too often (5 at once, then 2 a minute); refused without checking (from ${from})`);
        throw refuse('too many attempts, try again in a minute');
      }
      if (!password || !verifySecret(password, cert.authStringHash)) {
        const n = (this.wrong.get(name) ?? 0) + 1;
        this.wrong.set(name, n);
        if (n >= MAX_WRONG_STRINGS) {
          this.wrong.delete(name);
          this.o.db.cancelCapf(name, `${this.clock.now()}-${randomInt(1, 0xffffffff).toString(16)}`);
          this.limits.bite('capf-auth', name, `${MAX_WRONG_STRINGS} wrong authentication strings: the operation is cancelled until the admin schedules it again`);
        }
        throw refuse('wrong authentication string');
      }
      this.wrong.delete(name);
      return false;
    }
    // An existing LSC: the one this companion issued, and proof the phone holds its key.
    const offered = readElements(() => ({ cert: readCertificate(auth), sha2: readSha2Signed(auth) }));
    if (!offered.ok) throw refuse(offered.error.message);
    const held = offered.value.cert?.der;
    if (!held || (!cert.lsc && !cert.lscPending)) throw refuse(cert.lsc || cert.lscPending ? 'the phone sent no certificate' : 'this phone has no LSC to authenticate with');
    // The LSC on record, or the one sent whose "stored" answer never came (the phone may hold it).
    const recorded = cert.lsc ? new X509Certificate(cert.lsc).raw : undefined;
    const pending = cert.lscPending ? new X509Certificate(cert.lscPending).raw : undefined;
    const matches = (x: Buffer | undefined) => !!x && Buffer.from(held).equals(x);
    if (!matches(recorded) && !matches(pending)) throw refuse('the certificate is not the LSC issued to this phone');
    const issued = matches(recorded) ? recorded! : pending!;
    const signed = auth.elements.get(CapfElement.SIGNED_DATA);
    const sha2 = offered.value.sha2;
    const data = capfAuthData(name, issued);
    if (!signed || !sha2 || sha2.hash !== CapfHash.SHA512) throw refuse('signed data (SHA-1 and SHA-512) missing');
    if (!signedBy(issued, signed, createHash('sha1').update(data).digest()) || !signedBy(issued, sha2.signature, createHash('sha512').update(data).digest())) {
      throw refuse('the signed data does not verify with the LSC');
    }
    if (issued === recorded) return false;
    this.o.db.adoptPendingLsc(name, cert.lscPending, this.stamp());
    this.o.log({ from, device: name, result: 'installed', detail: 'the phone holds the LSC it never confirmed storing: recorded now' });
    return true;
  }

  private async install(name: string, cert: PhoneCertificate, send: Sender, receive: Receiver, from: string): Promise<void> {
    send(CapfCommand.KEY_GENERATE_REQUEST, [[CapfElement.KEY_TYPE, byteValue(CapfKeyType.RSA)], [CapfElement.KEY_SIZE, u16Value(cert.keySize)]]);
    let answer = await receive([CapfCommand.KEY_GENERATE_RESPONSE, CapfCommand.REQUEST_IN_PROGRESS], KEYGEN_TIMEOUT_MS, 'KEY_GENERATE_RESPONSE');
    if (answer.command === CapfCommand.REQUEST_IN_PROGRESS) answer = await receive([CapfCommand.KEY_GENERATE_RESPONSE], KEYGEN_TIMEOUT_MS, 'KEY_GENERATE_RESPONSE');
    const spki = answer.elements.get(CapfElement.PUBLIC_KEY);
    if (!spki) throw new SessionEnd('failed', CapfReason.INVALID_ELEMENT, `the phone made no key (reason ${answer.elements.get(CapfElement.REASON)?.[0] ?? 'none given'})`);
    const lsc = issueLsc(this.o.pki, name, spki, cert.keySize, this.clock.now());
    if (!lsc.ok) throw new SessionEnd('failed', CapfReason.INVALID_ELEMENT, lsc.reason);
    // Recorded as pending before it leaves: if the phone's answer never comes, it may still hold it.
    this.o.db.setPendingLsc(name, lsc.pem);
    send(CapfCommand.STORE_CERTIFICATE_REQUEST, [[CapfElement.CERTIFICATE_TYPE, byteValue(CapfCertificateType.LSC)], [CapfElement.CERTIFICATE, certificateValue(lsc.der)]]);
    const stored = await receive([CapfCommand.STORE_CERTIFICATE_RESPONSE], ANSWER_TIMEOUT_MS, 'STORE_CERTIFICATE_RESPONSE');
    const reason = stored.elements.get(CapfElement.REASON)?.[0];
    if (reason !== CapfReason.UPDATE_CERTIFICATE) throw new SessionEnd('failed', CapfReason.INVALID_ELEMENT, `the phone did not store the LSC (reason ${reason ?? 'none'})`);
    if (!this.o.db.storeLsc(name, lsc.pem, this.stamp(), cert)) throw new SessionEnd('refused', CapfReason.INVALID_ELEMENT, 'the operation changed while the session ran (cancelled, rescheduled, or done by another session): this LSC is not recorded');
    send(CapfCommand.END_SESSION, [[CapfElement.REASON, byteValue(CapfReason.UPDATE_CERTIFICATE)]]);
    const serial = new X509Certificate(lsc.der).serialNumber.toLowerCase();
    this.o.log({ from, device: name, result: 'installed', detail: `LSC ${serial.slice(0, 16)}… (RSA ${cert.keySize}) issued and stored by the phone` });
  }

  private stamp(): string {
    return `${this.clock.now()}-${randomInt(1, 0xffffffff).toString(16)}`;
  }

  private async remove(name: string, cert: PhoneCertificate, send: Sender, receive: Receiver, from: string): Promise<void> {
    send(CapfCommand.DELETE_CERTIFICATE_REQUEST);
    const answer = await receive([CapfCommand.DELETE_CERTIFICATE_RESPONSE], ANSWER_TIMEOUT_MS, 'DELETE_CERTIFICATE_RESPONSE');
    const reason = answer.elements.get(CapfElement.REASON)?.[0];
    // A phone that holds no LSC (reason 7: a factory reset since) has nothing to delete either.
    if (reason !== CapfReason.UPDATE_CERTIFICATE && reason !== CapfReason.INVALID_ELEMENT) throw new SessionEnd('failed', CapfReason.INVALID_ELEMENT, `the phone did not delete its LSC (reason ${reason ?? 'none'})`);
    if (!this.o.db.storeLsc(name, '', this.stamp(), cert)) throw new SessionEnd('refused', CapfReason.INVALID_ELEMENT, 'the operation changed while the session ran: the delete is not recorded');
    send(CapfCommand.END_SESSION, [[CapfElement.REASON, byteValue(CapfReason.UPDATE_CERTIFICATE)]]);
    this.o.log({ from, device: name, result: 'deleted', detail: 'LSC deleted on the phone' });
  }
}

type Sender = (command: number, elements?: Array<[number, Uint8Array]>) => void;
type Receiver = (expect: number[], timeoutMs: number, what: string) => Promise<CapfMessage>;

/** CAPF's signed data is a PKCS#1 v1.5 type-1 block around the bare hash (no DigestInfo). */
function signedBy(der: Uint8Array, signature: Uint8Array, hash: Buffer): boolean {
  try {
    const key = new X509Certificate(der).publicKey;
    const out = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
    return out.length === hash.length && timingSafeEqual(out, hash);
  } catch {
    return false;
  }
}
