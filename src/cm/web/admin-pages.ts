/**
 * Administration pages (`/ccmadmin/`), for accounts with the admin flag: phones (add one, with
 * or without a MAC, requiring a code or not; the code shown once), Device Defaults and the
 * Self-Care enterprise parameter, users, Bulk Administration (templates, CSV insert), the code
 * export as CSV, and the audit log. Each form is the web face of an operation `sepi cm` has.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PHONE_MODELS } from '../../wire/models.ts';
import { ACTIVATION_MODELS } from '../activation/device-activation.ts';
import type { Outcome } from '../admin/contract.ts';
import { type Html, form, html } from './html.ts';
import { SESSION_COOKIE, type WebContext, sendPage, sessionOf, signIn } from './web-server.ts';

type Body = Record<string, string | undefined>;

const field = (id: string, label: string, input: Html) => html`<label for="${id}">${label}</label>${input}`;
const text = (id: string, label: string, o: { required?: boolean; value?: string } = {}) => field(id, label, html`<input id="${id}" name="${id}" value="${o.value ?? ''}" ${o.required ? html`required` : ''}>`);
const check = (id: string, label: string, checked = false) => html`<label><input type="checkbox" id="${id}" name="${id}" value="on" ${checked ? html`checked` : ''}> ${label}</label>`;
const select = (id: string, label: string, options: Array<[string, string]>, value?: string) =>
  field(id, label, html`<select id="${id}" name="${id}">${options.map(([v, t]) => html`<option value="${v}" ${v === value ? html`selected` : ''}>${t}</option>`)}</select>`);
const models = () => [...new Set([...PHONE_MODELS.keys(), ...ACTIVATION_MODELS])].sort().map((m): [string, string] => [m, `Cisco ${m}`]);
const outcomeNote = (o: Outcome<unknown>, done: string) => (o.kind === 'ok' ? html`<p class="note" role="status">${done}</p>` : html`<p class="error" role="alert">${o.message}</p>`);

export function registerAdminPages(app: FastifyInstance, ctx: WebContext): void {
  const nav = (csrf: string, user: string) => html`<nav><a href="/ccmadmin/phones">Phones</a><a href="/ccmadmin/device-defaults">Device Defaults</a><a href="/ccmadmin/users">Users</a><a href="/ccmadmin/universal-templates">Universal Templates</a><a href="/ccmadmin/bulk">Bulk Administration</a><a href="/ccmadmin/edos">EDOS</a><a href="/ccmadmin/mpp-profiles">Profiles</a><a href="/ccmadmin/codes.csv">Export Activation Codes</a><a href="/ccmadmin/audit">Audit Log</a><form method="post" action="/ccmadmin/logout" style="display:inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Sign Out</button></form> <span>${user}</span></nav>`;
  /** The admin's session, or a redirect to the sign-in page. */
  const admin = (req: FastifyRequest, reply: FastifyReply) => {
    const s = sessionOf(ctx, req);
    if (s?.admin) return s;
    void reply.redirect('/ccmadmin/', 303);
    return undefined;
  };
  const signInPage = (reply: FastifyReply, status: number, error?: string) =>
    sendPage(reply, status, 'Cisco Unified CM Administration (sepi): sign in', html`${error ? html`<p class="error" role="alert">${error}</p>` : ''}
      ${form('/ccmadmin/login', reply.generateCsrf(), html`${field('userId', 'User ID', html`<input id="userId" name="userId" autocomplete="username" required>`)}${field('password', 'Password', html`<input id="password" name="password" type="password" autocomplete="current-password" required>`)}`, 'Sign In')}`);

  app.get('/ccmadmin/', (req, reply) => (sessionOf(ctx, req)?.admin ? reply.redirect('/ccmadmin/phones') : signInPage(reply, 200)));
  app.post('/ccmadmin/login', (req, reply) => {
    const r = signIn(ctx, req, reply, true);
    return r.ok ? reply.redirect('/ccmadmin/phones', 303) : signInPage(reply, 401, r.why);
  });
  app.post('/ccmadmin/logout', (req, reply) => {
    ctx.sessions.close(req.cookies[SESSION_COOKIE]);
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.redirect('/ccmadmin/', 303);
  });

  const phonesPage = (req: FastifyRequest, reply: FastifyReply, note: Html = html``) => {
    const s = admin(req, reply);
    if (!s) return reply;
    const csrf = reply.generateCsrf();
    const list = ctx.phones.list();
    const rows = list.kind === 'ok' ? list.value.map((p) => html`<tr><td>${p.deviceName}</td><td>${p.model}</td><td>${p.dn}</td><td>${p.owner ?? ''}</td><td>${p.requiresActivationCode ? 'waiting for its activation code' : p.registered ? 'registered' : 'not registered'}</td><td>${p.description}</td></tr>`) : [];
    const users = ctx.store.users().filter((u) => !u.admin).map((u): [string, string] => [u.id, u.id]);
    return sendPage(reply, 200, 'Phones', html`${note}
      <table><thead><tr><th>Device Name</th><th>Model</th><th>Directory Number</th><th>Owner</th><th>Status</th><th>Description</th></tr></thead><tbody>${rows}</tbody></table>
      <h2>Add a New Phone</h2>
      ${form('/ccmadmin/phones', csrf, html`${select('model', 'Phone Type', models(), '8841')}
        ${text('mac', 'MAC Address (blank: a BAT device, activated by code)')}${text('dn', 'Directory Number')}${text('description', 'Description')}
        ${select('owner', 'Owner User ID', [['', '(none)'], ...users])}${check('requireActivationCode', 'Requires Activation Code for Onboarding', true)}`, 'Save')}`, nav(csrf, s.user));
  };
  app.get('/ccmadmin/phones', (req, reply) => phonesPage(req, reply));
  app.post('/ccmadmin/phones', (req, reply) => {
    if (!admin(req, reply)) return reply;
    const b = req.body as Body;
    const added = ctx.phones.add({
      model: String(b['model'] ?? ''), ...(b['mac'] ? { mac: b['mac'] } : {}), ...(b['dn'] ? { dn: b['dn'] } : {}), description: b['description'] ?? '',
      ...(b['owner'] ? { owner: b['owner'] } : {}), ...(b['requireActivationCode'] === 'on' ? { requireActivationCode: true } : {}),
    });
    const note = added.kind === 'ok'
      ? html`<p class="note" role="status">Added ${added.value.deviceName}${added.value.activationCode ? html`; activation code <span class="code">${added.value.activationCode.code}</span> until ${added.value.activationCode.expiresAt} (shown once here; its owner sees it in Self-Care)` : ''}.</p>`
      : html`<p class="error" role="alert">${added.message}</p>`;
    return phonesPage(req, reply, note);
  });

  const defaultsPage = (req: FastifyRequest, reply: FastifyReply, note: Html = html``) => {
    const s = admin(req, reply);
    if (!s) return reply;
    const csrf = reply.generateCsrf();
    const d = ctx.onboarding.deviceDefaults();
    const rows = d.kind === 'ok' ? d.value.map((x) => html`<tr><td>Cisco ${x.model}</td><td>${x.onboarding === 'activation-code' ? 'Activation Code' : 'Auto Registration'}</td></tr>`) : [];
    const e = ctx.onboarding.enterprise();
    const show = e.kind === 'ok' && e.value.showPhonesReadyToActivate;
    return sendPage(reply, 200, 'Device Defaults', html`${note}
      <table><thead><tr><th>Device Type</th><th>On-Premise Onboarding Method</th></tr></thead><tbody>${rows}</tbody></table>
      ${form('/ccmadmin/device-defaults', csrf, html`${select('model', 'Device Type', [...ACTIVATION_MODELS].sort().map((m): [string, string] => [m, `Cisco ${m}`]), '8841')}
        ${select('onboarding', 'On-Premise Onboarding Method', [['auto-registration', 'Auto Registration'], ['activation-code', 'Activation Code']])}`, 'Save')}
      <h2>Enterprise Parameters</h2>
      ${form('/ccmadmin/enterprise', csrf, check('showReady', 'Show Phones Ready to Activate (Self-Care Portal)', show), 'Save')}`, nav(csrf, s.user));
  };
  app.get('/ccmadmin/device-defaults', (req, reply) => defaultsPage(req, reply));
  app.post('/ccmadmin/device-defaults', (req, reply) => {
    if (!admin(req, reply)) return reply;
    const b = req.body as Body;
    const onboarding = b['onboarding'] === 'activation-code' ? 'activation-code' : 'auto-registration';
    return defaultsPage(req, reply, outcomeNote(ctx.onboarding.setDeviceDefault({ model: String(b['model'] ?? ''), onboarding }), 'Saved.'));
  });
  app.post('/ccmadmin/enterprise', (req, reply) => {
    if (!admin(req, reply)) return reply;
    const r = ctx.onboarding.setEnterprise({ showPhonesReadyToActivate: (req.body as Body)['showReady'] === 'on' });
    return defaultsPage(req, reply, outcomeNote(r, 'Saved.'));
  });

  const usersPage = (req: FastifyRequest, reply: FastifyReply, note: Html = html``) => {
    const s = admin(req, reply);
    if (!s) return reply;
    const csrf = reply.generateCsrf();
    const list = ctx.onboarding.users();
    const rows = list.kind === 'ok' ? list.value.map((u) => html`<tr><td>${u.id}</td><td>${u.name}</td><td>${u.primaryDn}</td><td>${u.admin ? 'administrator' : 'end user'}</td><td>${u.phones.join(', ')}</td></tr>`) : [];
    return sendPage(reply, 200, 'Users', html`${note}
      <table><thead><tr><th>User ID</th><th>Name</th><th>Primary Extension</th><th>Kind</th><th>Phones</th></tr></thead><tbody>${rows}</tbody></table>
      <h2>Add a New End User</h2>
      ${form('/ccmadmin/users', csrf, html`${text('id', 'User ID', { required: true })}${text('name', 'Name')}
        ${field('newPassword', 'Password', html`<input id="newPassword" name="newPassword" type="password" autocomplete="new-password" required>`)}
        ${field('pin', 'PIN', html`<input id="pin" name="pin" type="password" inputmode="numeric" autocomplete="off">`)}${text('primaryDn', 'Primary Extension')}`, 'Save')}`, nav(csrf, s.user));
  };
  app.get('/ccmadmin/users', (req, reply) => usersPage(req, reply));
  app.post('/ccmadmin/users', (req, reply) => {
    if (!admin(req, reply)) return reply;
    const b = req.body as Body;
    const r = ctx.onboarding.addUser({ id: b['id'] ?? '', password: b['newPassword'] ?? '', ...(b['pin'] ? { pin: b['pin'] } : {}), ...(b['name'] ? { name: b['name'] } : {}), ...(b['primaryDn'] ? { primaryDn: b['primaryDn'] } : {}) });
    return usersPage(req, reply, outcomeNote(r, `Added ${b['id'] ?? ''}.`));
  });

  const bulkPage = (req: FastifyRequest, reply: FastifyReply, note: Html = html``) => {
    const s = admin(req, reply);
    if (!s) return reply;
    const csrf = reply.generateCsrf();
    const t = ctx.bulk.templates();
    const templates = t.kind === 'ok' ? t.value.map((x): [string, string] => [x.name, `${x.name} (Cisco ${x.model}${x.requireActivationCode ? ', activation code' : ''})`]) : [];
    return sendPage(reply, 200, 'Bulk Administration', html`${note}
      <h2>Phone Template</h2>
      ${form('/ccmadmin/templates', csrf, html`${text('name', 'Template Name', { required: true })}${select('model', 'Phone Type', models(), '8841')}${text('devicePool', 'Device Pool', { value: 'Default' })}
        ${check('requireActivationCode', 'Requires Activation Code for Onboarding', true)}`, 'Save')}
      <h2>Insert Phones</h2>
      ${form('/ccmadmin/bulk', csrf, html`${select('template', 'Phone Template Name', templates)}
        ${field('csv', 'CSV File (MAC ADDRESS, DESCRIPTION, OWNER USER ID, DIRECTORY NUMBER 1)', html`<textarea id="csv" name="csv" rows="8" required></textarea>`)}
        ${check('dummyMac', 'Create Dummy MAC Address')}`, 'Insert')}`, nav(csrf, s.user));
  };
  app.get('/ccmadmin/bulk', (req, reply) => bulkPage(req, reply));
  app.post('/ccmadmin/templates', (req, reply) => {
    if (!admin(req, reply)) return reply;
    const b = req.body as Body;
    const r = ctx.bulk.addTemplate({ name: b['name'] ?? '', model: b['model'] ?? '', ...(b['devicePool'] ? { devicePool: b['devicePool'] } : {}), requireActivationCode: b['requireActivationCode'] === 'on' });
    return bulkPage(req, reply, outcomeNote(r, `Saved template ${b['name'] ?? ''}.`));
  });
  app.post('/ccmadmin/bulk', (req, reply) => {
    if (!admin(req, reply)) return reply;
    const b = req.body as Body;
    const r = ctx.bulk.insert({ csv: b['csv'] ?? '', template: b['template'] ?? '', dummyMac: b['dummyMac'] === 'on' });
    const note = r.kind === 'ok'
      ? html`<p class="note" role="status">Inserted ${r.value.count} phone(s).</p><table><tbody>${r.value.phones.map((p) => html`<tr><td>${p.deviceName}</td><td>${p.dn}</td><td class="code">${p.activationCode ?? ''}</td></tr>`)}</tbody></table>`
      : html`<p class="error" role="alert">${r.message}</p>`;
    return bulkPage(req, reply, note);
  });

  app.get('/ccmadmin/codes.csv', (req, reply) => {
    if (!admin(req, reply)) return reply;
    const r = ctx.onboarding.exportCodes();
    if (r.kind !== 'ok') return sendPage(reply, 500, 'Error', html`<p class="error">${r.message}</p>`);
    return reply.type('text/csv; charset=utf-8').header('Content-Disposition', 'attachment; filename="activation-codes.csv"').header('Cache-Control', 'no-store').send(r.value.csv);
  });

  app.get('/ccmadmin/audit', (req, reply) => {
    const s = admin(req, reply);
    if (!s) return reply;
    const rows = ctx.store.auditLog(500).map((e) => html`<tr><td>${new Date(e.at).toISOString()}</td><td>${e.actor}</td><td>${e.action}</td><td>${e.device}</td><td>${e.source}</td><td>${e.result}</td></tr>`);
    return sendPage(reply, 200, 'Audit Log', html`<table><thead><tr><th>When</th><th>Who</th><th>What</th><th>Device</th><th>From</th><th>Result</th></tr></thead><tbody>${rows}</tbody></table>`, nav(reply.generateCsrf(), s.user));
  });
}
