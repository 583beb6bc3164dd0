/**
 * The admin API's contract, version 1 (docs/protocols/admin-api.md): what each request carries
 * and each answer holds, and the outcomes the operations return. The operations, the route
 * table, the CLI (through admin-client.ts) and the tests all use these types, so a change here
 * is a change to all of them at once.
 *
 * Request bodies are zod schemas: the types come from them, and the routes hand their JSON
 * Schema to Fastify, which checks every body before an operation sees it. Answers are plain
 * types: the server builds them, nobody needs to check them.
 */
import { z } from 'zod';

/** In the data folder: the socket the server listens on and the token a client presents. */
export const ADMIN_SOCKET = 'admin.sock';
export const ADMIN_TOKEN = 'admin.token';
/** A BAT CSV of 10,000 phones fits; the socket is the local admin's only. */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

// ---- outcomes --------------------------------------------------------------------------------

/** Why an operation did not do what was asked; routes/errors.ts turns each kind into a status. */
export type Failure =
  | { kind: 'not-found'; message: string }
  | { kind: 'invalid'; field: string; message: string }
  | { kind: 'conflict'; message: string }
  | { kind: 'unavailable'; message: string };

export type Outcome<T> = { kind: 'ok'; value: T } | Failure;

/** What an error answer's body holds. */
export interface ErrorBody {
  error: string;
  /** The request field at fault, for a 400. */
  field?: string;
}

// ---- requests ----------------------------------------------------------------------------------

/**
 * A phone by MAC (`001122334455`, `00:11:22:33:44:55`, `SEP001122334455`), or a device by name:
 * `SEP…`, or `BAT…` for one provisioned before its MAC is known. One of the two is needed.
 */
export const AddPhoneRequest = z.object({
  mac: z.string().optional(),
  deviceName: z.string().optional(),
  model: z.string(),
  /** Omitted or empty: the next free DN of the autoregistration range. */
  dn: z.string().optional(),
  description: z.string().optional(),
  /** Non-empty: the registrar challenges this line with digest. */
  password: z.string().optional(),
  /**
   * The phone onboards with an activation code ("Requires Activation Code for Onboarding"):
   * without a MAC it is made as `BAT…` and the code is tied to its model; with one, to that MAC.
   * The answer carries the code, this once.
   */
  requireActivationCode: z.boolean().optional(),
  /** The end user who owns it (sees its code in Self-Care). */
  owner: z.string().optional(),
});
export type AddPhoneRequest = z.infer<typeof AddPhoneRequest>;

/** Device Defaults: how phones of a model onboard without a file of their own. */
export const DeviceDefaultRequest = z.object({ model: z.string(), onboarding: z.enum(['auto-registration', 'activation-code']) });
export type DeviceDefaultRequest = z.infer<typeof DeviceDefaultRequest>;

export const AddUserRequest = z.object({
  id: z.string(),
  password: z.string(),
  pin: z.string().optional(),
  name: z.string().optional(),
  primaryDn: z.string().optional(),
});
export type AddUserRequest = z.infer<typeof AddUserRequest>;

/** `new`: a fresh code (the old one stops working; a registered phone must onboard again); `release`: no code. */
export const CodeRequest = z.object({ action: z.enum(['new', 'release']) });
export type CodeRequest = z.infer<typeof CodeRequest>;

/** A BAT phone template: what a CSV insert gives every phone it makes. */
export const TemplateRequest = z.object({
  name: z.string(),
  model: z.string(),
  devicePool: z.string().optional(),
  requireActivationCode: z.boolean().optional(),
  owner: z.string().optional(),
});
export type TemplateRequest = z.infer<typeof TemplateRequest>;

/** Insert Phones: the CSV text (MAC ADDRESS, DESCRIPTION, OWNER USER ID, DIRECTORY NUMBER 1), a template, Create Dummy MAC Address. */
export const BatInsertRequest = z.object({ csv: z.string().max(1024 * 1024), template: z.string(), dummyMac: z.boolean().optional() });
export type BatInsertRequest = z.infer<typeof BatInsertRequest>;

/** A device's MAC typed (`BAT…` becomes `SEP<MAC>`) or blanked with null (`SEP…` becomes a new `BAT…`). */
export const MacRequest = z.object({ mac: z.string().nullable() });
export type MacRequest = z.infer<typeof MacRequest>;

export const EnterpriseRequest = z.object({ showPhonesReadyToActivate: z.boolean().optional() });
export type EnterpriseRequest = z.infer<typeof EnterpriseRequest>;

export interface EnterpriseView {
  showPhonesReadyToActivate: boolean;
}

export const ManufacturingCaRequest = z.object({ pem: z.string() });
export type ManufacturingCaRequest = z.infer<typeof ManufacturingCaRequest>;

export const ResetRequest = z.object({ action: z.enum(['reset', 'restart']).optional() });
export type ResetRequest = z.infer<typeof ResetRequest>;

/**
 * A phone's certificate settings, as CUCM's phone page has them: the CAPF operation to run at
 * its next session, how it authenticates (an authentication string of 4–10 digits typed on the
 * phone, a null string, or the LSC it already has), the LSC's RSA key size, and TFTP Encrypted
 * Config. Omitted fields keep their value.
 */
export const CertificateRequest = z.object({
  operation: z.enum(['none', 'install', 'delete']).optional(),
  auth: z.enum(['string', 'null-string', 'lsc']).optional(),
  authString: z.string().optional(),
  keySize: z.union([z.literal(1024), z.literal(2048), z.literal(3072), z.literal(4096)]).optional(),
  encryptedConfig: z.boolean().optional(),
});
export type CertificateRequest = z.infer<typeof CertificateRequest>;

export const ImportCertificateRequest = z.object({
  pem: z.string(),
  /** SAST, CCM, CCM+TFTP, TFTP, CAPF, APP-SERVER or TVS, in any case. */
  roles: z.array(z.string()),
  note: z.string().optional(),
});
export type ImportCertificateRequest = z.infer<typeof ImportCertificateRequest>;

export const RollbackRequest = z.object({ enabled: z.boolean() });
export type RollbackRequest = z.infer<typeof RollbackRequest>;

export const CERTIFICATE_ROLES = ['sast', 'tftp', 'tvs', 'capf'] as const;
export type CertificateRole = (typeof CERTIFICATE_ROLES)[number];

/** `/v1/phones/{device}`: a MAC in any form listed above, `SEP…` or `BAT…`. */
export const DeviceParams = z.object({ device: z.string() });
export type DeviceParams = z.infer<typeof DeviceParams>;

/** `/v1/trust/certificates/{role}`. */
export const RoleParams = z.object({ role: z.enum(CERTIFICATE_ROLES) });
export type RoleParams = z.infer<typeof RoleParams>;

// ---- answers -----------------------------------------------------------------------------------

export interface PhoneView {
  /** 12 upper-case hex digits; null for a BAT device. */
  mac: string | null;
  model: string;
  dn: string;
  description: string;
  autoregistered: boolean;
  createdAt: string;
  versionStamp: string;
  /** `SEP<MAC>`, or `BAT…` for a device without a MAC yet. */
  deviceName: string;
  hasPassword: boolean;
  registered: boolean;
  registeredFrom?: string;
  activeLoad?: string;
  /** The address of its bound DHCP lease. */
  lease?: string;
  certificate: PhoneCertificateView;
  /** The end user who owns it. */
  owner?: string;
  /** It waits for an activation code: it gets no file of its own until a phone presents the code. */
  requiresActivationCode: boolean;
  /** Only in the answer that made the code: shown once (and again to the owner in Self-Care). */
  activationCode?: CodeView;
  /** What universal templates gave it (autoregistration, the IVR); absent when none were applied. */
  templates?: AppliedTemplatesView;
}

/** A phone's applied universal templates, as its cnf.xml carries them. */
export interface AppliedTemplatesView {
  deviceTemplate: string;
  lineTemplate: string;
  devicePool: string;
  speedDials: Array<{ number: string; label: string }>;
  /** Line 1's display (alerting) name, label and external phone number. */
  displayName: string;
  label: string;
  externalNumber: string;
}

export interface CodeView {
  deviceName: string;
  /** 16 digits, shown 4-4-4-4. */
  code: string;
  expiresAt: string;
}

export interface TemplateView {
  name: string;
  model: string;
  devicePool: string;
  requireActivationCode: boolean;
  owner?: string;
}

export interface BatInsertAnswer {
  count: number;
  /** Each phone made, with its code (shown this once) when the template requires one. */
  phones: Array<{ deviceName: string; dn: string; activationCode?: string }>;
}

export interface AuditView {
  at: string;
  actor: string;
  action: string;
  device: string;
  source: string;
  result: string;
}

export interface DeviceDefaultView {
  model: string;
  onboarding: 'auto-registration' | 'activation-code';
}

export interface UserView {
  id: string;
  name: string;
  primaryDn: string;
  hasPin: boolean;
  admin: boolean;
  phones: string[];
}

/** A phone's certificate settings and LSC, without secrets. */
export interface PhoneCertificateView {
  operation: 'none' | 'install' | 'delete';
  auth: 'string' | 'null-string' | 'lsc';
  keySize: number;
  encryptedConfig: boolean;
  /** Whether its full configuration file is served only encrypted right now. */
  encryptedNow: boolean;
  lsc?: { subject: string; serial: string; notAfter: string };
}

export interface ResetAnswer {
  ok: boolean;
  /** The phone's answer to the service-control NOTIFY, e.g. `200 OK`. */
  detail: string;
}

export interface StatusView {
  version: string;
  pid: number;
  uptimeSecs: number;
  address: string;
  services: {
    dhcp: false | { pool: string; option150: string[]; option66: string; counters: Record<string, number> | undefined };
    tftp: false | { port: number };
    http: false | { port: number };
    sip: false | { listen: string; expires: number };
    tvs: false | { port: number };
    capf: false | { port: number };
    activation: false | { port: number };
    web: false | { port: number };
  };
  security: { mode: 'none' | 'itl' | 'mixed'; rollback: boolean };
  callManagers: Array<{ host: string; sipPort: number; priority: number }>;
  autoRegistration: { enabled: boolean; dnFirst: string; dnLast: string };
  phones: number;
  registered: number;
  leases: number;
  /**
   * Phones with a line password in a configuration file anyone can fetch: no LSC, or TFTP
   * Encrypted Config off (docs/security.md).
   */
  passwordsInClear: string[];
  /** The EDOS stand-in's request URL, when it runs (docs/protocols/edos.md). */
  edosUrl?: string;
  /** The Multiplatform provisioning URL, `$PSN` and `$MA` left for the phone to expand, when HTTP runs. */
  provisioningUrl?: string;
}

export interface CertificateView {
  name: string;
  roles: string[];
  subject: string;
  serial: string;
  sha256: string;
  notAfter: string;
  source: 'own' | 'imported';
}

export interface TrustView {
  mode: 'none' | 'itl' | 'mixed';
  digest: string;
  rollback: boolean;
  certificates: CertificateView[];
}

export interface CertificatePem {
  pem: string;
}

export interface ImportAnswer {
  subject: string;
  sha256: string;
  roles: string[];
}

export interface RotateAnswer {
  subject: string;
  sha256: string;
}

export interface RollbackView {
  rollback: boolean;
}
