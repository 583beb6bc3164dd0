/**
 * The universal templates page of the administration (`/ccmadmin/universal-templates`), for
 * accounts with the admin flag: universal device templates, universal line templates, user
 * profiles naming them, a user given a profile, and the templates autoregistration applies
 * (System > Cisco Unified CM). The web face of `sepi cm udt|ult|user-profile|autoregistration`
 * and `user set --profile` (src/cm/templates/operations.ts): labelled fields, every value
 * escaped, every form with its CSRF token.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Outcome } from '../admin/contract.ts';
import type { IvrOperations } from '../ivr/operations.ts';
import type { TemplateOperations } from '../templates/operations.ts';
import { parseSpeedDials } from '../templates/apply.ts';
import { type Html, form, html } from './html.ts';
import { type WebContext, sendPage, sessionOf } from './web-server.ts';

type Body = Record<string, string | undefined>;

export const TEMPLATES_PATH = '/ccmadmin/universal-templates';

const field = (id: string, label: string, input: Html) => html`<label for="${id}">${label}</label>${input}`;
const text = (id: string, label: string, o: { required?: boolean; value?: string } = {}) => field(id, label, html`<input id="${id}" name="${id}" value="${o.value ?? ''}" ${o.required ? html`required` : ''}>`);
const select = (id: string, label: string, options: Array<[string, string]>, value?: string) =>
  field(id, label, html`<select id="${id}" name="${id}">${options.map(([v, t]) => html`<option value="${v}" ${v === value ? html`selected` : ''}>${t}</option>`)}</select>`);
const note = (o: Outcome<unknown>, done: string) => (o.kind === 'ok' ? html`<p class="note" role="status">${done}</p>` : html`<p class="error" role="alert">${o.message}</p>`);
const listOf = <T>(o: Outcome<T[]>): T[] => (o.kind === 'ok' ? o.value : []);
/** A form's optional text field: absent when left blank, so `add` on an existing name keeps it. */
const given = (b: Body, k: string) => (b[k] ? { [k]: b[k] } : {});

export function registerTemplatePages(app: FastifyInstance, ctx: WebContext & { templates: TemplateOperations; ivr: IvrOperations }): void {
  const t = ctx.templates;
  const nav = (csrf: string, user: string) => html`<nav><a href="/ccmadmin/phones">Phones</a><a href="/ccmadmin/users">Users</a><a href="${TEMPLATES_PATH}">Universal Templates</a><a href="/ccmadmin/bulk">Bulk Administration</a><a href="/ccmadmin/audit">Audit Log</a><form method="post" action="/ccmadmin/logout" style="display:inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Sign Out</button></form> <span>${user}</span></nav>`;
  const admin = (req: FastifyRequest, reply: FastifyReply) => {
    const s = sessionOf(ctx, req);
    if (s?.admin) return s;
    void reply.redirect('/ccmadmin/', 303);
    return undefined;
  };

  const templatesPage = (req: FastifyRequest, reply: FastifyReply, message: Html = html``) => {
    const s = admin(req, reply);
    if (!s) return reply;
    const csrf = reply.generateCsrf();
    const udts = listOf(t.deviceTemplates());
    const ults = listOf(t.lineTemplates());
    const profiles = listOf(t.profiles());
    const users = ctx.store.users().filter((u) => !u.admin).map((u): [string, string] => [u.id, u.name ? `${u.id} (${u.name})` : u.id]);
    const auto = t.autoRegistration();
    const a = auto.kind === 'ok' ? auto.value : undefined;
    const none: [string, string] = ['', '(none)'];
    const udtOptions = [none, ...udts.map((x): [string, string] => [x.name, x.name])];
    const ultOptions = [none, ...ults.map((x): [string, string] => [x.name, x.name])];
    return sendPage(reply, 200, 'Universal Templates', html`${message}
      <h2>Universal Device Templates</h2>
      <table><thead><tr><th>Name</th><th>Description</th><th>Device Pool</th><th>Speed Dials</th></tr></thead><tbody>${udts.map((x) => html`<tr><td>${x.name}</td><td>${x.description}</td><td>${x.devicePool}</td><td>${x.speedDials.map((d) => `${d.number} (${d.label})`).join(', ')}</td></tr>`)}</tbody></table>
      ${form(`${TEMPLATES_PATH}/udt`, csrf, html`${text('udtName', 'Device Template Name', { required: true })}${text('description', 'Device Description (#FirstName# #LastName# #UserID# #Product# #Protocol# #DN# #DeviceName#)')}
        ${text('devicePool', 'Device Pool')}${text('speedDials', 'Speed Dials (NUMBER=LABEL, separated by commas)')}`, 'Save Device Template')}
      <h2>Universal Line Templates</h2>
      <table><thead><tr><th>Name</th><th>Display Name</th><th>Line Text Label</th><th>External Phone Number Mask</th></tr></thead><tbody>${ults.map((x) => html`<tr><td>${x.name}</td><td>${x.displayName}</td><td>${x.label}</td><td>${x.externalMask}</td></tr>`)}</tbody></table>
      ${form(`${TEMPLATES_PATH}/ult`, csrf, html`${text('ultName', 'Line Template Name', { required: true })}${text('displayName', 'Display Name (Alerting Name)')}
        ${text('label', 'Line Text Label')}${text('externalMask', 'External Phone Number Mask')}`, 'Save Line Template')}
      <h2>User Profiles</h2>
      <table><thead><tr><th>Name</th><th>Universal Device Template</th><th>Universal Line Template</th><th>Self-Provisioning</th><th>Limit</th><th>Users</th></tr></thead><tbody>${profiles.map((p) => html`<tr><td>${p.name}</td><td>${p.deviceTemplate ?? ''}</td><td>${p.lineTemplate ?? ''}</td><td>${p.selfProvisioning ? 'allowed' : 'not allowed'}</td><td>${p.limit}</td><td>${p.users.join(', ')}</td></tr>`)}</tbody></table>
      ${form(`${TEMPLATES_PATH}/profile`, csrf, html`${text('profileName', 'User Profile Name', { required: true })}
        ${select('profileDeviceTemplate', 'Profile Universal Device Template', udtOptions)}${select('profileLineTemplate', 'Profile Universal Line Template', ultOptions)}
        <label><input type="checkbox" id="selfProvisioning" name="selfProvisioning" value="on"> Allow End User to Provision their own phones</label>
        ${text('limit', 'Limit for the Number of Phones a User Can Provision', { value: '10' })}`, 'Save User Profile')}
      ${form(`${TEMPLATES_PATH}/assign`, csrf, html`${select('userId', 'End User', users)}${select('userProfile', 'User Profile of the End User', [none, ...profiles.map((p): [string, string] => [p.name, p.name])])}`, 'Assign User Profile')}
      <h2>Autoregistration (System &gt; Cisco Unified CM)</h2>
      <p>${a?.enabled ? `Autoregistration is on: directory numbers ${a.dnRange![0]} to ${a.dnRange![1]}.` : 'Autoregistration is off (the configuration file).'}</p>
      ${form(`${TEMPLATES_PATH}/autoregistration`, csrf, html`${select('autoDeviceTemplate', 'Autoregistration Universal Device Template', udtOptions, a?.deviceTemplate ?? '')}
        ${select('autoLineTemplate', 'Autoregistration Universal Line Template', ultOptions, a?.lineTemplate ?? '')}`, 'Save Autoregistration')}`, nav(csrf, s.user));
  };

  app.get(TEMPLATES_PATH, (req, reply) => templatesPage(req, reply));
  app.post(`${TEMPLATES_PATH}/udt`, (req, reply) => {
    if (!admin(req, reply)) return reply;
    const b = req.body as Body;
    const dials = b['speedDials'] ? parseSpeedDials(b['speedDials']) : undefined;
    if (typeof dials === 'string') return templatesPage(req, reply, html`<p class="error" role="alert">Speed dials: ${dials}</p>`);
    const r = t.addDeviceTemplate({ name: b['udtName'] ?? '', ...given(b, 'description'), ...given(b, 'devicePool'), ...(dials ? { speedDials: dials } : {}) });
    return templatesPage(req, reply, note(r, `Saved device template ${b['udtName'] ?? ''}.`));
  });
  app.post(`${TEMPLATES_PATH}/ult`, (req, reply) => {
    if (!admin(req, reply)) return reply;
    const b = req.body as Body;
    const r = t.addLineTemplate({ name: b['ultName'] ?? '', ...given(b, 'displayName'), ...given(b, 'label'), ...given(b, 'externalMask') });
    return templatesPage(req, reply, note(r, `Saved line template ${b['ultName'] ?? ''}.`));
  });
  app.post(`${TEMPLATES_PATH}/profile`, (req, reply) => {
    if (!admin(req, reply)) return reply;
    const b = req.body as Body;
    const limit = b['limit'] ?? '';
    if (limit !== '' && !/^\d{1,5}$/.test(limit)) return templatesPage(req, reply, html`<p class="error" role="alert">The limit is a number of phones.</p>`);
    const r = t.addProfile({
      name: b['profileName'] ?? '', deviceTemplate: b['profileDeviceTemplate'] || null, lineTemplate: b['profileLineTemplate'] || null,
      selfProvisioning: b['selfProvisioning'] === 'on', ...(limit !== '' ? { limit: Number(limit) } : {}),
    });
    return templatesPage(req, reply, note(r, `Saved user profile ${b['profileName'] ?? ''}.`));
  });
  app.post(`${TEMPLATES_PATH}/assign`, (req, reply) => {
    if (!admin(req, reply)) return reply;
    const b = req.body as Body;
    const r = ctx.ivr.setUser(b['userId'] ?? '', { profile: b['userProfile'] || null });
    return templatesPage(req, reply, note(r, `${b['userId'] ?? ''} has user profile ${b['userProfile'] || '(none)'}.`));
  });
  app.post(`${TEMPLATES_PATH}/autoregistration`, (req, reply) => {
    if (!admin(req, reply)) return reply;
    const b = req.body as Body;
    const r = t.setAutoRegistration({ deviceTemplate: b['autoDeviceTemplate'] || null, lineTemplate: b['autoLineTemplate'] || null });
    return templatesPage(req, reply, note(r, 'Saved the autoregistration templates.'));
  });
}
