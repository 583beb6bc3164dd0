/**
 * The Device Activation Service on the wire: EMU-ACT/1 (docs/protocols/activation.md), HTTPS on
 * 6971 — the port Unified CM's phones use for secure provisioning — with mutual TLS. The server
 * shows the CallManager certificate (the ITL's CCM+TFTP record, which the phone pins); the
 * phone shows its MIC, which must come from a trusted manufacturing CA and name the MAC and
 * model the request carries.
 *
 *   POST /emu-act/v1/activate  {"activationCode", "mac", "model", "serial"?, "firmware"?}
 *   200 {"status":"activated","deviceName","configFile","tftp":[…],"retryAfterSec":0}
 *   403 {"status":"error","reason": invalid_code | expired | model_mismatch | mac_mismatch | mac_in_use | mic_untrusted}
 *   429 {"status":"error","reason":"rate_limited","retryAfterSec"} with Retry-After
 */
import type { TLSSocket } from 'node:tls';
import { listenApp } from '../listen.ts';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Clock } from '../../common/clock.ts';
import type { CompanionPki } from '../pki.ts';
import type { DeviceActivation } from './device-activation.ts';
import type { ManufacturingTrust } from './manufacturing-trust.ts';

export const ACTIVATE_PATH = '/emu-act/v1/activate';

const ActivateRequest = z.strictObject({
  activationCode: z.string().max(64),
  mac: z.string().regex(/^[0-9A-Fa-f]{12}$/),
  model: z.string().regex(/^[0-9A-Za-z]{3,8}$/),
  serial: z.string().max(32).optional(),
  firmware: z.string().max(64).optional(),
});

export interface ActivationLogEntry {
  from: string;
  mac: string;
  result: string;
  detail: string;
}

export class ActivationService {
  private app: FastifyInstance | undefined;
  private readonly o: { pki: CompanionPki; trust: ManufacturingTrust; activation: DeviceActivation; clock: Clock; tftp: () => string[]; log: (e: ActivationLogEntry) => void };

  constructor(o: ActivationService['o']) {
    this.o = o;
  }

  async start(host: string, port: number): Promise<number> {
    const id = this.o.pki.get('tftp');
    // One short request per connection; the limits of HTTP 6970 (docs/security.md).
    const app = Fastify({
      https: { key: id.keyPem, cert: id.certPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
      bodyLimit: 4096, connectionTimeout: 10_000, requestTimeout: 10_000, keepAliveTimeout: 2_000, forceCloseConnections: true,
      ajv: { customOptions: { coerceTypes: false } },
    });
    app.server.maxConnections = 512;
    app.setErrorHandler((e, _req, reply) => {
      const status = (e as { statusCode?: number }).statusCode ?? 500;
      return reply.code(status >= 400 && status < 500 ? status : 500).send({ status: 'error', reason: status === 400 ? 'bad_request' : 'internal' });
    });
    app.setNotFoundHandler((_req, reply) => reply.code(404).send({ status: 'error', reason: 'not_found' }));
    app.post(ACTIVATE_PATH, { schema: { body: z.toJSONSchema(ActivateRequest, { target: 'draft-7' }) } }, async (req, reply) => {
      const body = req.body as z.infer<typeof ActivateRequest>;
      const from = req.socket.remoteAddress ?? '';
      const mac = body.mac.toUpperCase();
      const peer = (req.raw.socket as TLSSocket).getPeerCertificate?.(false);
      const mic = this.o.trust.check(peer?.raw, this.o.clock.now());
      const answer = (status: number, reason: string, detail: string, extra: Record<string, unknown> = {}) => {
        this.o.log({ from, mac, result: reason, detail });
        return reply.code(status).send({ status: 'error', reason, ...extra });
      };
      if (!mic.ok) return answer(403, 'mic_untrusted', `MIC refused: ${mic.reason}`);
      if (mic.mac !== mac || mic.model !== body.model) return answer(403, 'mic_untrusted', `the MIC is for ${mic.model} ${mic.mac}, the request says ${body.model} ${mac}`);
      const r = this.o.activation.activate({ code: body.activationCode, mac, model: body.model, source: from });
      if (r.kind === 'refused') {
        if (r.reason === 'rate_limited') {
          void reply.header('Retry-After', String(r.retryAfterSecs ?? 60));
          return answer(429, r.reason, `locked out for ${r.retryAfterSecs} s`, { retryAfterSec: r.retryAfterSecs });
        }
        return answer(403, r.reason, `code refused (${r.reason})`);
      }
      this.o.log({ from, mac, result: 'activated', detail: `${r.previousName} is now ${r.deviceName} (${body.model}, MIC from ${mic.issuer})` });
      return reply.code(200).send({ status: 'activated', deviceName: r.deviceName, configFile: `${r.deviceName}.cnf.xml`, tftp: this.o.tftp(), retryAfterSec: 0 });
    });
    const bound = await listenApp(app, host, port);
    this.app = app;
    return bound;
  }

  async stop(): Promise<void> {
    const a = this.app;
    this.app = undefined;
    await a?.close();
  }
}
