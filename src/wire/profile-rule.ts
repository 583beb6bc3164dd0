/**
 * Profile_Rule (and _B…_D, Upgrade_Rule) of Cisco Multiplatform phones, reference
 * onboarding-protocol.md §3.1: `|`-separated alternatives, each
 * `[ (condition)? ] [ (assignments)! ] [ [options] ] [ URL ]`, all but the last with a
 * condition. The phone acts on the first alternative whose condition holds (or has none).
 *
 * Our readings, where the public text (Cisco's SPA/MPP provisioning guides) is thin:
 * - Conditions: `eq ne lt le gt ge` (or `= == != < <= > >=`) joined by `and` / `or` (`and` binds
 *   tighter), with parentheses. Quoted operands compare as strings, eq/ne only; bare ones as
 *   integers when both are, else piecewise with digit runs as numbers (`11.3.10 gt 11.3.9`).
 *   The legacy bare `! 1.0.33` (implicit $SWVER) is refused.
 * - Assignments: `( Name = "value" ; Other = 2 ; )!`, quoted or bare, last `;` optional; a…p
 *   mean GPP_A…GPP_P and are stored so. They apply before the URL is expanded.
 * - Macros: `$NAME` takes the longest known name (`$MAU` before `$MA`), `$(NAME)` and
 *   `$(NAME:p[:q])` substrings, `$$` is `$`. A name the phone does not know stays as written,
 *   as the guides say (`unknown: 'empty'` drops it); a known one with no value is empty.
 *   `$SA`…`$SD` hold keys and expand only in `--key`, so no rule leaks them into a URL.
 * - URL: `[scheme://][server[:port]]path`. No scheme is TFTP, no server is DHCP option 66's; a
 *   scheme-less text without `/` is a file name (the old default `$PN.cfg`). No `|` in a URL.
 */
import { isIpv4 } from './ipv4.ts';
import { type Result, WireError, catchWire, err, ok } from './result.ts';

const FORMAT = 'profile-rule';
export const PROFILE_RULE_MAX_CHARS = 2048;
const MAX_DEPTH = 16;
export const DEFAULT_PROFILE_RULE = '/$PSN.xml';

export type CompareOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';
/** `text` is unexpanded: macros are expanded when the condition is evaluated. */
export interface Operand { quoted: boolean; text: string }
export type Expr = { kind: 'compare'; op: CompareOp; left: Operand; right: Operand } | { kind: 'and' | 'or'; left: Expr; right: Expr };
export interface Assignment { name: string; value: string }
export interface RuleOptions { key?: string; uid?: string; pwd?: string; post?: string; alias?: string; srv: boolean }
export interface RuleAlternative { condition?: Expr; assignments: Assignment[]; options: RuleOptions; url?: string }
export interface ProfileRule { alternatives: RuleAlternative[] }

const fail = (code: string, message: string, at?: number): never => { throw new WireError(FORMAT, code, message, at); };

// ---- parsing ------------------------------------------------------------------------------

const SYMBOL_OPS: Record<string, CompareOp> = { '=': 'eq', '==': 'eq', '!=': 'ne', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge' };
const WORD_OPS = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
const VALUED = ['key', 'uid', 'pwd', 'post', 'alias'] as const;
type Valued = (typeof VALUED)[number];
const OPERAND_STOP = '()"=!<>';
const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r';

/** A scanner over the rule text; `end` narrows while inside brackets. Errors carry offsets. */
class RuleParser {
  s: string;
  i = 0;
  end: number;
  constructor(s: string) {
    [this.s, this.end] = [s, s.length];
  }
  skip(): void {
    while (this.i < this.end && isSpace(this.s[this.i])) this.i++;
  }
  /** Index just past a `$(…)` macro starting at j, or j when there is none there. */
  macroEnd(j: number): number {
    const close = this.s[j] === '$' && this.s[j + 1] === '(' ? this.s.indexOf(')', j) : -1;
    return close < 0 || close >= this.end ? j : close + 1;
  }
  quoteEnd(j: number): number {
    const close = this.s.indexOf('"', j + 1);
    return close < 0 || close >= this.end ? fail('unbalanced', 'unterminated quoted string', j) : close + 1;
  }
  /** The `)` matching the `(` at `open`, stepping over quoted strings and `$(…)` macros. */
  matchParen(open: number): number {
    for (let j = open, depth = 0; j < this.end; j++) {
      const c = this.s[j];
      if (c === '"') j = this.quoteEnd(j) - 1;
      else if (this.macroEnd(j) > j) j = this.macroEnd(j) - 1;
      else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) return j;
    }
    return fail('unbalanced', 'unclosed (', open);
  }
  /** A bare word, up to white space or a stop character; a `$(…)` macro is part of it. */
  word(stop: string): string {
    const from = this.i;
    while (this.i < this.end && !isSpace(this.s[this.i]) && !stop.includes(this.s[this.i]!)) this.i = Math.max(this.macroEnd(this.i), this.i + 1);
    return this.s.slice(from, this.i);
  }
  quoted(): string {
    const from = this.i + 1;
    this.i = this.quoteEnd(this.i);
    return this.s.slice(from, this.i - 1);
  }
  /** Runs `f` with the scan limited to [from, to). */
  within<T>(from: number, to: number, f: () => T): T {
    const saved = this.end;
    [this.i, this.end] = [from, to];
    const v = f();
    this.end = saved;
    return v;
  }

  rule(): ProfileRule {
    const alternatives: RuleAlternative[] = [];
    this.skip();
    if (this.i >= this.end) return { alternatives }; // an empty rule: nothing to fetch
    for (;;) {
      this.skip();
      const at = this.i;
      const alt = this.alternative();
      alternatives.push(alt);
      if (this.i >= this.end) return { alternatives };
      if (!alt.condition) fail('no-condition', `alternative ${alternatives.length} has no condition but is not the last`, at);
      this.i++; // the `|`
    }
  }

  alternative(): RuleAlternative {
    const start = this.i;
    const alt: RuleAlternative = { assignments: [], options: { srv: false } };
    for (let n = 0; n < 2 && this.s[this.i] === '('; n++) {
      const open = this.i;
      const close = this.matchParen(open);
      this.i = close + 1;
      this.skip();
      const markAt = this.i;
      const mark = this.s[markAt];
      if (mark === '?' && n === 0) alt.condition = this.expr(open + 1, close, 0);
      else if (mark === '!' && (n === 0 || alt.condition)) alt.assignments = this.assignments(open + 1, close);
      else fail('syntax', 'expected ? after a condition or ! after assignments, condition first', markAt);
      this.i = markAt + 1;
      this.skip();
    }
    for (; this.s[this.i] === '['; this.skip()) this.options(alt.options);
    if (this.i < this.end && this.s[this.i] !== '|') {
      const at = this.i;
      alt.url = this.word('|');
      if (/^[()[\]"]/.test(alt.url)) fail('syntax', `unexpected "${this.s[at]}"`, at);
      this.skip();
      if (this.i < this.end && this.s[this.i] !== '|') fail('syntax', 'unexpected text after the URL', this.i);
    }
    if (this.i === start) fail('syntax', 'empty alternative', start);
    return alt;
  }

  /** A whole condition or a bracketed part of one: nothing may be left over. */
  expr(from: number, to: number, depth: number): Expr {
    if (depth >= MAX_DEPTH) fail('oversized', `parentheses nested deeper than ${MAX_DEPTH}`, from);
    return this.within(from, to, () => {
      let e = this.and(depth);
      while (this.keyword('or')) e = { kind: 'or', left: e, right: this.and(depth) };
      this.skip();
      if (this.i < this.end) fail('syntax', 'unexpected text in the condition', this.i);
      return e;
    });
  }
  and(depth: number): Expr {
    let e = this.primary(depth);
    while (this.keyword('and')) e = { kind: 'and', left: e, right: this.primary(depth) };
    return e;
  }
  keyword(k: string): boolean {
    this.skip();
    const after = this.i + k.length;
    const fits = this.s.startsWith(k, this.i) && after <= this.end && (after === this.end || isSpace(this.s[after]) || '("'.includes(this.s[after]!));
    if (fits) this.i = after;
    return fits;
  }
  primary(depth: number): Expr {
    this.skip();
    if (this.s[this.i] === '(') {
      const close = this.matchParen(this.i);
      const e = this.expr(this.i + 1, close, depth + 1);
      this.i = close + 1;
      return e;
    }
    const left = this.operand();
    this.skip();
    const at = this.i;
    const sym = /^(==|!=|<=|>=|=|<|>)/.exec(this.s.slice(this.i, Math.min(this.end, this.i + 2)))?.[1];
    let op: CompareOp | undefined = sym ? SYMBOL_OPS[sym] : undefined;
    if (sym) this.i += sym.length;
    else {
      const w = this.word(OPERAND_STOP);
      if (WORD_OPS.has(w)) op = w as CompareOp;
      else fail('bad-operator', w ? `"${w.slice(0, 20)}" is not eq, ne, lt, le, gt or ge` : 'expected an operator', at);
    }
    const right = this.operand();
    if ((left.quoted || right.quoted) && op !== 'eq' && op !== 'ne') fail('bad-operator', `${op} does not apply to quoted strings (only eq and ne)`, at);
    return { kind: 'compare', op: op!, left, right };
  }
  operand(): Operand {
    this.skip();
    if (this.s[this.i] === '"' && this.i < this.end) return { quoted: true, text: this.quoted() };
    const at = this.i;
    const text = this.word(OPERAND_STOP);
    if (!text || text === 'and' || text === 'or') fail('syntax', 'expected an operand', at);
    return { quoted: false, text };
  }

  assignments(from: number, to: number): Assignment[] {
    const out: Assignment[] = [];
    this.within(from, to, () => {
      for (this.skip(); this.i < this.end; this.skip()) {
        const name = /^[A-Za-z0-9_]{1,128}/.exec(this.s.slice(this.i, this.end))?.[0];
        if (!name) return fail('syntax', 'expected a parameter name', this.i);
        this.i += name.length;
        this.skip();
        if (this.s[this.i] !== '=' || this.i >= this.end) fail('syntax', `expected = after ${name}`, this.i);
        this.i++;
        this.skip();
        const value = this.s[this.i] === '"' && this.i < this.end ? this.quoted() : this.word(';');
        out.push({ name: /^[a-p]$/.test(name) ? `GPP_${name.toUpperCase()}` : name, value });
        this.skip();
        if (this.i < this.end && this.s[this.i++] !== ';') fail('syntax', 'expected ; between assignments', this.i - 1);
      }
    });
    return out;
  }

  options(o: RuleOptions): void {
    const open = this.i;
    const m = /^\[(?:[^"\]]|"[^"]*")*\]/.exec(this.s.slice(open, this.end));
    const close = m ? open + m[0].length - 1 : fail('unbalanced', 'unclosed [ (or a quote in it)', open);
    this.within(open + 1, close, () => {
      for (this.skip(); this.i < this.end; this.skip()) {
        const at = this.i;
        const token = this.word('"');
        const name = token.startsWith('--') ? token.slice(2) : '';
        if (name !== 'srv' && !VALUED.includes(name as Valued)) fail('unknown-option', `unknown option "${token.slice(0, 20) || this.s[at]}"`, at);
        if (name === 'srv' ? o.srv : o[name as Valued] !== undefined) fail('syntax', `--${name} given twice`, at);
        if (name === 'srv') o.srv = true;
        else {
          this.skip();
          if (this.i >= this.end || (this.s[this.i] !== '"' && this.s.startsWith('--', this.i))) fail('syntax', `--${name} needs a value`, this.i);
          o[name as Valued] = this.s[this.i] === '"' ? this.quoted() : this.word('"');
        }
      }
    });
    this.i = close + 1;
  }
}

export function parseProfileRule(text: string): Result<ProfileRule> {
  if (text.length > PROFILE_RULE_MAX_CHARS) return err(new WireError(FORMAT, 'oversized', `${text.length} characters exceeds ${PROFILE_RULE_MAX_CHARS}`));
  const ctl = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.exec(text);
  if (ctl) return err(new WireError(FORMAT, 'syntax', 'control character in the rule', ctl.index));
  return catchWire(() => new RuleParser(text).rule());
}

// ---- writing (for the companion, and to check that parsing is stable) ----------------------

/** The syntax has no escape for `"`: a value holding one cannot be written, a caller's bug. */
const quote = (s: string, what: string): string => {
  if (s.includes('"')) throw new RangeError(`${what} contains a double quote, which the rule syntax cannot carry`);
  return `"${s}"`;
};
/** Option values go bare, as people write them, whenever that reads back the same. */
const optionValue = (s: string, what: string): string => (/^(?!--)[^\s"\]]+$/.test(s) ? s : quote(s, what));
const writeOperand = (o: Operand): string => (o.quoted ? quote(o.text, 'operand') : o.text);
const PRECEDENCE = { or: 1, and: 2, compare: 3 };

export function writeExpr(e: Expr): string {
  if (e.kind === 'compare') return `${writeOperand(e.left)} ${e.op} ${writeOperand(e.right)}`;
  // Parsing builds left-leaning trees; brackets keep any other shape the same on the way back.
  const l = PRECEDENCE[e.left.kind] < PRECEDENCE[e.kind] ? `(${writeExpr(e.left)})` : writeExpr(e.left);
  const r = PRECEDENCE[e.right.kind] <= PRECEDENCE[e.kind] ? `(${writeExpr(e.right)})` : writeExpr(e.right);
  return `${l} ${e.kind} ${r}`;
}

export function writeProfileRule(rule: ProfileRule): string {
  const one = (a: RuleAlternative): string => {
    const opts = VALUED.filter((k) => a.options[k] !== undefined).map((k) => `--${k} ${optionValue(a.options[k]!, `--${k}`)}`);
    if (a.options.srv) opts.push('--srv');
    return [
      a.condition ? `(${writeExpr(a.condition)})?` : '',
      a.assignments.length ? `(${a.assignments.map((x) => `${x.name} = ${quote(x.value, x.name)};`).join(' ')})!` : '',
      opts.length ? `[${opts.join(' ')}]` : '',
      a.url ?? '',
    ].filter(Boolean).join(' ');
  };
  return rule.alternatives.map(one).join(' | ');
}

// ---- macros -------------------------------------------------------------------------------

const LETTERS = 'ABCDEFGHIJKLMNOP'.split('');
const KNOWN = new Set([
  'MA', 'MAU', 'MAC', 'PN', 'PSN', 'SN', 'CCERT', 'IP', 'EXTIP', 'SWVER', 'HWVER', 'PRVST', 'UPGST', 'UPGERR', 'PRVTMR', 'UPGTMR',
  'REGTMR1', 'REGTMR2', 'SCHEME', 'SERV', 'SERVIP', 'PORT', 'PATH', 'ERR', 'ISCUST',
  ...Array.from({ length: 16 }, (_, n) => `UID${n + 1}`), ...LETTERS, ...LETTERS.map((l) => `GPP_${l}`),
]);
const SECRETS = new Set(['SA', 'SB', 'SC', 'SD', 'GPP_SA', 'GPP_SB', 'GPP_SC', 'GPP_SD']);

/** `secrets`: expand $SA…$SD (only for --key). `unknown`: keep an unknown `$NAME` as written (default) or drop it. */
export interface MacroOptions { secrets?: boolean; unknown?: 'keep' | 'empty' }

/** `GPP_A` and `A` (and `GPP_SA` and `SA`) are one value under two names. */
const alias = (name: string): string | undefined =>
  name.startsWith('GPP_') ? name.slice(4) : KNOWN.has(`GPP_${name}`) || SECRETS.has(`GPP_${name}`) ? `GPP_${name}` : undefined;

/** Expands macros once (values are not expanded again). Names in `values` are known too. */
export function expandMacros(text: string, values: Record<string, string>, o: MacroOptions = {}): string {
  const known = (n: string) => (o.secrets || !SECRETS.has(n)) && (KNOWN.has(n) || SECRETS.has(n) || (/^[A-Za-z]/.test(n) && Object.hasOwn(values, n)));
  const lookup = (n: string): string => [n, alias(n)].map((k) => (k !== undefined && Object.hasOwn(values, k) ? values[k]! : undefined)).find((x) => x !== undefined) ?? '';
  let out = '';
  let i = 0;
  for (let d = text.indexOf('$'); d >= 0; d = text.indexOf('$', i)) {
    out += text.slice(i, d);
    i = d + 1;
    const braced = /^\(([A-Za-z][A-Za-z0-9_]{0,31})(?::(\d{1,4}))?(?::(\d{1,4}))?\)/.exec(text.slice(i, i + 48));
    const run = /^[A-Za-z0-9_]{0,64}/.exec(text.slice(i, i + 64))![0];
    let len = run.length;
    while (len > 0 && !known(run.slice(0, len))) len--;
    if (text[i] === '$') {
      out += '$';
      i++;
    } else if (braced) {
      const [all, name, p, q] = braced;
      const from = Number(p ?? 0);
      if (known(name!)) out += lookup(name!).slice(from, q === undefined ? undefined : from + Number(q));
      else if (o.unknown !== 'empty') out += `$${all}`;
      i += all.length;
    } else if (len > 0) {
      out += lookup(run.slice(0, len));
      i += len;
    } else if (o.unknown === 'empty' && run) i += run.length;
    else out += '$';
  }
  return out + text.slice(i);
}

// ---- evaluation ---------------------------------------------------------------------------

/** Integers numerically; otherwise digit runs as numbers and the rest as text (versions). */
function compareLoose(a: string, b: string): number {
  if (/^-?\d{1,15}$/.test(a) && /^-?\d{1,15}$/.test(b)) return Math.sign(Number(a) - Number(b));
  const ta = a.match(/\d+|\D+/g) ?? [];
  const tb = b.match(/\d+|\D+/g) ?? [];
  for (let n = 0; n < Math.min(ta.length, tb.length); n++) {
    const digits = /^\d/.test(ta[n]!) && /^\d/.test(tb[n]!);
    // Digit runs without leading zeros: the longer is the larger, else they compare as text.
    const [x, y] = [ta[n]!, tb[n]!].map((t) => (digits ? t.replace(/^0+(?=.)/, '') : t)) as [string, string];
    if (digits && x.length !== y.length) return x.length < y.length ? -1 : 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return Math.sign(ta.length - tb.length);
}

export function evaluateCondition(expr: Expr, macroValues: Record<string, string>): boolean {
  if (expr.kind !== 'compare') {
    const l = evaluateCondition(expr.left, macroValues);
    return expr.kind === 'and' ? l && evaluateCondition(expr.right, macroValues) : l || evaluateCondition(expr.right, macroValues);
  }
  const l = expandMacros(expr.left.text, macroValues);
  const r = expandMacros(expr.right.text, macroValues);
  const c = expr.left.quoted || expr.right.quoted ? (l === r ? 0 : l < r ? -1 : 1) : compareLoose(l, r);
  return { eq: c === 0, ne: c !== 0, lt: c < 0, le: c <= 0, gt: c > 0, ge: c >= 0 }[expr.op];
}

/** The alternative, and its URL (undefined: none), assignments and options expanded; only `key` sees $SA…$SD. */
export interface ChosenAlternative { alternative: RuleAlternative; url: string | undefined; assignments: Assignment[]; options: RuleOptions }

/** The first alternative whose condition holds, expanded as the phone would act on it. */
export function chooseAlternative(rule: ProfileRule, macroValues: Record<string, string>): ChosenAlternative | undefined {
  const alternative = rule.alternatives.find((a) => !a.condition || evaluateCondition(a.condition, macroValues));
  if (!alternative) return undefined;
  const v: Record<string, string> = Object.assign(Object.create(null), macroValues);
  const assignments = alternative.assignments.map(({ name, value }) => {
    const expanded = expandMacros(value, v);
    for (const n of [name, alias(name)]) if (n !== undefined) v[n] = expanded;
    return { name, value: expanded };
  });
  const o = alternative.options;
  const options: RuleOptions = { srv: o.srv };
  for (const k of VALUED) if (o[k] !== undefined) options[k] = expandMacros(o[k]!, v, { secrets: k === 'key' });
  return { alternative, url: alternative.url === undefined ? undefined : expandMacros(alternative.url, v), assignments, options };
}

// ---- URLs ---------------------------------------------------------------------------------

export type RuleScheme = 'tftp' | 'http' | 'https';
export const DEFAULT_PORTS: Record<RuleScheme, number> = { tftp: 69, http: 80, https: 443 };
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function hostPort(authority: string, at: number): { host: string; port?: number } {
  if (authority.includes('@')) fail('bad-url', 'credentials in the URL are not accepted (use --uid and --pwd)', at);
  const [, host = '', p] = /^(\[[0-9A-Fa-f:.]{2,45}\]|[^:]*)(?::(\d{1,5}))?$/.exec(authority) ?? [];
  if (!host.startsWith('[') && !isIpv4(host) && (!HOSTNAME.test(host) || /^[\d.]+$/.test(host))) fail('bad-host', `"${authority.slice(0, 60)}" is not host[:port]`, at);
  const port = p === undefined ? undefined : Number(p);
  if (port !== undefined && (port < 1 || port > 65535)) fail('bad-port', `port ${port} is outside 1..65535`, at);
  return port === undefined ? { host } : { host, port };
}

/** What the URL itself says: no scheme means TFTP, no host DHCP option 66's; `path` holds the query too. */
export interface SplitUrl { scheme?: RuleScheme; host?: string; port?: number; path: string }

/** Splits an expanded rule URL into what it says, filling in nothing. */
export function splitUrl(url: string): Result<SplitUrl> {
  return catchWire(() => {
    if (url.length === 0 || url.length > PROFILE_RULE_MAX_CHARS) fail('bad-url', `URL of ${url.length} characters`);
    const bad = /[^\x21-\x7e]/.exec(url);
    if (bad) fail('bad-url', 'white space, control or non-ASCII character in the URL', bad.index);
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
    const scheme = m?.[1]!.toLowerCase();
    if (scheme !== undefined && scheme !== 'tftp' && scheme !== 'http' && scheme !== 'https') fail('unsupported-scheme', `scheme "${scheme.slice(0, 20)}" is not tftp, http or https`, 0);
    if (!m && (url.startsWith('/') || !url.includes('/'))) return { path: url.startsWith('/') ? url : `/${url}` }; // a file on option 66's server
    const rest = m ? url.slice(m[0].length) : url;
    const cut = rest.search(/[/?#]/);
    const { host, port } = hostPort(cut < 0 ? rest : rest.slice(0, cut), m ? m[0].length : 0);
    const tail = cut < 0 ? '/' : rest.slice(cut);
    return { ...(scheme ? { scheme: scheme as RuleScheme } : {}), host, ...(port ? { port } : {}), path: tail.startsWith('/') ? tail : `/${tail}` };
  });
}

/** Where the phone fetches from: the rule's URL with TFTP, option 66 and default ports filled in. */
export function resolveUrl(url: string, o: { option66?: string } = {}): Result<{ scheme: RuleScheme; host: string; port: number; path: string }> {
  const split = splitUrl(url);
  if (!split.ok) return split;
  const { scheme = 'tftp', host, port, path } = split.value;
  if (host !== undefined) return ok({ scheme, host, port: port ?? DEFAULT_PORTS[scheme], path });
  const opt = o.option66?.trim();
  if (!opt) return err(new WireError(FORMAT, 'no-server', 'the URL names no server and DHCP gave no option 66'));
  // Option 66 names a TFTP server: `host`, `host:port`, or written as `tftp://host[:port][/]`.
  const server = catchWire(() => hostPort(opt.replace(/^tftp:\/\//i, '').replace(/\/$/, ''), 0));
  if (!server.ok) return err(new WireError(FORMAT, 'bad-option66', `DHCP option 66 "${opt.slice(0, 60)}": ${server.error.message}`));
  return ok({ scheme, host: server.value.host, port: server.value.port ?? DEFAULT_PORTS[scheme], path });
}
