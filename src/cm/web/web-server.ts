/**
 * The companion's web pages over HTTPS (8443 by default, `web.port`; the CallManager
 * certificate): administration under `/ccmadmin/` and the Self-Care portal under `/ucmuser/`.
 * Server-rendered, usable without JavaScript; every value escaped (html.ts), every form field
 * labelled, every form carrying a CSRF token (@fastify/csrf-protection, its secret in a signed
 * cookie), sessions in Secure HttpOnly SameSite=Strict cookies (sessions.ts), sign-ins
 * rate-limited. The pages call the same operations as `sepi cm` (src/cm/admin/).
 */
import csrf from '@fastify/csrf-protection';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import { listenApp } from '../listen.ts';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Clock } from '../../common/clock.ts';
import type { ActivationStore } from '../activation/store.ts';
import type { BulkOperations } from '../admin/bulk.ts';
import type { OnboardingOperations } from '../admin/onboarding.ts';
import type { PhoneOperations } from '../admin/phones.ts';
import type { CompanionDb } from '../db.ts';
import type { CompanionPki } from '../pki.ts';
import { USER_ID } from '../device-name.ts';
import { verifySecret } from '../../common/password-hash.ts';
import { registerAdminPages } from './admin-pages.ts';
import { html, page } from './html.ts';
import { registerSelfCare } from './self-care.ts';
import { registerMppPages } from './mpp-pages.ts';
import type { MppOperations } from '../edos/operations.ts';
import type { IvrOperations } from '../ivr/operations.ts';
import type { TemplateOperations } from '../templates/operations.ts';
import { registerTemplatePages } from './template-pages.ts';
import { type Session, Sessions } from './sessions.ts';

export const SESSION_COOKIE = 'sepi_session';

export interface WebContext {
  db: CompanionDb;
  store: ActivationStore;
  phones: PhoneOperations;
  onboarding: OnboardingOperations;
  bulk: BulkOperations;
  /** EDOS rules (mpp-pages.ts). */
  mpp: MppOperations;
  /** Universal templates and user profiles (template-pages.ts); without them the page is not served. */
  templates?: TemplateOperations | undefined;
  ivr?: IvrOperations | undefined;
  clock: Clock;
  log: (line: string) => void;
  sessions: Sessions;
}

/** Sends a whole page. */
export const sendPage = (reply: FastifyReply, status: number, title: string, body: ReturnType<typeof html>, nav?: ReturnType<typeof html>) =>
  reply.code(status).type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(page(title, body, nav));

/** The session of a request, when it has one. */
export const sessionOf = (ctx: WebContext, req: FastifyRequest): Session | undefined => ctx.sessions.get(req.cookies[SESSION_COOKIE]);

/** Signs a user in (the password checked, the attempt rate-limited); the outcome in words for the form. */
export function signIn(ctx: WebContext, req: FastifyRequest, reply: FastifyReply, wantAdmin: boolean): { ok: true } | { ok: false; why: string } {
  const body = (req.body ?? {}) as Record<string, string | undefined>;
  const user = String(body['userId'] ?? '').slice(0, 64);
  const password = String(body['password'] ?? '').slice(0, 128);
  const from = req.socket.remoteAddress ?? '';
  if (!ctx.sessions.mayTry(from, user)) {
    ctx.log(`limit web-sign-in ${from}: too many sign-ins; refused without checking`);
    return { ok: false, why: 'Too many attempts: wait a minute and try again.' };
  }
  const u = ctx.store.user(user);
  const good = !!u && verifySecret(password, u.passwordHash) && (!wantAdmin || u.admin);
  // The audit names what was typed only when it could be a user id at all.
  ctx.store.audit({ at: ctx.clock.now(), actor: USER_ID.test(user) ? `user:${user}` : 'user:(not a user id)', action: wantAdmin ? 'admin-sign-in' : 'self-care-sign-in', device: '', source: from, result: good ? 'ok' : 'refused' });
  if (!good) return { ok: false, why: 'Wrong user ID or password.' };
  const id = ctx.sessions.open(u!.id, u!.admin);
  void reply.setCookie(SESSION_COOKIE, id, { path: '/', secure: true, httpOnly: true, sameSite: 'strict' });
  return { ok: true };
}

export class WebServer {
  private app: FastifyInstance | undefined;
  private readonly ctx: WebContext;
  private readonly pki: CompanionPki;
  private readonly cookieSecret: Buffer;

  constructor(o: Omit<WebContext, 'sessions'> & { pki: CompanionPki }) {
    this.ctx = { ...o, sessions: new Sessions(o.clock) };
    this.pki = o.pki;
    this.cookieSecret = o.db.secrets.subkey('sepi web cookies v1');
  }

  async start(host: string, port: number): Promise<number> {
    const id = this.pki.get('tftp');
    const app = Fastify({
      https: { key: id.keyPem, cert: id.certPem, minVersion: 'TLSv1.2' },
      bodyLimit: 2 * 1024 * 1024, connectionTimeout: 30_000, requestTimeout: 30_000, keepAliveTimeout: 5_000, forceCloseConnections: true,
    });
    app.server.maxConnections = 512;
    await app.register(cookie, { secret: this.cookieSecret.toString('hex') });
    await app.register(formbody, { bodyLimit: 2 * 1024 * 1024 });
    await app.register(csrf, { sessionPlugin: '@fastify/cookie', cookieOpts: { signed: true, secure: true, httpOnly: true, sameSite: 'strict', path: '/' } });
    // Every POST carries the form's token; one without it, or with another session's, is refused.
    app.addHook('preHandler', (req, reply, done) => (req.method === 'POST' ? app.csrfProtection(req, reply, done) : done()));
    app.setErrorHandler((e, _req, reply) => {
      const status = (e as { statusCode?: number }).statusCode ?? 500;
      const csrfRefused = (e as { code?: string }).code?.startsWith('FST_CSRF') ?? false;
      const words = csrfRefused ? 'The form was stale or not from this site (CSRF check): open the page again.' : status < 500 ? (e as Error).message : 'Something went wrong on the companion.';
      return sendPage(reply, csrfRefused ? 403 : status < 500 ? status : 500, csrfRefused ? 'Refused' : 'Error', html`<p class="error">${words}</p><p><a href="/ccmadmin/">Administration</a> · <a href="/ucmuser/">Self-Care</a></p>`);
    });
    app.setNotFoundHandler((_req, reply) => sendPage(reply, 404, 'Not found', html`<p><a href="/ccmadmin/">Administration</a> · <a href="/ucmuser/">Self-Care</a></p>`));
    app.get('/', (_req, reply) => reply.redirect('/ucmuser/'));
    registerSelfCare(app, this.ctx);
    registerAdminPages(app, this.ctx);
    registerMppPages(app, this.ctx);
    const { templates, ivr } = this.ctx;
    if (templates && ivr) registerTemplatePages(app, { ...this.ctx, templates, ivr });
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
