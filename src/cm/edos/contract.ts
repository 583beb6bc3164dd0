/**
 * The admin API's part for Multiplatform phones (docs/protocols/admin-api.md style, version 1):
 *
 *   GET    /v1/edos/rules                      the rules, and requests per MAC since the start
 *   POST   /v1/edos/rules {mac | model, profileRule | none | fault}
 *   DELETE /v1/edos/rules/:scope/:target       scope `mac` or `model`
 *   GET    /v1/mpp/profiles/:mac               the profile as served, secrets masked
 *   POST   /v1/mpp/profiles/:mac {profile?: base64 of a flat-profile file, key?: string}
 *   DELETE /v1/mpp/profiles/:mac               the upload and the key gone
 *
 * Request bodies are zod schemas, as in admin/contract.ts; the operations check the values.
 */
import { z } from 'zod';

export const EdosRuleRequest = z.object({
  /** 12 hex digits in any of the usual forms; or `model` (`8841`, `CP-8841-3PCC`). One of the two. */
  mac: z.string().optional(),
  model: z.string().optional(),
  /** The redirect: the answer is a flat profile with this Profile_Rule. One of these three. */
  profileRule: z.string().optional(),
  /** "No provider": 200 with an empty body. */
  none: z.boolean().optional(),
  /** `503`, `500`, `404`, `timeout` or `tls`. */
  fault: z.string().optional(),
});
export type EdosRuleRequest = z.infer<typeof EdosRuleRequest>;

export const RuleParams = z.object({ scope: z.enum(['mac', 'model']), target: z.string() });
export type RuleParams = z.infer<typeof RuleParams>;

export const MacParams = z.object({ mac: z.string() });
export type MacParams = z.infer<typeof MacParams>;

/** A profile upload (the file's bytes in base64, so a gzipped file travels too) and/or a key. */
export const ProfileRequest = z.object({ profile: z.string().max(1_500_000).optional(), key: z.string().optional() });
export type ProfileRequest = z.infer<typeof ProfileRequest>;

export interface EdosRuleView {
  scope: 'mac' | 'model';
  target: string;
  answer: 'redirect' | 'none' | 'fault';
  /** The redirect's Profile_Rule, `--key`/`--pwd` values masked. */
  profileRule?: string;
  fault?: string;
  updatedAt: string;
}

export interface EdosListView {
  /** Whether the EDOS stand-in runs (false too when the companion is stopped). */
  running: boolean;
  edosUrl?: string;
  rules: EdosRuleView[];
  /** Requests per MAC since the companion started (empty when it is not running). */
  requests: Record<string, number>;
}

export interface ClearedView {
  cleared: boolean;
}

export interface ProfileView {
  mac: string;
  /** `SEP<MAC>` when the database knows the phone (it gets its line). */
  deviceName?: string;
  /** What a phone gets: false means 404 (unknown MAC, autoregistration off, nothing uploaded). */
  served: boolean;
  uploaded: boolean;
  /** Served encrypted with the stored key. */
  encrypted: boolean;
  /** The parameters served (generated, then the upload over them), secrets masked. */
  params: Record<string, { value: string; ua?: 'na' | 'ro' | 'rw' }>;
  /** The same as a flat-profile document. */
  xml: string;
  /** Said when only part of the answer could be known (the companion is not running). */
  note?: string;
}
