/**
 * The admin operations for Multiplatform phones, shared by the admin API (so `sepi cm`), the
 * web pages, and `sepi cm` itself when the companion is stopped (it then runs them over the
 * database directly, without a running EDOS server or provisioning server):
 *
 * - EDOS rules: per MAC or per model a redirect, "no provider", or a fault.
 * - Uploaded profiles and keys: per MAC, checked with the flat-profile reader before they are
 *   stored (a file that does not read is refused with the reader's words).
 *
 * Keys and passwords never reach the log or an answer; rules are shown with `--key`/`--pwd`
 * masked.
 */
import type { Clock } from '../../common/clock.ts';
import { type FlatParam, parseFlatProfile, writeFlatProfile } from '../../wire/flat-profile.ts';
import { MacAddress } from '../../wire/mac.ts';
import { PROFILE_RULE_MAX_CHARS, parseProfileRule } from '../../wire/profile-rule.ts';
import type { Outcome } from '../admin/contract.ts';
import { invalid, ok } from '../admin/outcome.ts';
import type { ClearedView, EdosListView, EdosRuleRequest, EdosRuleView, ProfileRequest, ProfileView } from './contract.ts';
import { type MppProfiles, maskRule, shownParams } from './profiles.ts';
import { EDOS_FAULTS, type EdosAnswer, type EdosRule, type MppStore, type RuleScope, isEdosFault } from './store.ts';

/** An uploaded profile, decoded, at most. */
export const MAX_UPLOAD_BYTES = 1024 * 1024;
/**
 * A key as `[--key KEY]` in a Profile_Rule can carry it: one word, no `$` (a macro), no
 * brackets, bars, quotes or parentheses (rule syntax).
 */
const KEY = /^[A-Za-z0-9._~+/=@%!*,:#^&{}-]{1,64}$/;

/** A MAC in any usual form as EDOS and `$MA` write it: 12 lower-case hex digits. */
export const edosMac = (s: string): string | undefined => MacAddress.parse(s)?.lower;

/** `8841`, `CP-8841`, `CP-8841-3PCC` → `8841`. */
export function edosModel(s: string): string | undefined {
  const m = /^(?:CP-)?([0-9A-Za-z]{3,8})(?:-3PCC)?$/i.exec(s.trim());
  return m?.[1]!.toUpperCase();
}

export const keyProblem = (key: string): string | undefined =>
  KEY.test(key) ? undefined : 'key must be 1 to 64 characters, one word without $ [ ] | " ( ) ; or spaces (it goes into a Profile_Rule as [--key KEY])';

const answerText = (a: EdosAnswer) => (a.kind === 'redirect' ? `redirect ${maskRule(a.profileRule)}` : a.kind === 'none' ? 'no provider' : `fault ${a.fault}`);

export const ruleView = (r: EdosRule): EdosRuleView => ({
  scope: r.scope, target: r.target, answer: r.answer.kind, updatedAt: new Date(r.updatedAt).toISOString(),
  ...(r.answer.kind === 'redirect' ? { profileRule: maskRule(r.answer.profileRule) } : r.answer.kind === 'fault' ? { fault: r.answer.fault } : {}),
});

export interface MppOperationsDeps {
  store: MppStore;
  /** The provisioning server's generator; undefined when the companion is not running. */
  profiles?: MppProfiles | undefined;
  /** The running EDOS server: its URL and requests per MAC. */
  edos?: { url: string; counts(): ReadonlyMap<string, number> } | undefined;
  clock: Clock;
  log: (line: string) => void;
}

export class MppOperations {
  private readonly d: MppOperationsDeps;

  constructor(deps: MppOperationsDeps) {
    this.d = deps;
  }

  // ---- EDOS rules ---------------------------------------------------------------------------

  listRules(): Outcome<EdosListView> {
    const e = this.d.edos;
    return ok({ running: !!e, ...(e ? { edosUrl: e.url } : {}), rules: this.d.store.rules().map(ruleView), requests: Object.fromEntries(e?.counts() ?? []) });
  }

  setRule(req: EdosRuleRequest): Outcome<EdosRuleView> {
    const target = this.target(req.mac, req.model);
    if ('kind' in target) return target;
    const given = [req.profileRule !== undefined && 'profileRule', req.none === true && 'none', req.fault !== undefined && 'fault'].filter(Boolean);
    if (given.length !== 1) return invalid('profileRule', given.length ? `one answer at a time, not ${given.join(' and ')}` : 'an answer is needed: profileRule, none or fault');
    let answer: EdosAnswer;
    if (req.profileRule !== undefined) {
      const problem = ruleProblem(req.profileRule);
      if (problem) return invalid('profileRule', problem);
      answer = { kind: 'redirect', profileRule: req.profileRule.trim() };
    } else if (req.fault !== undefined) {
      if (!isEdosFault(req.fault)) return invalid('fault', `fault must be ${EDOS_FAULTS.join(', ')}, not "${req.fault.slice(0, 20)}"`);
      answer = { kind: 'fault', fault: req.fault };
    } else answer = { kind: 'none' };
    const rule = this.d.store.setRule(target.scope, target.id, answer, this.d.clock.now());
    this.d.log(`admin set the EDOS answer for ${target.scope} ${target.id}: ${answerText(answer)}`);
    return ok(ruleView(rule));
  }

  clearRule(scope: RuleScope, targetText: string): Outcome<ClearedView> {
    const target = this.target(scope === 'mac' ? targetText : undefined, scope === 'model' ? targetText : undefined);
    if ('kind' in target) return target;
    const cleared = this.d.store.clearRule(target.scope, target.id);
    if (cleared) this.d.log(`admin cleared the EDOS answer for ${target.scope} ${target.id}`);
    return ok({ cleared });
  }

  private target(mac: string | undefined, model: string | undefined): { scope: RuleScope; id: string } | ReturnType<typeof invalid> {
    if ((mac === undefined) === (model === undefined)) return invalid('mac', 'name either a MAC or a model (one of the two)');
    if (mac !== undefined) {
      const id = edosMac(mac);
      return id ? { scope: 'mac', id } : invalid('mac', `"${mac.slice(0, 40)}" is not a MAC address (12 hex digits, e.g. 0022905c1a2b)`);
    }
    const id = edosModel(model!);
    return id ? { scope: 'model', id } : invalid('model', `"${model!.slice(0, 40)}" is not a model (e.g. 8841 or CP-8841-3PCC)`);
  }

  // ---- profiles -----------------------------------------------------------------------------

  setProfile(macText: string, req: ProfileRequest): Outcome<ProfileView> {
    const mac = edosMac(macText);
    if (!mac) return invalid('mac', `"${macText.slice(0, 40)}" is not a MAC address (12 hex digits, e.g. 0022905c1a2b)`);
    if (req.profile === undefined && req.key === undefined) return invalid('profile', 'give a profile file, a key, or both');
    let profile: string | undefined;
    let count = 0;
    if (req.profile !== undefined) {
      const b64 = req.profile.replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return invalid('profile', 'profile must be the file in base64');
      const bytes = Buffer.from(b64, 'base64');
      if (bytes.length === 0) return invalid('profile', 'the profile file is empty');
      if (bytes.length > MAX_UPLOAD_BYTES) return invalid('profile', `the profile file is ${bytes.length} bytes, more than ${MAX_UPLOAD_BYTES}`);
      const parsed = parseFlatProfile(bytes, { maxBytes: MAX_UPLOAD_BYTES });
      if (!parsed.ok) return invalid('profile', `not a flat profile: ${parsed.error.message}`);
      profile = writeFlatProfile(parsed.value.params).toString('utf8');
      count = parsed.value.params.size;
    }
    if (req.key !== undefined && req.key !== '') {
      const problem = keyProblem(req.key);
      if (problem) return invalid('key', problem);
    }
    this.d.store.setProfile(mac, { ...(profile !== undefined ? { profile } : {}), ...(req.key !== undefined ? { key: req.key } : {}) }, this.d.clock.now());
    const what = [profile !== undefined && `an uploaded profile of ${count} parameter(s)`, req.key !== undefined && (req.key ? 'a key (served encrypted)' : 'no key (served in the clear)')].filter(Boolean);
    this.d.log(`admin set ${what.join(' and ')} for ${mac}`);
    return this.showProfile(mac);
  }

  showProfile(macText: string): Outcome<ProfileView> {
    const mac = edosMac(macText);
    if (!mac) return invalid('mac', `"${macText.slice(0, 40)}" is not a MAC address (12 hex digits, e.g. 0022905c1a2b)`);
    const stored = this.d.store.profile(mac);
    if (this.d.profiles) {
      const p = this.d.profiles.build(mac);
      if (!p) return ok(view(mac, new Map(), { served: false, uploaded: false, encrypted: false }));
      return ok(view(mac, p.params, { served: true, uploaded: p.uploaded, encrypted: p.encrypted, ...(p.deviceName ? { deviceName: p.deviceName } : {}) }));
    }
    const upload = stored?.profile ? parseFlatProfile(Buffer.from(stored.profile, 'utf8')) : undefined;
    const params = upload?.ok ? upload.value.params : new Map<string, FlatParam>();
    return ok(view(mac, params, {
      served: true, uploaded: !!upload?.ok, encrypted: !!stored?.key,
      note: 'the companion is not running: only the uploaded parameters are shown; it adds the generated ones (line, proxy, resync) when it serves the file',
    }));
  }

  clearProfile(macText: string): Outcome<ClearedView> {
    const mac = edosMac(macText);
    if (!mac) return invalid('mac', `"${macText.slice(0, 40)}" is not a MAC address (12 hex digits, e.g. 0022905c1a2b)`);
    const cleared = this.d.store.clearProfile(mac);
    if (cleared) this.d.log(`admin cleared the uploaded profile and key of ${mac}`);
    return ok({ cleared });
  }
}

/** Why a redirect's Profile_Rule will not do; undefined when it will. */
export function ruleProblem(rule: string): string | undefined {
  const text = rule.trim();
  if (text === '') return 'profileRule is empty (for "no provider" set none)';
  if (text.length > PROFILE_RULE_MAX_CHARS) return `profileRule is longer than ${PROFILE_RULE_MAX_CHARS} characters`;
  const parsed = parseProfileRule(text);
  if (!parsed.ok) return `profileRule does not read as a Profile_Rule: ${parsed.error.message}`;
  try {
    writeFlatProfile([['Profile_Rule', { value: text }]]);
  } catch (e) {
    return `profileRule ${(e as Error).message}`;
  }
  return undefined;
}

function view(mac: string, params: Map<string, FlatParam>, o: Omit<ProfileView, 'mac' | 'params' | 'xml'>): ProfileView {
  const shown = shownParams(params);
  return { mac, ...o, params: Object.fromEntries([...shown].map(([k, p]) => [k, p.ua ? { value: p.value, ua: p.ua } : { value: p.value }])), xml: writeFlatProfile(shown).toString('utf8') };
}
