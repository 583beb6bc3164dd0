/**
 * The phone's own web page (its "web-based utility", issue 9): Info → Status → Product
 * Information for anyone on the LAN, and the admin pages behind a password chosen at first use.
 * `startPhoneWeb` is all the firmware side needs: give it a PhoneWebPort, the phone's NVRAM
 * (where the admin password hash lives), a clock and a log line sink.
 *
 * A real phone serves plain HTTP on its LAN (port 80; the CLI's `--web-port` changes it), so the
 * session cookie is HttpOnly and SameSite=Strict but Secure only when this server speaks HTTPS
 * (`tls`): a browser refuses to store a Secure cookie from http://, and the admin could then never
 * sign in. HTTPS is offered for a lab that has a certificate for the phone; over plain HTTP the
 * password crosses the LAN in the clear, as it does on the real phone.
 *
 * Server-rendered, usable without JavaScript, every value escaped (html.ts), every form field
 * labelled, every POST checked against its form's CSRF token (@fastify/csrf-protection, the
 * secret in a signed cookie), a Content-Security-Policy that allows no inline script or style,
 * sign-ins rate-limited (admin-auth.ts).
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Clock } from '../../common/clock.ts';
import type { Nvram } from '../nvram.ts';
import { AdminAuth } from './admin-auth.ts';
import { registerAdminPages } from './admin-pages.ts';
import { CSRF_COOKIE, type WebContext, sendPage } from './context.ts';
import { SCRIPT, STYLESHEET, errorNote, html } from './html.ts';
import { registerInfoPage } from './info-page.ts';
import type { PhoneWebPort } from './port.ts';

export const DEFAULT_WEB_PORT = 80;

export interface PhoneWebOptions {
  /** TCP port; 80 on a phone, 0 for any free one (tests). Default 80. */
  port?: number;
  /** Address to listen on; default every IPv4 address (`0.0.0.0`). */
  host?: string;
  phone: PhoneWebPort;
  nvram: Nvram;
  clock: Clock;
  log: (line: string) => void;
  /** Serve HTTPS with this certificate (PEM) instead of plain HTTP; cookies then become Secure. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export interface PhoneWeb {
  /** The bound port (the kernel's choice when asked for 0). */
  port: number;
  /** Stops listening and closes every connection (event streams included). */
  close(): Promise<void>;
}

const SECURITY_HEADERS = {
  // No inline script or style anywhere: an escaping slip still cannot run script.
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

export async function startPhoneWeb(o: PhoneWebOptions): Promise<PhoneWeb> {
  const secure = !!o.tls;
  const limits = { bodyLimit: 64 * 1024, connectionTimeout: 30_000, requestTimeout: 30_000, keepAliveTimeout: 5_000, forceCloseConnections: true, logger: false } as const;
  // Fastify's types differ by server kind; the app is only ever used through FastifyInstance.
  const app = (o.tls ? Fastify({ ...limits, https: { cert: o.tls.cert, key: o.tls.key, minVersion: 'TLSv1.2' } }) : Fastify(limits)) as unknown as FastifyInstance;
  // A phone answers a handful of browsers, not a crowd.
  app.server.maxConnections = 64;

  const ctx: WebContext = { phone: o.phone, auth: new AdminAuth(o.nvram, o.clock), clock: o.clock, log: o.log, secure };
  // The cookie-signing secret lives only as long as this server: after a restart old forms are
  // stale (the CSRF check says so) and sessions are gone anyway, so nothing needs keeping.
  await app.register(cookie, { secret: randomBytes(32).toString('hex') });
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  await app.register(csrf, { sessionPlugin: '@fastify/cookie', cookieKey: CSRF_COOKIE, cookieOpts: { signed: true, secure, httpOnly: true, sameSite: 'strict', path: '/' } });
  // Every POST carries its form's token; one without it, or with another browser's, is refused.
  app.addHook('preHandler', (req, reply, done) => (req.method === 'POST' ? app.csrfProtection(req, reply, done) : done()));
  app.addHook('onSend', async (_req, reply) => {
    reply.headers(SECURITY_HEADERS);
  });
  app.setErrorHandler((e, _req, reply) => {
    const status = (e as { statusCode?: number }).statusCode ?? 500;
    const csrfRefused = (e as { code?: string }).code?.startsWith('FST_CSRF') ?? false;
    if (status >= 500) o.log(`web error: ${(e as Error).message}`);
    const words = csrfRefused ? 'The form was stale or not from this phone (CSRF check): open the page again.' : status < 500 ? (e as Error).message : 'Something went wrong on the phone.';
    return sendPage(reply, csrfRefused ? 403 : status < 500 ? status : 500, { title: csrfRefused ? 'Refused' : 'Error' }, html`${errorNote(words)}<p><a href="/">Info</a> · <a href="/admin/">Admin</a></p>`);
  });
  app.setNotFoundHandler((_req, reply) => sendPage(reply, 404, { title: 'Not Found' }, html`<p><a href="/">Info</a> · <a href="/admin/">Admin</a></p>`));

  app.get('/phone.css', (_req, reply) => reply.type('text/css; charset=utf-8').send(STYLESHEET));
  app.get('/phone.js', (_req, reply) => reply.type('text/javascript; charset=utf-8').send(SCRIPT));
  registerInfoPage(app, ctx);
  registerAdminPages(app, ctx);

  await app.listen({ host: o.host ?? '0.0.0.0', port: o.port ?? DEFAULT_WEB_PORT });
  const port = (app.server.address() as AddressInfo).port;
  o.log(`web page on ${secure ? 'https' : 'http'}://${o.host ?? '0.0.0.0'}:${port}/`);
  return { port, close: () => app.close() };
}
