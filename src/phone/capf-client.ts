/**
 * The phone's side of a CAPF session (TLS on 3804; reference cisco-boot-protocol.md §7, the
 * messages in src/wire/capf.ts). The server speaks first and drives; the phone answers:
 *
 *   AUTH_REQUEST              → AUTH_RESPONSE (device name; the authentication string, or proof
 *                               of the LSC it holds: the certificate and its signature over
 *                               device name, NUL and certificate, SHA-1 and SHA-512)
 *   KEY_GENERATE_REQUEST      → REQUEST_IN_PROGRESS, then KEY_GENERATE_RESPONSE (a new RSA key)
 *   STORE_CERTIFICATE_REQUEST → the LSC and key written to NVRAM, then STORE_CERTIFICATE_RESPONSE
 *   DELETE_CERTIFICATE_REQUEST→ the LSC removed, DELETE_CERTIFICATE_RESPONSE
 *   FETCH_CERTIFICATE_REQUEST → FETCH_CERTIFICATE_RESPONSE with the LSC
 *   END_SESSION               → done (reason 1 updated, 0 nothing to do, 7 refused, 9 unknown)
 *
 * The server's TLS certificate must be one of the trust list's CAPF certificates: a phone
 * hands its new public key, and later its configuration secrets, only to its own cluster.
 */
import { X509Certificate, createHash, generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import type { Clock } from '../common/clock.ts';
import { MessageReader } from '../common/message-reader.ts';
import {
  CAPF_HEADER_BYTES, CAPF_MAX_PAYLOAD, CAPF_PROTOCOL_VERSION, CAPF_RSA_KEY_SIZES, capfAuthData, CapfCommand, CapfElement, CapfHash, CapfKeyType, CapfReason, type CapfMessage,
  byteValue, capfMessage, capfMessageLength, certificateValue, cstringValue, decodeCapf, encodeCapf, readByte, readCertificate, readElements, readU16, sha2SignedValue,
} from '../wire/capf.ts';
import { sameBytes } from '../wire/tlv.ts';
import { type Lsc, readLsc, removeLsc, writeLsc } from './lsc.ts';
import type { Nvram } from './nvram.ts';
import type { NetworkPort, TcpConnection } from './ports.ts';

const makeKeyPair = promisify(generateKeyPair);
const ANSWER_TIMEOUT_MS = 30_000;

export type CapfOutcome =
  | { kind: 'installed'; lsc: Lsc; keySize: number }
  | { kind: 'deleted' }
  | { kind: 'fetched' }
  | { kind: 'no-action' }
  | { kind: 'refused'; reason: string }
  | { kind: 'failed'; reason: string };

export interface CapfSessionOptions {
  network: NetworkPort;
  clock: Clock;
  nvram: Nvram;
  deviceName: string;
  host: string;
  port: number;
  /** DER certificates the server may show (the ITL's CAPF records). */
  capfCertificates: Uint8Array[];
  /** The authentication string typed by the user, for `capfAuthMode` 1. */
  authString?: string;
  localAddress?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

class Ended extends Error {
  readonly outcome: CapfOutcome;
  constructor(outcome: CapfOutcome) {
    super(outcome.kind);
    this.outcome = outcome;
  }
}

const END_REASONS: Record<number, string> = { 7: 'refused by CAPF (wrong authentication, or an element it did not accept)', 9: 'CAPF does not know this phone' };

export async function runCapfSession(o: CapfSessionOptions): Promise<CapfOutcome> {
  if (o.capfCertificates.length === 0) return { kind: 'failed', reason: 'the trust list holds no CAPF certificate to check the server with' };
  const timeoutMs = o.timeoutMs ?? ANSWER_TIMEOUT_MS;
  let conn: TcpConnection;
  try {
    const c = await o.network.tls(o.host, o.port, { timeoutMs, ...(o.signal ? { signal: o.signal } : {}), ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
    if (!o.capfCertificates.some((x) => sameBytes(x, c.peerCertificate))) {
      c.conn.close();
      return { kind: 'failed', reason: `CAPF ${o.host}:${o.port} presents a certificate that is not in the trust list` };
    }
    conn = c.conn;
  } catch (e) {
    return { kind: 'failed', reason: `CAPF ${o.host}:${o.port}: ${(e as Error).message}` };
  }
  const reader = new MessageReader(conn, { messageLength: capfMessageLength, maxBytes: CAPF_HEADER_BYTES + CAPF_MAX_PAYLOAD, clock: o.clock });
  // A reboot or power-off ends the session at once: the connection goes, every wait ends.
  const onAbort = () => conn.close();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let session = 0;
  const send = (command: number, elements: Array<[number, Uint8Array]> = []) => conn.write(encodeCapf(capfMessage(command, session, elements)));
  const receive = async (what: string): Promise<CapfMessage> => {
    const m = decodeCapf(await reader.next(timeoutMs, what));
    if (!m.ok) throw new Ended({ kind: 'failed', reason: `${what}: ${m.error.message}` });
    if (session === 0) session = m.value.session;
    else if (m.value.session !== session) throw new Ended({ kind: 'failed', reason: `${what}: session ${m.value.session}, not ${session}` });
    if (m.value.command === CapfCommand.END_SESSION) {
      const reason = m.value.elements.get(CapfElement.REASON)?.[0];
      // Before any operation, 0 and 1 both mean there is nothing to do (as capfc reads them).
      if (reason === CapfReason.NO_ACTION || reason === CapfReason.UPDATE_CERTIFICATE) throw new Ended({ kind: 'no-action' });
      throw new Ended({ kind: 'refused', reason: END_REASONS[reason ?? -1] ?? `session ended (reason ${reason ?? 'none'})` });
    }
    return m.value;
  };
  try {
    const hello = await receive('AUTH_REQUEST');
    if (hello.command !== CapfCommand.AUTH_REQUEST) return { kind: 'failed', reason: `the server began with command ${hello.command}, not AUTH_REQUEST` };
    const version = readElements(() => readByte(hello, CapfElement.VERSION, 'version'));
    if (!version.ok || version.value !== CAPF_PROTOCOL_VERSION) return { kind: 'failed', reason: `CAPF protocol version ${version.ok ? version.value : '?'}, not ${CAPF_PROTOCOL_VERSION}` };
    const held = await readLsc(o.nvram);
    send(CapfCommand.AUTH_RESPONSE, authElements(o.deviceName, o.authString, held));
    const order = await receive('the operation');
    switch (order.command) {
      case CapfCommand.KEY_GENERATE_REQUEST:
        return await install(o, order, send, receive);
      case CapfCommand.DELETE_CERTIFICATE_REQUEST: {
        if (o.signal?.aborted) return { kind: 'failed', reason: 'aborted' };
        await removeLsc(o.nvram);
        send(CapfCommand.DELETE_CERTIFICATE_RESPONSE, [[CapfElement.REASON, byteValue(held ? CapfReason.UPDATE_CERTIFICATE : CapfReason.INVALID_ELEMENT)]]);
        await finish(receive);
        return held ? { kind: 'deleted' } : { kind: 'no-action' };
      }
      case CapfCommand.FETCH_CERTIFICATE_REQUEST: {
        send(CapfCommand.FETCH_CERTIFICATE_RESPONSE, held ? [[CapfElement.REASON, byteValue(CapfReason.UPDATE_CERTIFICATE)], [CapfElement.CERTIFICATE, certificateValue(held.der)]] : [[CapfElement.REASON, byteValue(CapfReason.INVALID_ELEMENT)]]);
        await finish(receive);
        return { kind: 'fetched' };
      }
      default:
        return { kind: 'failed', reason: `unexpected command ${order.command}` };
    }
  } catch (e) {
    if (e instanceof Ended) return e.outcome;
    return { kind: 'failed', reason: (e as Error).message };
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    conn.close();
  }
}

/** The fields capfc sends and capfd reads: reason, version, name, password (even empty), and the LSC's proof when there is one. */
function authElements(deviceName: string, authString: string | undefined, held: Lsc | undefined): Array<[number, Uint8Array]> {
  const elements: Array<[number, Uint8Array]> = [
    [CapfElement.REASON, byteValue(CapfReason.UPDATE_CERTIFICATE)],
    [CapfElement.VERSION, byteValue(CAPF_PROTOCOL_VERSION)],
    [CapfElement.DEVICE_NAME, cstringValue(deviceName)],
    [CapfElement.PASSWORD, cstringValue(authString ?? '')],
  ];
  if (held) {
    const data = capfAuthData(deviceName, held.der);
    elements.push(
      [CapfElement.CERTIFICATE, certificateValue(held.der)],
      [CapfElement.SIGNED_DATA, held.signHash(createHash('sha1').update(data).digest())],
      [CapfElement.SHA2_SIGNED_DATA, sha2SignedValue(CapfHash.SHA512, held.signHash(createHash('sha512').update(data).digest()))],
    );
  }
  return elements;
}

type Send = (command: number, elements?: Array<[number, Uint8Array]>) => void;
type Receive = (what: string) => Promise<CapfMessage>;

async function install(o: CapfSessionOptions, order: CapfMessage, send: Send, receive: Receive): Promise<CapfOutcome> {
  const asked = readElements(() => ({ type: readByte(order, CapfElement.KEY_TYPE, 'key type'), size: readU16(order, CapfElement.KEY_SIZE, 'key size') }));
  if (!asked.ok) return { kind: 'failed', reason: asked.error.message };
  const { type, size } = asked.value;
  // This phone makes RSA keys; an EC request is answered without a key, which ends the session.
  if (type !== CapfKeyType.RSA || size === undefined || !CAPF_RSA_KEY_SIZES.has(size)) {
    send(CapfCommand.KEY_GENERATE_RESPONSE, [[CapfElement.REASON, byteValue(CapfReason.INVALID_ELEMENT)]]);
    return { kind: 'failed', reason: `CAPF asked for a ${type === CapfKeyType.EC ? 'EC' : `type ${type}`} key${size ? ` of ${size} bits` : ''}; this phone makes RSA 1024-4096` };
  }
  send(CapfCommand.REQUEST_IN_PROGRESS);
  const { publicKey, privateKey } = await makeKeyPair('rsa', { modulusLength: size });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  send(CapfCommand.KEY_GENERATE_RESPONSE, [[CapfElement.PUBLIC_KEY, spki]]);
  const store = await receive('STORE_CERTIFICATE_REQUEST');
  if (store.command !== CapfCommand.STORE_CERTIFICATE_REQUEST) return { kind: 'failed', reason: `command ${store.command} where STORE_CERTIFICATE_REQUEST was expected` };
  const cert = readElements(() => readCertificate(store));
  if (!cert.ok || !cert.value) return { kind: 'failed', reason: cert.ok ? 'STORE_CERTIFICATE_REQUEST without a certificate' : cert.error.message };
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(Buffer.from(cert.value.der));
  } catch (e) {
    return { kind: 'failed', reason: `the LSC does not parse: ${(e as Error).message}` };
  }
  if (!Buffer.from(x509.publicKey.export({ type: 'spki', format: 'der' })).equals(spki)) return { kind: 'failed', reason: 'the LSC is not for the key this phone made' };
  // Written before the phone says it stored it, so CAPF records only what the phone has. A power
  // cut in between leaves the phone with an LSC the companion does not know: its encrypted file
  // is for the old one, the phone says so, and the admin runs the operation again.
  if (o.signal?.aborted) return { kind: 'failed', reason: 'aborted' };
  await writeLsc(o.nvram, { certPem: x509.toString(), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string });
  // A cycle that ended meanwhile (a reboot, a power cut) sends nothing more: CAPF keeps this LSC as pending.
  if (o.signal?.aborted) return { kind: 'failed', reason: 'aborted after storing the LSC' };
  send(CapfCommand.STORE_CERTIFICATE_RESPONSE, [[CapfElement.REASON, byteValue(CapfReason.UPDATE_CERTIFICATE)]]);
  const lsc = await readLsc(o.nvram);
  if (!lsc) return { kind: 'failed', reason: 'the LSC could not be read back from NVRAM' };
  // Stored and answered: whatever ends the session now (END_SESSION, a closed connection) is the end.
  await receive('END_SESSION').catch(() => {});
  return { kind: 'installed', lsc, keySize: size };
}

/** After the last answer the server ends the session; END_SESSION of any reason, or the connection closing, is the end. */
async function finish(receive: Receive): Promise<void> {
  await receive('END_SESSION').catch(() => {});
}
