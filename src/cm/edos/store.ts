/**
 * What the admin decided for Multiplatform phones (schema version 9, db.ts), over the
 * companion's one SQLite database:
 *
 * - `edos_rules`: the EDOS stand-in's answer for one MAC, or for every phone of a model that has
 *   no rule of its own: a redirect (a `Profile_Rule` URL), "no provider", or a fault to inject.
 * - `mpp_profiles`: per MAC, a flat profile the admin uploaded (stored as the parameters it
 *   holds, rewritten by writeFlatProfile, so what is stored always reads back), and the key the
 *   served profile is encrypted with. The key is sealed with the data folder's secrets key
 *   (secrets.ts), the MAC as associated data, like line passwords.
 *
 * MACs are kept as the phone writes them in EMU-EDOS/1 and `$MA`: 12 lower-case hex digits.
 * Both the EDOS server and the provisioning server read here on every request, so a change made
 * by the CLI with the companion stopped, or by another process, is seen at once.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { CompanionDb } from '../db.ts';
import type { SecretBox } from '../secrets.ts';

export const EDOS_FAULTS = ['503', '500', '404', 'timeout', 'tls'] as const;
export type EdosFault = (typeof EDOS_FAULTS)[number];
export const isEdosFault = (s: string): s is EdosFault => (EDOS_FAULTS as readonly string[]).includes(s);

/** What EDOS answers: a redirect profile, "no provider" (200, empty), or an injected fault. */
export type EdosAnswer = { kind: 'redirect'; profileRule: string } | { kind: 'none' } | { kind: 'fault'; fault: EdosFault };

export type RuleScope = 'mac' | 'model';

export interface EdosRule {
  scope: RuleScope;
  /** 12 lower-case hex digits, or a model number (`8841`). */
  target: string;
  answer: EdosAnswer;
  updatedAt: number;
}

export interface StoredProfile {
  mac: string;
  /** The uploaded parameters as a flat-profile document; empty when only a key was set. */
  profile: string;
  /** The --key, opened; empty when the profile is served in the clear. */
  key: string;
  updatedAt: number;
}

type Row = Record<string, unknown>;

function answerFrom(kind: string, value: string): EdosAnswer {
  if (kind === 'redirect') return { kind, profileRule: value };
  if (kind === 'fault' && isEdosFault(value)) return { kind, fault: value };
  if (kind === 'none') return { kind };
  // The CHECK constraints keep anything else out; a fault code from a newer release reads as 503.
  return { kind: 'fault', fault: '503' };
}

const valueOf = (a: EdosAnswer): string => (a.kind === 'redirect' ? a.profileRule : a.kind === 'fault' ? a.fault : '');

const ruleFrom = (r: Row): EdosRule => ({
  scope: String(r['scope']) as RuleScope, target: String(r['target']), answer: answerFrom(String(r['kind']), String(r['value'])), updatedAt: Number(r['updated_at']),
});

/** The associated data a profile key is sealed with: it cannot be moved to another MAC's row. */
const keyOwner = (mac: string) => `mpp-profile:${mac}`;

export class MppStore {
  private readonly db: DatabaseSync;
  private readonly box: SecretBox;

  constructor(companion: CompanionDb) {
    this.db = companion.handle;
    this.box = companion.secrets;
  }

  // ---- EDOS rules ---------------------------------------------------------------------------

  rules(): EdosRule[] {
    return (this.db.prepare("SELECT * FROM edos_rules ORDER BY scope = 'model', target").all() as Row[]).map(ruleFrom);
  }

  rule(scope: RuleScope, target: string): EdosRule | undefined {
    const r = this.db.prepare('SELECT * FROM edos_rules WHERE scope = ? AND target = ?').get(scope, target) as Row | undefined;
    return r && ruleFrom(r);
  }

  /** The rule that decides for this phone: its MAC's, else its model's, else none. */
  ruleFor(mac: string, model: string): EdosRule | undefined {
    return this.rule('mac', mac) ?? this.rule('model', model);
  }

  setRule(scope: RuleScope, target: string, answer: EdosAnswer, now: number): EdosRule {
    this.db
      .prepare('INSERT INTO edos_rules (scope, target, kind, value, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(scope, target) DO UPDATE SET kind = excluded.kind, value = excluded.value, updated_at = excluded.updated_at')
      .run(scope, target, answer.kind, valueOf(answer), now);
    return { scope, target, answer, updatedAt: now };
  }

  clearRule(scope: RuleScope, target: string): boolean {
    return Number(this.db.prepare('DELETE FROM edos_rules WHERE scope = ? AND target = ?').run(scope, target).changes) > 0;
  }

  // ---- uploaded profiles and keys -----------------------------------------------------------

  profile(mac: string): StoredProfile | undefined {
    const r = this.db.prepare('SELECT * FROM mpp_profiles WHERE mac = ?').get(mac) as Row | undefined;
    if (!r) return undefined;
    return { mac, profile: String(r['profile']), key: this.box.open(String(r['profile_key']), keyOwner(mac)), updatedAt: Number(r['updated_at']) };
  }

  profiles(): StoredProfile[] {
    return (this.db.prepare('SELECT mac FROM mpp_profiles ORDER BY mac').all() as Row[]).map((r) => this.profile(String(r['mac']))!);
  }

  /** Sets what is given, keeps the rest: a new file keeps the key, a new key keeps the file. */
  setProfile(mac: string, change: { profile?: string; key?: string }, now: number): StoredProfile {
    const before = this.profile(mac);
    const next = { profile: change.profile ?? before?.profile ?? '', key: change.key ?? before?.key ?? '' };
    this.db
      .prepare('INSERT INTO mpp_profiles (mac, profile, profile_key, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(mac) DO UPDATE SET profile = excluded.profile, profile_key = excluded.profile_key, updated_at = excluded.updated_at')
      .run(mac, next.profile, this.box.seal(next.key, keyOwner(mac)), now);
    return { mac, ...next, updatedAt: now };
  }

  clearProfile(mac: string): boolean {
    return Number(this.db.prepare('DELETE FROM mpp_profiles WHERE mac = ?').run(mac).changes) > 0;
  }
}
