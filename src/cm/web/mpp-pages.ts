/**
 * The EDOS page of the administration (`/ccmadmin/edos`), for accounts with the admin flag: the
 * rules the EDOS stand-in answers by (per MAC, per model), how often each MAC asked since the
 * companion started, a form to set the answer for a MAC, and a Clear button per rule. The web
 * face of `sepi cm edos set|clear|list` (src/cm/edos/operations.ts): labelled fields, every
 * value escaped, every form with its CSRF token.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Outcome } from '../admin/contract.ts';
import type { EdosRuleRequest } from '../edos/contract.ts';
import { EDOS_FAULTS } from '../edos/store.ts';
import { type Html, form, html } from './html.ts';
import { registerProfilePage } from './mpp-profile-page.ts';
import { type WebContext, sendPage, sessionOf } from './web-server.ts';

type Body = Record<string, string | undefined>;

const ANSWERS: Array<[string, string]> = [
  ['redirect', 'Redirect to the provisioning URL below'],
  ['none', 'No provider (200, empty)'],
  ...EDOS_FAULTS.map((f): [string, string] => [`fault-${f}`, `Fault: ${f === 'timeout' ? 'no answer (timeout)' : f === 'tls' ? 'TLS failure' : `HTTP ${f}`}`]),
];

const note = (o: Outcome<unknown>, done: string) => (o.kind === 'ok' ? html`<p class="note" role="status">${done}</p>` : html`<p class="error" role="alert">${o.message}</p>`);

export function registerMppPages(app: FastifyInstance, ctx: WebContext): void {
  const nav = (csrf: string, user: string) => html`<nav><a href="/ccmadmin/phones">Phones</a><a href="/ccmadmin/device-defaults">Device Defaults</a><a href="/ccmadmin/users">Users</a><a href="/ccmadmin/bulk">Bulk Administration</a><a href="/ccmadmin/edos">EDOS</a><a href="/ccmadmin/mpp-profiles">Profiles</a><a href="/ccmadmin/audit">Audit Log</a><form method="post" action="/ccmadmin/logout" style="display:inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Sign Out</button></form> <span>${user}</span></nav>`;
  const admin = (req: FastifyRequest, reply: FastifyReply) => {
    const s = sessionOf(ctx, req);
    if (s?.admin) return s;
    void reply.redirect('/ccmadmin/', 303);
    return undefined;
  };

  const edosPage = (req: FastifyRequest, reply: FastifyReply, status = 200, message: Html = html``) => {
    const s = admin(req, reply);
    if (!s) return reply;
    const csrf = reply.generateCsrf();
    const list = ctx.mpp.listRules();
    const v = list.kind === 'ok' ? list.value : undefined;
    const rows = (v?.rules ?? []).map((r) => html`<tr><td>${r.scope === 'mac' ? 'MAC' : 'Model'}</td><td>${r.target}</td>
      <td>${r.answer === 'redirect' ? html`redirect: <code>${r.profileRule}</code>` : r.answer === 'none' ? 'no provider' : html`fault ${r.fault}`}</td>
      <td>${r.scope === 'mac' ? String(v?.requests[r.target] ?? 0) : ''}</td><td>${r.updatedAt}</td>
      <td>${form('/ccmadmin/edos/clear', csrf, html`<input type="hidden" name="scope" value="${r.scope}"><input type="hidden" name="target" value="${r.target}">`, `Clear ${r.target}`)}</td></tr>`);
    const others = Object.entries(v?.requests ?? {}).filter(([mac]) => !v?.rules.some((r) => r.scope === 'mac' && r.target === mac));
    return sendPage(reply, status, 'EDOS (Multiplatform remote customization)', html`${message}
      <p>${v?.running ? html`The EDOS stand-in answers at <code>${v.edosUrl}</code>.` : 'The EDOS stand-in is not running (it runs when the configuration has an edos section).'}
        A phone with no rule for its MAC or its model gets "no provider".</p>
      <table><thead><tr><th>For</th><th>Which</th><th>Answer</th><th>Requests</th><th>Changed</th><th>Clear</th></tr></thead><tbody>${rows}</tbody></table>
      ${others.length ? html`<h2>Phones that asked with no rule of their own</h2><table><thead><tr><th>MAC</th><th>Requests</th></tr></thead><tbody>${others.map(([mac, n]) => html`<tr><td>${mac}</td><td>${String(n)}</td></tr>`)}</tbody></table>` : ''}
      <h2>Set the answer for a phone</h2>
      ${form('/ccmadmin/edos', csrf, html`<label for="mac">MAC Address</label><input id="mac" name="mac" required placeholder="0022905c1a2b">
        <label for="answer">Answer</label><select id="answer" name="answer">${ANSWERS.map(([value, text]) => html`<option value="${value}">${text}</option>`)}</select>
        <label for="profileRule">Provisioning URL (Profile_Rule, for a redirect)</label><input id="profileRule" name="profileRule" size="60" placeholder="http://10.0.0.1:6970/mpp/$PSN/$MA.xml">`, 'Save')}`, nav(csrf, s.user));
  };

  registerProfilePage(app, ctx, nav);
  app.get('/ccmadmin/edos', (req, reply) => edosPage(req, reply));
  app.post('/ccmadmin/edos', (req, reply) => {
    if (!admin(req, reply)) return reply;
    const b = req.body as Body;
    const answer = b['answer'] ?? '';
    const request: EdosRuleRequest = {
      mac: b['mac'] ?? '',
      ...(answer === 'redirect' ? { profileRule: b['profileRule'] ?? '' } : answer === 'none' ? { none: true } : { fault: answer.replace(/^fault-/, '') }),
    };
    const r = ctx.mpp.setRule(request);
    return edosPage(req, reply, r.kind === 'ok' ? 200 : 400, note(r, r.kind === 'ok' ? `Saved the answer for ${r.value.target}.` : ''));
  });
  app.post('/ccmadmin/edos/clear', (req, reply) => {
    if (!admin(req, reply)) return reply;
    const b = req.body as Body;
    const scope = b['scope'] === 'model' ? 'model' : 'mac';
    const r = ctx.mpp.clearRule(scope, b['target'] ?? '');
    return edosPage(req, reply, r.kind === 'ok' ? 200 : 400, note(r, r.kind === 'ok' && r.value.cleared ? `Cleared the rule for ${b['target'] ?? ''}.` : `There was no rule for ${b['target'] ?? ''}.`));
  });
}
