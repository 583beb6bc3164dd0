/**
 * The Self-Care portal (`/ucmuser/`): an end user signs in and sees their own phones that are
 * ready to activate, each with its activation code and a QR code whose content is the 16 digits
 * (what an 8845/8865 camera reads). Another user's phones never appear, and a QR image is
 * served only to the phone's owner. The enterprise parameter "Show Phones Ready to Activate"
 * (default true) turns the list off. Every time a code is shown, the audit log records it.
 */
import type { FastifyInstance } from 'fastify';
import QRCode from 'qrcode';
import { html } from './html.ts';
import { SESSION_COOKIE, type WebContext, sendPage, sessionOf, signIn } from './web-server.ts';

const signInForm = (csrf: string, action: string, error?: string) => html`
  ${error ? html`<p class="error" role="alert">${error}</p>` : ''}
  <form method="post" action="${action}">
    <input type="hidden" name="_csrf" value="${csrf}">
    <label for="userId">User ID</label><input id="userId" name="userId" autocomplete="username" required>
    <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
    <p><button type="submit">Sign In</button></p>
  </form>`;

export function registerSelfCare(app: FastifyInstance, ctx: WebContext): void {
  const nav = (csrf: string, user: string) => html`<nav><a href="/ucmuser/phones">My phones</a><form method="post" action="/ucmuser/logout" style="display:inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Sign Out</button></form> <span>${user}</span></nav>`;

  app.get('/ucmuser/', (req, reply) => {
    if (sessionOf(ctx, req)) return reply.redirect('/ucmuser/phones');
    return sendPage(reply, 200, 'Self-Care Portal: sign in', signInForm(reply.generateCsrf(), '/ucmuser/login'));
  });

  app.post('/ucmuser/login', (req, reply) => {
    const r = signIn(ctx, req, reply, false);
    if (r.ok) return reply.redirect('/ucmuser/phones', 303);
    return sendPage(reply, 401, 'Self-Care Portal: sign in', signInForm(reply.generateCsrf(), '/ucmuser/login', r.why));
  });

  app.post('/ucmuser/logout', (req, reply) => {
    ctx.sessions.close(req.cookies[SESSION_COOKIE]);
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.redirect('/ucmuser/', 303);
  });

  app.get('/ucmuser/phones', (req, reply) => {
    const s = sessionOf(ctx, req);
    if (!s) return reply.redirect('/ucmuser/');
    const csrf = reply.generateCsrf();
    const enterprise = ctx.onboarding.enterprise();
    const show = enterprise.kind === 'ok' && enterprise.value.showPhonesReadyToActivate;
    const ready = show ? ctx.store.phonesOwnedBy(s.user).filter((d) => ctx.store.code(d)) : [];
    const from = req.socket.remoteAddress ?? '';
    const rows = ready.map((device) => {
      const code = ctx.onboarding.showCode(device, `user:${s.user}`);
      const phone = ctx.db.phone(device);
      if (code.kind !== 'ok' || !phone) return html``;
      ctx.store.audit({ at: ctx.clock.now(), actor: `user:${s.user}`, action: 'self-care-view', device, source: from, result: '' });
      return html`<tr><td>${phone.description || device}<br><small>Cisco ${phone.model}, line ${phone.dn}</small></td>
        <td><span class="code" aria-label="Activation code for ${device}">${code.value.code}</span><br><small>until ${code.value.expiresAt}</small></td>
        <td><img src="/ucmuser/qr/${device}.png" alt="QR code of the activation code for ${device}" width="164" height="164"></td></tr>`;
    });
    const body = !show
      ? html`<p>Phones ready to activate are not shown here: ask your administrator for the code.</p>`
      : ready.length
        ? html`<p>Type the code on the phone's "Enter activation code" screen, or show the QR code to its camera.</p>
          <table><thead><tr><th>Phone</th><th>Activation code</th><th>QR code</th></tr></thead><tbody>${rows}</tbody></table>`
        : html`<p>No phone of yours is waiting for activation.</p>`;
    return sendPage(reply, 200, 'Phones ready to activate', body, nav(csrf, s.user));
  });

  app.get<{ Params: { file: string } }>('/ucmuser/qr/:file', async (req, reply) => {
    const s = sessionOf(ctx, req);
    const device = /^((?:SEP|BAT)[0-9A-F]{12})\.png$/.exec(req.params.file)?.[1];
    const enterprise = ctx.onboarding.enterprise();
    const own = s && device && ctx.store.phoneOnboarding(device)?.owner === s.user && enterprise.kind === 'ok' && enterprise.value.showPhonesReadyToActivate;
    if (!own) return sendPage(reply, 404, 'Not found', html`<p><a href="/ucmuser/">Self-Care</a></p>`);
    const code = ctx.onboarding.showCode(device, `user:${s.user}`);
    if (code.kind !== 'ok') return sendPage(reply, 404, 'Not found', html`<p>No outstanding code.</p>`);
    const png = await QRCode.toBuffer(code.value.code.replace(/-/g, ''), { type: 'png', errorCorrectionLevel: 'M', margin: 2, scale: 4 });
    return reply.type('image/png').header('Cache-Control', 'no-store').send(png);
  });
}
