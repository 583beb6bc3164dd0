/**
 * The provisioning profiles page of the administration (`/ccmadmin/mpp-profiles`), for admin
 * accounts: pick a MAC, see the flat profile the companion serves it on HTTP 6970 under /mpp/
 * (generated from the database, an upload merged over it; passwords and keys masked), upload a
 * profile to merge, set or remove the key it is served encrypted with, clear the upload. The
 * web face of `sepi cm profile set|show|clear` (src/cm/edos/operations.ts): labelled fields,
 * every value escaped, every form with its CSRF token.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Outcome } from '../admin/contract.ts';
import { type Html, form, html } from './html.ts';
import { type WebContext, sendPage, sessionOf } from './web-server.ts';

type Body = Record<string, string | undefined>;
const MAX_PROFILE_CHARS = 1_000_000;

const note = (o: Outcome<unknown>, done: string) => (o.kind === 'ok' ? html`<p class="note" role="status">${done}</p>` : html`<p class="error" role="alert">${o.message}</p>`);

export function registerProfilePage(app: FastifyInstance, ctx: WebContext, nav: (csrf: string, user: string) => Html): void {
  const admin = (req: FastifyRequest, reply: FastifyReply) => {
    const s = sessionOf(ctx, req);
    if (s?.admin) return s;
    void reply.redirect('/ccmadmin/', 303);
    return undefined;
  };

  const profilePage = (req: FastifyRequest, reply: FastifyReply, mac: string, status = 200, message: Html = html``) => {
    const s = admin(req, reply);
    if (!s) return reply;
    const csrf = reply.generateCsrf();
    const shown = mac ? ctx.mpp.showProfile(mac) : undefined;
    const v = shown?.kind === 'ok' ? shown.value : undefined;
    const detail = v
      ? html`<h2>${v.deviceName ?? v.mac}</h2>
        <p>${v.served ? (v.encrypted ? 'Served encrypted with its key.' : 'Served in the clear.') : 'Not served: the companion answers 404 (unknown MAC, autoregistration off, nothing uploaded).'}
          ${v.uploaded ? 'An uploaded profile is merged over the generated one.' : 'Generated from the database only.'}${v.note ? html` ${v.note}` : ''}</p>
        <table><thead><tr><th>Parameter</th><th>Value</th><th>ua</th></tr></thead><tbody>
          ${Object.entries(v.params).map(([k, p]) => html`<tr><td>${k}</td><td><code>${p.value}</code></td><td>${p.ua ?? ''}</td></tr>`)}
        </tbody></table>
        <h2>Upload a profile or set its key</h2>
        ${form('/ccmadmin/mpp-profiles', csrf, html`<input type="hidden" name="mac" value="${v.mac}">
          <label for="profile">Profile to merge (flat-profile XML; empty: keep the upload)</label><textarea id="profile" name="profile" rows="8"></textarea>
          <label for="key">Key (the profile is served encrypted with it; empty: keep the key)</label><input id="key" name="key" type="password" autocomplete="off">
          <label for="noKey"><input id="noKey" name="noKey" type="checkbox" value="on"> Serve it in the clear (remove the key)</label>`, 'Save Profile')}
        ${form('/ccmadmin/mpp-profiles/clear', csrf, html`<input type="hidden" name="mac" value="${v.mac}">`, 'Clear Upload and Key')}`
      : shown
        ? note(shown, '')
        : html``;
    return sendPage(reply, status, 'Provisioning profiles (Multiplatform)', html`${message}
      <p>What a Multiplatform phone gets from <code>/mpp/$PSN/$MA.xml</code> on HTTP 6970.</p>
      <form method="get" action="/ccmadmin/mpp-profiles"><label for="showMac">MAC Address</label><input id="showMac" name="mac" required value="${mac}" placeholder="0022905c1a2b"><p><button type="submit">Show</button></p></form>
      ${detail}`, nav(csrf, s.user));
  };

  app.get('/ccmadmin/mpp-profiles', (req, reply) => profilePage(req, reply, String((req.query as Body)['mac'] ?? '').slice(0, 64)));
  app.post('/ccmadmin/mpp-profiles', (req, reply) => {
    if (!admin(req, reply)) return reply;
    const b = req.body as Body;
    const mac = (b['mac'] ?? '').slice(0, 64);
    const text = b['profile'] ?? '';
    if (text.length > MAX_PROFILE_CHARS) return profilePage(req, reply, mac, 413, html`<p class="error" role="alert">The profile is larger than ${String(MAX_PROFILE_CHARS)} characters.</p>`);
    const key = b['noKey'] === 'on' ? '' : b['key'] || undefined;
    const r = ctx.mpp.setProfile(mac, { ...(text.trim() ? { profile: Buffer.from(text, 'utf8').toString('base64') } : {}), ...(key !== undefined ? { key } : {}) });
    return profilePage(req, reply, mac, r.kind === 'ok' ? 200 : 400, note(r, `Saved for ${mac}.`));
  });
  app.post('/ccmadmin/mpp-profiles/clear', (req, reply) => {
    if (!admin(req, reply)) return reply;
    const mac = ((req.body as Body)['mac'] ?? '').slice(0, 64);
    const r = ctx.mpp.clearProfile(mac);
    return profilePage(req, reply, mac, r.kind === 'ok' ? 200 : 400, note(r, r.kind === 'ok' && r.value.cleared ? `Cleared the upload and key of ${mac}.` : `${mac} had no upload or key.`));
  });
}
