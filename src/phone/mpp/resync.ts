/**
 * One resync of a Multiplatform phone: each profile rule in turn (`Profile_Rule`, then `_B`, `_C`,
 * `_D`, or the rules DHCP or EDOS handed over), its first alternative whose condition holds
 * chosen with the macros of this moment, its assignments stored, its URL fetched
 * (profile-fetch.ts) and the profile read — decrypted with the rule's `--key`, gunzipped — and
 * applied to the parameters. Every rule is reported (start, done or fail) without keys or
 * passwords. The resync fails when a rule fails; a file not found fails it too unless
 * `Resync_Fails_On_FNF` is No.
 */
import { parseFlatProfile } from '../../wire/flat-profile.ts';
import { type RuleOptions, chooseAlternative, parseProfileRule, resolveUrl } from '../../wire/profile-rule.ts';
import type { Report } from '../provisioning.ts';
import { stepTimer } from '../provisioning.ts';
import type { Clock } from '../../common/clock.ts';
import { type MacroContext, type MppIdentity, macroValues } from './identity.ts';
import type { MppParameters } from './parameters.ts';
import { type ProfileFetchDeps, type ProfileTarget, fetchProfile, targetUrl } from './profile-fetch.ts';

export type ResyncTrigger = 'power-up' | 'periodic' | 'retry' | 'explicit' | 'dhcp' | 'edos-redirect';

export interface RuleToRun {
  name: string;
  text: string;
}

export type ResyncOutcome =
  /** `changed`: parameter names whose value changed (the flow re-registers when a line's did). */
  | { kind: 'ok'; url: string; changed: string[] }
  /** No rule, or no alternative's condition held: nothing to fetch. */
  | { kind: 'nothing'; reason: string }
  | { kind: 'error'; reason: string; url: string };

export interface ResyncDeps {
  id: MppIdentity;
  params: MppParameters;
  fetch: ProfileFetchDeps;
  clock: Clock;
  report: Report;
  /** DHCP option 66 (or the first option 150 address), for URLs that name no server. */
  option66: string | undefined;
  /** Macro values that change: the phone's address, customization, client certificate. */
  context: () => Omit<MacroContext, 'provisioningState' | 'secondsSinceResync' | 'userIds'>;
}

const PRVST: Record<ResyncTrigger, -1 | 0 | 1 | 2> = { 'explicit': -1, 'power-up': 0, 'dhcp': 0, 'edos-redirect': 0, 'periodic': 1, 'retry': 2 };

/** Options without secrets, for events: `[--key ***]`. */
const shownOptions = (o: RuleOptions): string => (o.srv ? '[--srv] ' : '') + (o.key !== undefined ? '[--key ***] ' : '') + (o.uid !== undefined ? `[--uid ${o.uid} --pwd ***] ` : '');

export class Resync {
  private readonly d: ResyncDeps;
  private lastAt: number;

  constructor(d: ResyncDeps) {
    this.d = d;
    this.lastAt = d.clock.now();
  }

  /** The macros' values at this moment, for a resync of `trigger`. */
  private macros(trigger: ResyncTrigger): Record<string, string> {
    const { d } = this;
    return macroValues(d.id, { ...d.context(), provisioningState: PRVST[trigger], secondsSinceResync: (d.clock.now() - this.lastAt) / 1000, userIds: d.params.lines().map((l) => l.userId) }, d.params.gppValues());
  }

  /** A URL of a rule with its server: option 66's when it names none. */
  private resolve(url: string) {
    return resolveUrl(url, this.d.option66 !== undefined ? { option66: this.d.option66 } : {});
  }

  /**
   * A rule's URL as a resync would fetch it now (Upgrade_Rule has Profile_Rule's syntax): the
   * alternative whose condition holds with this moment's macros, its server filled in from
   * option 66 when it names none; undefined when no alternative applies.
   */
  target(ruleText: string, trigger: ResyncTrigger): { ok: true; target: ProfileTarget; options: RuleOptions } | { ok: false; reason: string } | undefined {
    const parsed = parseProfileRule(ruleText);
    if (!parsed.ok) return { ok: false, reason: parsed.error.message };
    const chosen = chooseAlternative(parsed.value, this.macros(trigger));
    if (!chosen?.url) return undefined;
    const target = this.resolve(chosen.url);
    return target.ok ? { ok: true, target: target.value, options: chosen.options } : { ok: false, reason: target.error.message };
  }

  /** The phone's own rules (`Profile_Rule`…`_D`), or the ones given (DHCP's, a one-off URL). */
  async run(trigger: ResyncTrigger, signal: AbortSignal, rules: RuleToRun[] = this.d.params.rules()): Promise<ResyncOutcome> {
    const { d } = this;
    if (rules.length === 0) return { kind: 'nothing', reason: 'no profile rule' };
    const changed: string[] = [];
    let lastUrl = '';
    let fetched = 0;
    for (const rule of rules) {
      const parsed = parseProfileRule(rule.text);
      if (!parsed.ok) {
        d.report({ step: 'profile', state: 'fail', ms: 0, message: `${rule.name}: ${parsed.error.message}`, url: '', reason: parsed.error.message });
        return { kind: 'error', reason: `${rule.name}: ${parsed.error.message}`, url: '' };
      }
      const chosen = chooseAlternative(parsed.value, this.macros(trigger));
      if (!chosen) continue;
      // Assignments (`(a = 1)!`) set general-purpose parameters before anything is fetched.
      if (chosen.assignments.length) await d.params.set(Object.fromEntries(chosen.assignments.map((a) => [/^[A-Pa-p]$/.test(a.name) ? `GPP_${a.name.toUpperCase()}` : a.name, a.value])));
      if (chosen.url === undefined) continue;
      const target = this.resolve(chosen.url);
      if (!target.ok) {
        d.report({ step: 'profile', state: 'fail', ms: 0, message: `${rule.name}: ${target.error.message}`, url: chosen.url, reason: target.error.message });
        return { kind: 'error', reason: target.error.message, url: chosen.url };
      }
      const url = targetUrl(target.value);
      lastUrl = url;
      const elapsed = stepTimer(d.clock);
      d.report({ step: 'profile', state: 'start', ms: 0, message: `Resync ${shownOptions(chosen.options)}${url}`, url, rule: rule.name, trigger });
      const got = await fetchProfile(d.fetch, target.value, { ...(chosen.options.uid !== undefined ? { uid: chosen.options.uid } : {}), ...(chosen.options.pwd !== undefined ? { pwd: chosen.options.pwd } : {}), srv: chosen.options.srv }, signal);
      if (got.kind === 'error') {
        if (got.notFound && !d.params.yes('Resync_Fails_On_FNF')) continue;
        d.report({ step: 'profile', state: 'fail', ms: elapsed(), message: `Resync ${url} failed: ${got.reason}`, url, reason: got.reason, ...(got.status !== undefined ? { status: got.status } : {}) });
        return { kind: 'error', reason: got.reason, url };
      }
      const profile = parseFlatProfile(got.bytes, chosen.options.key !== undefined ? { key: chosen.options.key } : {});
      if (!profile.ok) {
        const reason = chosen.options.key !== undefined && profile.error.code === 'wrong-key' ? 'the profile does not decrypt with the rule\'s key' : profile.error.message;
        d.report({ step: 'profile', state: 'fail', ms: elapsed(), message: `Profile ${url} unusable: ${reason}`, url, reason });
        return { kind: 'error', reason, url };
      }
      changed.push(...(await d.params.apply(profile.value)));
      fetched++;
      d.report({
        step: 'profile', state: 'done', ms: elapsed(), message: `Profile ${url}${got.server ? ` (from ${got.server}, its SRV record)` : ''}: ${profile.value.params.size} parameters`, url,
        params: profile.value.params.size, encrypted: profile.value.encrypted, gzipped: profile.value.gzipped, trigger,
      });
    }
    this.lastAt = d.clock.now();
    if (fetched === 0) return { kind: 'nothing', reason: 'no rule alternative applied' };
    return { kind: 'ok', url: lastUrl, changed };
  }
}
