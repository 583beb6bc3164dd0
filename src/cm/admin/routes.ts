/**
 * The admin API's routes, version 1 (docs/protocols/admin-api.md), as one table: method, path,
 * the status of a success, the schemas Fastify checks the path and body against, and the
 * operation that answers. Statuses for everything else come from errors.ts.
 *
 *   GET    /v1/status
 *   GET    /v1/phones                  POST   /v1/phones {mac | deviceName, model, dn?, …}
 *   GET    /v1/phones/:device          DELETE /v1/phones/:device
 *   POST   /v1/phones/:device/reset {action?: "reset" | "restart"}
 *   POST   /v1/phones/:device/certificate {operation?, auth?, authString?, keySize?, encryptedConfig?}
 *   GET    /v1/phones/:device/code     POST   /v1/phones/:device/code {action: "new" | "release"}
 *   GET    /v1/codes (CSV export)      GET    /v1/device-defaults   POST /v1/device-defaults {model, onboarding}
 *   GET    /v1/users                   POST   /v1/users {id, password, pin?, name?, primaryDn?}
 *   GET    /v1/audit                   GET    /v1/enterprise        POST /v1/enterprise {showPhonesReadyToActivate?}
 *   POST   /v1/trust/manufacturing {pem}
 *   POST   /v1/phones/:device/mac {mac | null}
 *   GET    /v1/templates               POST   /v1/templates {name, model, devicePool?, requireActivationCode?, owner?}
 *   POST   /v1/bat/insert {csv, template, dummyMac?}
 *   GET    /v1/trust                   GET    /v1/trust/certificates/:role
 *   POST   /v1/trust/import {pem, roles, note?}    POST /v1/trust/rotate-tftp
 *   POST   /v1/trust/rollback {enabled}
 *   GET    /v1/edos/rules              POST   /v1/edos/rules {mac | model, profileRule | none | fault}
 *   DELETE /v1/edos/rules/:scope/:target
 *   GET    /v1/mpp/profiles/:mac       POST   /v1/mpp/profiles/:mac {profile?, key?}   DELETE /v1/mpp/profiles/:mac
 *   GET    /v1/loads                   POST   /v1/loads {paths}
 *   POST   /v1/device-defaults/load {model, load}    POST /v1/phones/:device/load {load}
 *   GET    /v1/ivr                     POST   /v1/ivr {extension?, auth?, authCode?, template?}
 *   GET    /v1/users/:id/provisioning  POST   /v1/users/:id/provisioning {profile?, selfProvisioning?, limit?}
 *   GET    /v1/device-templates        POST   /v1/device-templates {name, description?, devicePool?, speedDials?}
 *   GET    /v1/device-templates/:name  DELETE /v1/device-templates/:name
 *   GET    /v1/line-templates          POST   /v1/line-templates {name, displayName?, label?, externalMask?}
 *   GET    /v1/line-templates/:name    DELETE /v1/line-templates/:name
 *   GET    /v1/user-profiles           POST   /v1/user-profiles {name, deviceTemplate?, lineTemplate?, selfProvisioning?, limit?}
 *   GET    /v1/user-profiles/:name     DELETE /v1/user-profiles/:name
 *   GET    /v1/autoregistration        POST   /v1/autoregistration {deviceTemplate?, lineTemplate?}
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AddPhoneRequest, AddUserRequest, EnterpriseRequest, BatInsertRequest, CertificateRequest, MacRequest, TemplateRequest, CodeRequest, DeviceDefaultRequest, DeviceParams, ManufacturingCaRequest, ImportCertificateRequest, MAX_BODY_BYTES, type Outcome, ResetRequest, RoleParams, RollbackRequest } from './contract.ts';
import { sendHttpError, sendNoRoute, sendOutcome, sendUnauthorized } from './errors.ts';
import type { BulkOperations } from './bulk.ts';
import type { OnboardingOperations } from './onboarding.ts';
import type { PhoneOperations } from './phones.ts';
import type { StatusOperations } from './status.ts';
import type { TrustOperations } from './trust.ts';
import { EdosRuleRequest, MacParams, ProfileRequest, RuleParams } from '../edos/contract.ts';
import type { MppOperations } from '../edos/operations.ts';
import { AddLoadsRequest, DefaultLoadRequest, type LoadOperations, PhoneLoadRequest } from './loads.ts';
import { unavailable } from './outcome.ts';
import { IvrRequest, type IvrOperations, UserProvisioningRequest } from '../ivr/operations.ts';
import { AutoRegistrationRequest, DeviceTemplateRequest, LineTemplateRequest, NameParams, type TemplateOperations, UserProfileRequest } from '../templates/operations.ts';

const UserParams = z.object({ id: z.string() });
const noIvr = unavailable('this companion has no self-provisioning IVR');
const noTemplates = unavailable('this companion keeps no universal templates');

/** Everything the admin API (or any other front end) can ask of the companion. */
export interface AdminOperations {
  phones: PhoneOperations;
  onboarding: OnboardingOperations;
  bulk: BulkOperations;
  trust: TrustOperations;
  status: StatusOperations;
  /** Multiplatform phones: EDOS rules and provisioning profiles (src/cm/edos/). */
  mpp: MppOperations;
  /** Firmware loads (admin/loads.ts); without them the load routes answer 409. */
  loads?: LoadOperations;
  /** The self-provisioning IVR's settings and the users' self-provisioning (src/cm/ivr/). */
  ivr?: IvrOperations;
  /** Universal device and line templates, user profiles, autoregistration's templates (src/cm/templates/). */
  templates?: TemplateOperations;
}

const noLoads = unavailable('this companion keeps no loads');

interface Route<B, P> {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  ok: 200 | 201 | 204;
  params?: z.ZodType<P>;
  body?: z.ZodType<B>;
  run: (ops: AdminOperations, input: { params: P; body: B }) => Outcome<unknown> | Promise<Outcome<unknown>>;
}

/** Keeps each row's body and params types while the table holds rows of every type. */
const route = <B = undefined, P = undefined>(r: Route<B, P>) => r as unknown as Route<unknown, unknown>;

export const ROUTES = [
  route({ method: 'GET', url: '/v1/status', ok: 200, run: (o) => o.status.get() }),
  route({ method: 'GET', url: '/v1/phones', ok: 200, run: (o) => o.phones.list() }),
  route({ method: 'POST', url: '/v1/phones', ok: 201, body: AddPhoneRequest, run: (o, { body }) => o.phones.add(body) }),
  route({ method: 'GET', url: '/v1/phones/:device', ok: 200, params: DeviceParams, run: (o, { params }) => o.phones.show(params.device) }),
  route({ method: 'DELETE', url: '/v1/phones/:device', ok: 204, params: DeviceParams, run: (o, { params }) => o.phones.remove(params.device) }),
  route({ method: 'POST', url: '/v1/phones/:device/reset', ok: 200, params: DeviceParams, body: ResetRequest, run: (o, { params, body }) => o.phones.reset(params.device, body) }),
  route({ method: 'POST', url: '/v1/phones/:device/certificate', ok: 200, params: DeviceParams, body: CertificateRequest, run: (o, { params, body }) => o.phones.certificate(params.device, body) }),
  route({ method: 'GET', url: '/v1/phones/:device/code', ok: 200, params: DeviceParams, run: (o, { params }) => o.onboarding.showCode(params.device) }),
  route({ method: 'POST', url: '/v1/phones/:device/code', ok: 200, params: DeviceParams, body: CodeRequest, run: (o, { params, body }) => o.onboarding.code(params.device, body) }),
  route({ method: 'GET', url: '/v1/codes', ok: 200, run: (o) => o.onboarding.exportCodes() }),
  route({ method: 'GET', url: '/v1/audit', ok: 200, run: (o) => o.onboarding.audit() }),
  route({ method: 'GET', url: '/v1/enterprise', ok: 200, run: (o) => o.onboarding.enterprise() }),
  route({ method: 'POST', url: '/v1/enterprise', ok: 200, body: EnterpriseRequest, run: (o, { body }) => o.onboarding.setEnterprise(body) }),
  route({ method: 'POST', url: '/v1/phones/:device/mac', ok: 200, params: DeviceParams, body: MacRequest, run: (o, { params, body }) => o.phones.setMac(params.device, body) }),
  route({ method: 'GET', url: '/v1/templates', ok: 200, run: (o) => o.bulk.templates() }),
  route({ method: 'POST', url: '/v1/templates', ok: 200, body: TemplateRequest, run: (o, { body }) => o.bulk.addTemplate(body) }),
  route({ method: 'POST', url: '/v1/bat/insert', ok: 201, body: BatInsertRequest, run: (o, { body }) => o.bulk.insert(body) }),
  route({ method: 'GET', url: '/v1/device-defaults', ok: 200, run: (o) => o.onboarding.deviceDefaults() }),
  route({ method: 'POST', url: '/v1/device-defaults', ok: 200, body: DeviceDefaultRequest, run: (o, { body }) => o.onboarding.setDeviceDefault(body) }),
  route({ method: 'GET', url: '/v1/users', ok: 200, run: (o) => o.onboarding.users() }),
  route({ method: 'POST', url: '/v1/users', ok: 201, body: AddUserRequest, run: (o, { body }) => o.onboarding.addUser(body) }),
  route({ method: 'GET', url: '/v1/users/:id/provisioning', ok: 200, params: UserParams, run: (o, { params }) => o.ivr?.user(params.id) ?? noIvr }),
  route({ method: 'POST', url: '/v1/users/:id/provisioning', ok: 200, params: UserParams, body: UserProvisioningRequest, run: (o, { params, body }) => o.ivr?.setUser(params.id, body) ?? noIvr }),
  route({ method: 'GET', url: '/v1/ivr', ok: 200, run: (o) => o.ivr?.show() ?? noIvr }),
  route({ method: 'POST', url: '/v1/ivr', ok: 200, body: IvrRequest, run: (o, { body }) => o.ivr?.set(body) ?? noIvr }),
  route({ method: 'GET', url: '/v1/device-templates', ok: 200, run: (o) => o.templates?.deviceTemplates() ?? noTemplates }),
  route({ method: 'POST', url: '/v1/device-templates', ok: 200, body: DeviceTemplateRequest, run: (o, { body }) => o.templates?.addDeviceTemplate(body) ?? noTemplates }),
  route({ method: 'GET', url: '/v1/device-templates/:name', ok: 200, params: NameParams, run: (o, { params }) => o.templates?.deviceTemplate(params.name) ?? noTemplates }),
  route({ method: 'DELETE', url: '/v1/device-templates/:name', ok: 200, params: NameParams, run: (o, { params }) => o.templates?.removeTemplate('device', params.name) ?? noTemplates }),
  route({ method: 'GET', url: '/v1/line-templates', ok: 200, run: (o) => o.templates?.lineTemplates() ?? noTemplates }),
  route({ method: 'POST', url: '/v1/line-templates', ok: 200, body: LineTemplateRequest, run: (o, { body }) => o.templates?.addLineTemplate(body) ?? noTemplates }),
  route({ method: 'GET', url: '/v1/line-templates/:name', ok: 200, params: NameParams, run: (o, { params }) => o.templates?.lineTemplate(params.name) ?? noTemplates }),
  route({ method: 'DELETE', url: '/v1/line-templates/:name', ok: 200, params: NameParams, run: (o, { params }) => o.templates?.removeTemplate('line', params.name) ?? noTemplates }),
  route({ method: 'GET', url: '/v1/user-profiles', ok: 200, run: (o) => o.templates?.profiles() ?? noTemplates }),
  route({ method: 'POST', url: '/v1/user-profiles', ok: 200, body: UserProfileRequest, run: (o, { body }) => o.templates?.addProfile(body) ?? noTemplates }),
  route({ method: 'GET', url: '/v1/user-profiles/:name', ok: 200, params: NameParams, run: (o, { params }) => o.templates?.profile(params.name) ?? noTemplates }),
  route({ method: 'DELETE', url: '/v1/user-profiles/:name', ok: 200, params: NameParams, run: (o, { params }) => o.templates?.removeProfile(params.name) ?? noTemplates }),
  route({ method: 'GET', url: '/v1/autoregistration', ok: 200, run: (o) => o.templates?.autoRegistration() ?? noTemplates }),
  route({ method: 'POST', url: '/v1/autoregistration', ok: 200, body: AutoRegistrationRequest, run: (o, { body }) => o.templates?.setAutoRegistration(body) ?? noTemplates }),
  route({ method: 'POST', url: '/v1/trust/manufacturing', ok: 201, body: ManufacturingCaRequest, run: (o, { body }) => o.onboarding.importManufacturingCa(body) }),
  route({ method: 'GET', url: '/v1/trust', ok: 200, run: (o) => o.trust.status() }),
  route({ method: 'GET', url: '/v1/trust/certificates/:role', ok: 200, params: RoleParams, run: (o, { params }) => o.trust.exportCertificate(params.role) }),
  route({ method: 'POST', url: '/v1/trust/import', ok: 201, body: ImportCertificateRequest, run: (o, { body }) => o.trust.importCertificate(body) }),
  route({ method: 'POST', url: '/v1/trust/rotate-tftp', ok: 200, run: (o) => o.trust.rotateTftp() }),
  route({ method: 'POST', url: '/v1/trust/rollback', ok: 200, body: RollbackRequest, run: (o, { body }) => o.trust.setRollback(body) }),
  route({ method: 'GET', url: '/v1/edos/rules', ok: 200, run: (o) => o.mpp.listRules() }),
  route({ method: 'POST', url: '/v1/edos/rules', ok: 200, body: EdosRuleRequest, run: (o, { body }) => o.mpp.setRule(body) }),
  route({ method: 'DELETE', url: '/v1/edos/rules/:scope/:target', ok: 200, params: RuleParams, run: (o, { params }) => o.mpp.clearRule(params.scope, params.target) }),
  route({ method: 'GET', url: '/v1/mpp/profiles/:mac', ok: 200, params: MacParams, run: (o, { params }) => o.mpp.showProfile(params.mac) }),
  route({ method: 'POST', url: '/v1/mpp/profiles/:mac', ok: 200, params: MacParams, body: ProfileRequest, run: (o, { params, body }) => o.mpp.setProfile(params.mac, body) }),
  route({ method: 'DELETE', url: '/v1/mpp/profiles/:mac', ok: 200, params: MacParams, run: (o, { params }) => o.mpp.clearProfile(params.mac) }),
  route({ method: 'GET', url: '/v1/loads', ok: 200, run: (o) => o.loads?.list() ?? noLoads }),
  route({ method: 'POST', url: '/v1/loads', ok: 201, body: AddLoadsRequest, run: (o, { body }) => o.loads?.add(body) ?? noLoads }),
  route({ method: 'POST', url: '/v1/device-defaults/load', ok: 200, body: DefaultLoadRequest, run: (o, { body }) => o.loads?.setDefault(body) ?? noLoads }),
  route({ method: 'POST', url: '/v1/phones/:device/load', ok: 200, params: DeviceParams, body: PhoneLoadRequest, run: (o, { params, body }) => o.loads?.setPhone(params.device, body) ?? noLoads }),
];

const jsonSchema = (s: z.ZodType) => z.toJSONSchema(s, { target: 'draft-7', io: 'input' });

function authorized(header: string | undefined, token: string): boolean {
  const m = /^Bearer ([0-9a-f]{64})$/.exec(header ?? '');
  return !!m && timingSafeEqual(Buffer.from(m[1]!), Buffer.from(token));
}

/** The admin API as a Fastify instance, not listening yet (tests call inject()). */
export function buildAdminApp(ops: AdminOperations, token: string): FastifyInstance {
  // Types are checked as JSON has them: no coercion of "1" to 1 or ["a"] to "a".
  // A CLI call is one short request: a connection that sends nothing for 30 s, or a request
  // taking longer, is cut (only local users who can open the 0600 socket get this far).
  const app = Fastify({ bodyLimit: MAX_BODY_BYTES, ajv: { customOptions: { coerceTypes: false } }, forceCloseConnections: true, connectionTimeout: 30_000, requestTimeout: 30_000 });
  app.addHook('onRequest', async (req, reply) => {
    if (!authorized(req.headers.authorization, token)) return sendUnauthorized(reply);
  });
  // Bodies are JSON objects whatever the content type says (curl -d sends form-urlencoded);
  // an empty body is an empty object.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, text, done) => {
    if (text === '') return done(null, {});
    try {
      const v: unknown = JSON.parse(text as string);
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return done(null, v);
    } catch {
      // answered below
    }
    done(Object.assign(new Error('body must be a JSON object'), { statusCode: 400 }), undefined);
  });
  app.setErrorHandler(sendHttpError);
  app.setNotFoundHandler(sendNoRoute);
  for (const r of ROUTES) {
    app.route({
      method: r.method,
      url: r.url,
      schema: { ...(r.params ? { params: jsonSchema(r.params) } : {}), ...(r.body ? { body: jsonSchema(r.body) } : {}) },
      // A POST without any body at all reaches validation as undefined.
      preValidation: async (req) => {
        if (r.body && req.body === undefined) req.body = {};
      },
      handler: async (req, reply) => sendOutcome(reply, await r.run(ops, { params: req.params, body: req.body }), r.ok),
    });
  }
  return app;
}
