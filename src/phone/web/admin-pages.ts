/**
 * The admin side of the phone's web utility, behind the one admin password (admin-auth.ts):
 * choosing it at first use, signing in and out, changing it, and Admin → Advanced — the
 * provisioning parameters (as the port gives them, secrets masked), Profile_Rule and the line's
 * proxy, Resync, the lab's wait scale and Factory Reset. Every action is a POST carrying the
 * form's CSRF token and acts only through PhoneWebPort; a GET never changes anything — even
 * Cisco's documented `GET /admin/resync` only shows a confirm form here, because a link or an
 * <img> on another site could otherwise make a signed-in admin's browser resync the phone.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MAX_PASSWORD, MIN_PASSWORD, passwordProblem } from './admin-auth.ts';
import { SESSION_COOKIE, type WebContext, field, isAdmin, peer, sendPage } from './context.ts';
import { type Html, checkbox, doneNote, errorNote, form, html, input, row } from './html.ts';

/** The parameters the Advanced form sets by hand, with Cisco's labels. */
export const EDITABLE: ReadonlyArray<{ name: string; label: string }> = [
  { name: 'Profile_Rule', label: 'Profile Rule' },
  { name: 'Proxy_1_', label: 'Proxy (Ext 1)' },
];
/** Where a sign-in may go on to: only our own pages, never an address from the request. */
const NEXT = new Set(['/admin/advanced', '/admin/resync', '/admin/password']);
const MAX_WAIT_SCALE = 1000;
const MAX_VALUE = 2048;

export function registerAdminPages(app: FastifyInstance, ctx: WebContext): void {
  const { phone, auth, log } = ctx;
  const cookieOpts = { path: '/', httpOnly: true, sameSite: 'strict' as const, secure: ctx.secure };
  const adminFrame = (title: string, reply: FastifyReply) => ({ title, admin: { csrf: reply.generateCsrf() } });

  /**
   * Lets a signed-in admin through; anyone else goes to choose a password (when none is set) or
   * to sign in, and nothing is done.
   */
  const gate = async (req: FastifyRequest, reply: FastifyReply, next = '/admin/advanced'): Promise<boolean> => {
    if (await isAdmin(ctx, req)) return true;
    const chosen = await auth.currentHash();
    void reply.redirect(chosen ? `/admin/?next=${encodeURIComponent(next)}` : '/admin/setup', 303);
    return false;
  };

  // ---- the password: chosen at first use, then signed in with -----------------------------------

  const setupPage = (reply: FastifyReply, status: number, note: Html = html``) =>
    sendPage(reply, status, { title: 'Admin: Choose a Password' }, html`${note}
      <p>This phone has no admin password yet. Choose one (at least ${MIN_PASSWORD} characters); it is kept on the phone until a factory reset.</p>
      ${form('/admin/setup', reply.generateCsrf(), html`${input('newPassword', 'New Password', { type: 'password', required: true, autocomplete: 'new-password', minlength: MIN_PASSWORD })}
        ${input('confirmPassword', 'Confirm Password', { type: 'password', required: true, autocomplete: 'new-password', minlength: MIN_PASSWORD })}`, 'Set Password')}`);

  const signInPage = (reply: FastifyReply, status: number, next: string, note: Html = html``) =>
    sendPage(reply, status, { title: 'Admin Login' }, html`${note}
      ${form('/admin/login', reply.generateCsrf(), html`<input type="hidden" name="next" value="${next}">${input('password', 'Password', { type: 'password', required: true, autocomplete: 'current-password' })}`, 'Log In')}`);

  const nextOf = (v: unknown) => (typeof v === 'string' && NEXT.has(v) ? v : '/admin/advanced');

  app.get('/admin', (_req, reply) => reply.redirect('/admin/', 301));
  app.get<{ Querystring: { next?: string } }>('/admin/', async (req, reply) => {
    if (!(await auth.currentHash())) return reply.redirect('/admin/setup', 303);
    if (await isAdmin(ctx, req)) return reply.redirect(nextOf(req.query.next), 303);
    return signInPage(reply, 200, nextOf(req.query.next));
  });
  app.get('/admin/login', (_req, reply) => reply.redirect('/admin/', 303));

  app.get('/admin/setup', async (_req, reply) => ((await auth.currentHash()) ? reply.redirect('/admin/', 303) : setupPage(reply, 200)));
  app.post('/admin/setup', async (req, reply) => {
    const password = field(req, 'newPassword', MAX_PASSWORD + 1);
    const problem = passwordProblem(password, field(req, 'confirmPassword', MAX_PASSWORD + 1));
    if (problem) return setupPage(reply, 400, errorNote(problem));
    const r = await auth.choose(password);
    if (!r.ok) return sendPage(reply, 409, { title: 'Admin Login' }, html`${errorNote('An admin password has been chosen already.')}<p><a href="/admin/">Sign in</a></p>`);
    log(`web admin password chosen from ${peer(req)}`);
    void reply.setCookie(SESSION_COOKIE, r.session, cookieOpts);
    return reply.redirect('/admin/advanced', 303);
  });

  app.post('/admin/login', async (req, reply) => {
    const next = nextOf(field(req, 'next'));
    const r = await auth.signIn(peer(req), field(req, 'password', MAX_PASSWORD + 1));
    log(`web admin sign-in from ${peer(req)}: ${r.ok ? 'ok' : r.why}`);
    if (r.ok) {
      void reply.setCookie(SESSION_COOKIE, r.session, cookieOpts);
      return reply.redirect(next, 303);
    }
    if (r.why === 'no-password') return reply.redirect('/admin/setup', 303);
    const words = r.why === 'limited' ? 'Too many attempts: wait a minute and try again.' : 'Wrong password.';
    return signInPage(reply, r.why === 'limited' ? 429 : 401, next, errorNote(words));
  });

  app.post('/admin/logout', (req, reply) => {
    auth.close(req.cookies[SESSION_COOKIE]);
    void reply.clearCookie(SESSION_COOKIE, cookieOpts);
    return reply.redirect('/', 303);
  });

  const passwordPage = (reply: FastifyReply, status: number, note: Html = html``) =>
    sendPage(reply, status, adminFrame('Admin Password', reply), html`${note}
      ${form('/admin/password', reply.generateCsrf(), html`${input('oldPassword', 'Current Password', { type: 'password', required: true, autocomplete: 'current-password' })}
        ${input('newPassword', 'New Password', { type: 'password', required: true, autocomplete: 'new-password', minlength: MIN_PASSWORD })}
        ${input('confirmPassword', 'Confirm Password', { type: 'password', required: true, autocomplete: 'new-password', minlength: MIN_PASSWORD })}`, 'Change Password')}`);
  app.get('/admin/password', async (req, reply) => ((await gate(req, reply, '/admin/password')) ? passwordPage(reply, 200) : reply));
  app.post('/admin/password', async (req, reply) => {
    if (!(await gate(req, reply, '/admin/password'))) return reply;
    const password = field(req, 'newPassword', MAX_PASSWORD + 1);
    const problem = passwordProblem(password, field(req, 'confirmPassword', MAX_PASSWORD + 1));
    if (problem) return passwordPage(reply, 400, errorNote(problem));
    const r = await auth.change(peer(req), field(req, 'oldPassword', MAX_PASSWORD + 1), password);
    log(`web admin password change from ${peer(req)}: ${r.ok ? 'ok' : r.why}`);
    if (!r.ok) return passwordPage(reply, r.why === 'limited' ? 429 : 401, errorNote(r.why === 'limited' ? 'Too many attempts: wait a minute and try again.' : 'The current password is wrong.'));
    void reply.setCookie(SESSION_COOKIE, r.session, cookieOpts);
    return passwordPage(reply, 200, doneNote('Password changed; other sessions are signed out.'));
  });

  // ---- Admin → Advanced ------------------------------------------------------------------------

  const advancedPage = (reply: FastifyReply, status: number, note: Html = html``) => {
    const csrf = reply.generateCsrf();
    const params = phone.parameters();
    const names = Object.keys(params).sort();
    const mpp = phone.persona === 'mpp';
    const provisioning = mpp
      ? html`<h2>Provisioning</h2>
        <p>Setting the profile rule or the line's proxy by hand while customization is Open, Pending or Custom-Pending ends remote customization (Aborted). A masked value left as it is stays unchanged.</p>
        ${form('/admin/advanced', csrf, html`${EDITABLE.map((p) => input(p.name, `${p.label} (${p.name})`, { value: params[p.name] ?? '' }))}`, 'Submit All Changes')}`
      : html`<p>This phone is provisioned by its call manager: it has no Multiplatform parameters to set.</p>`;
    return sendPage(reply, status, { title: 'Admin: Advanced', admin: { csrf } }, html`${note}
      ${provisioning}
      <h2>Resync</h2>
      ${form('/admin/resync', csrf, html`<p>The phone reads its configuration again now.</p>`, 'Resync')}
      <h2>Lab</h2>
      ${form('/admin/wait-scale', csrf, input('waitScale', 'Wait Scale (every retry wait lasts this many times its nominal length)', { value: String(phone.waitScale()), required: true, inputmode: 'decimal' }), 'Set Wait Scale')}
      <h2>Factory Reset</h2>
      <div class="danger">${form('/admin/factory-reset', csrf, html`<p>Erases everything the phone keeps — its settings, customization state, trust lists and this admin password — and restarts it.</p>${checkbox('confirmReset', 'Yes, erase this phone')}`, 'Factory Reset')}</div>
      <h2>Parameters</h2>
      ${names.length
        ? html`<table><tbody>${names.map((n, i) => row(`param-${i}`, n, params[n]))}</tbody></table>`
        : html`<p>No parameters.</p>`}`);
  };

  app.get('/admin/advanced', async (req, reply) => ((await gate(req, reply)) ? advancedPage(reply, 200) : reply));

  app.post('/admin/advanced', async (req, reply) => {
    if (!(await gate(req, reply))) return reply;
    if (phone.persona !== 'mpp') return advancedPage(reply, 400, errorNote('This phone has no Multiplatform parameters to set.'));
    // Only what was changed goes to the phone: re-sending a masked value would set the mask,
    // and re-sending an unchanged Profile_Rule would abort customization for nothing.
    const current = phone.parameters();
    const body = (req.body ?? {}) as Record<string, unknown>;
    const changed: Record<string, string> = {};
    for (const { name } of EDITABLE) {
      const v = body[name];
      if (typeof v !== 'string') continue;
      if (v.length > MAX_VALUE) return advancedPage(reply, 400, errorNote(`${name} is longer than ${MAX_VALUE} characters.`));
      if (v !== (current[name] ?? '')) changed[name] = v;
    }
    const names = Object.keys(changed);
    if (!names.length) return advancedPage(reply, 200, doneNote('Nothing changed.'));
    const r = await phone.configure(changed, 'web');
    // Names only: values may hold keys and passwords.
    log(`web configure ${names.join(',')} from ${peer(req)}: ${r.ok ? 'ok' : `refused: ${r.error}`}`);
    return r.ok ? advancedPage(reply, 200, doneNote(`Saved ${names.join(', ')}.`)) : advancedPage(reply, 400, errorNote(`Not saved: ${r.error}`));
  });

  // Cisco documents `http://<phone>/admin/resync`. Here a GET only asks; the POST resyncs.
  app.get('/admin/resync', async (req, reply) => {
    if (!(await gate(req, reply, '/admin/resync'))) return reply;
    const withUrl = req.url.includes('?');
    return sendPage(reply, 200, adminFrame('Admin: Resync', reply), html`
      ${withUrl ? errorNote('A resync from a URL given here is not supported: the phone resyncs with its own profile rule.') : ''}
      ${form('/admin/resync', reply.generateCsrf(), html`<p>Resync the phone now?</p>`, 'Resync')}`);
  });
  app.post('/admin/resync', async (req, reply) => {
    if (!(await gate(req, reply, '/admin/resync'))) return reply;
    phone.resync();
    log(`web resync from ${peer(req)}`);
    return advancedPage(reply, 200, doneNote('Resync requested: the phone reads its configuration again.'));
  });

  app.post('/admin/wait-scale', async (req, reply) => {
    if (!(await gate(req, reply))) return reply;
    const raw = field(req, 'waitScale', 64).trim();
    const factor = Number(raw);
    if (!raw || !Number.isFinite(factor) || factor <= 0 || factor > MAX_WAIT_SCALE) {
      return advancedPage(reply, 400, errorNote(`The wait scale must be a number above 0 and at most ${MAX_WAIT_SCALE}.`));
    }
    phone.setWaitScale(factor);
    log(`web wait scale ${factor} from ${peer(req)}`);
    return advancedPage(reply, 200, doneNote(`Wait scale set to ${factor}.`));
  });

  app.post('/admin/factory-reset', async (req, reply) => {
    if (!(await gate(req, reply))) return reply;
    if (field(req, 'confirmReset') !== 'on') return advancedPage(reply, 400, errorNote('Tick "Yes, erase this phone" to factory reset it.'));
    log(`web factory reset from ${peer(req)}`);
    await phone.factoryReset();
    // NVRAM is wiped (the password with it); nobody stays signed in, even before the wipe lands.
    auth.closeAll();
    void reply.clearCookie(SESSION_COOKIE, cookieOpts);
    return sendPage(reply, 200, { title: 'Factory Reset' }, html`${doneNote('The phone is erasing its settings and restarting.')}
      <p>When it is back, <a href="/admin/">choose a new admin password</a>.</p>`);
  });
}
