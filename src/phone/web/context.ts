/**
 * What every page of the phone's web utility shares: the port, the admin's sign-in, the clock
 * and log, whether the server speaks HTTPS (the session cookie's Secure flag follows it), and
 * how a page is sent (the security headers are added for every reply in server.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../common/clock.ts';
import type { AdminAuth } from './admin-auth.ts';
import { type Frame, type Html, page } from './html.ts';
import type { PhoneWebPort } from './port.ts';

/**
 * The cookie names carry the phone's prefix: cookies are per host, not per port, so a phone page
 * and the companion's pages on one lab host (127.0.0.1:80 and :8443) must not overwrite each
 * other's session or CSRF secret.
 */
export const SESSION_COOKIE = 'sepi_phone_session';
export const CSRF_COOKIE = 'sepi_phone_csrf';

export interface WebContext {
  phone: PhoneWebPort;
  auth: AdminAuth;
  clock: Clock;
  log: (line: string) => void;
  /** Served over HTTPS: only then may cookies be Secure (a browser drops Secure cookies on http://). */
  secure: boolean;
}

export type Body = Record<string, string | undefined>;

/** A form field as a bounded string (a missing one is ''). */
export const field = (req: FastifyRequest, name: string, max = 1024): string => String(((req.body ?? {}) as Body)[name] ?? '').slice(0, max);

export const sendPage = (reply: FastifyReply, status: number, frame: Frame, body: Html) =>
  reply.code(status).type('text/html; charset=utf-8').send(page(frame, body));

/** True when the request carries a live admin session. */
export const isAdmin = (ctx: WebContext, req: FastifyRequest): Promise<boolean> => ctx.auth.isAdmin(req.cookies[SESSION_COOKIE]);

/** The address a request came from, for the rate limit and the log. */
export const peer = (req: FastifyRequest): string => req.socket.remoteAddress ?? '';
