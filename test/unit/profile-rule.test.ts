import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  DEFAULT_PROFILE_RULE, type Expr, type ProfileRule, type RuleAlternative, chooseAlternative, evaluateCondition, expandMacros, parseProfileRule,
  resolveUrl, splitUrl, writeProfileRule,
} from '../../src/wire/profile-rule.ts';
import { WireError } from '../../src/wire/result.ts';

// The three examples of reference onboarding-protocol.md §3.1.
const EX1 = '($PRVTMR ge 600)? http://p.tel.com/has-reg.cfg | [--post a] http://p.tel.com/lost-reg?';
const EX2 = '("$CCERT" eq "Installed")? https://p.tel.com/config? | https://p.tel.com/config?cisco$MAU';
const EX3 = '[--key MyOwnSecret] tftp://192.168.1.200/basic.cfg';

const PHONE: Record<string, string> = {
  MA: '000e08aabbcc', MAU: '000E08AABBCC', MAC: '00:0e:08:aa:bb:cc', PN: 'CP-8841-3PCC', PSN: '8841', SN: '88012BA01234',
  CCERT: 'Installed', SWVER: '11.3.7', PRVTMR: '700', A: 'gpp-a', GPP_B: 'gpp-b', SA: 'key-a', UID1: '4001',
};

const parsed = (text: string): ProfileRule => {
  const r = parseProfileRule(text);
  if (!r.ok) throw new Error(`expected a rule: ${r.error.message}`);
  return r.value;
};
const choose = (text: string, values: Record<string, string>) => chooseAlternative(parsed(text), values);
const cond = (text: string): Expr => parsed(`(${text})? x`).alternatives[0]!.condition!;

test('the reference examples parse into their parts', () => {
  assert.equal(parsed(EX1).alternatives, [
    { condition: { kind: 'compare', op: 'ge', left: { quoted: false, text: '$PRVTMR' }, right: { quoted: false, text: '600' } }, assignments: [], options: { srv: false }, url: 'http://p.tel.com/has-reg.cfg' },
    { assignments: [], options: { srv: false, post: 'a' }, url: 'http://p.tel.com/lost-reg?' },
  ]);
  assert.equal(parsed(EX2).alternatives[0]!.condition, { kind: 'compare', op: 'eq', left: { quoted: true, text: '$CCERT' }, right: { quoted: true, text: 'Installed' } });
  assert.equal(parsed(EX3).alternatives, [{ assignments: [], options: { srv: false, key: 'MyOwnSecret' }, url: 'tftp://192.168.1.200/basic.cfg' }]);
  assert.equal(parsed(DEFAULT_PROFILE_RULE).alternatives, [{ assignments: [], options: { srv: false }, url: '/$PSN.xml' }]);
  assert.equal(parsed('  ').alternatives, [], 'an empty rule fetches nothing');
});

test('the reference examples choose the expected alternative', () => {
  assert.is(choose(EX1, { ...PHONE, PRVTMR: '600' })!.url, 'http://p.tel.com/has-reg.cfg');
  const lost = choose(EX1, { ...PHONE, PRVTMR: '599' })!;
  assert.is(lost.url, 'http://p.tel.com/lost-reg?');
  assert.equal(lost.options, { srv: false, post: 'a' });
  assert.is(choose(EX1, { ...PHONE, PRVTMR: '' })!.url, 'http://p.tel.com/lost-reg?', 'no timer yet');
  assert.is(choose(EX2, PHONE)!.url, 'https://p.tel.com/config?');
  assert.is(choose(EX2, { ...PHONE, CCERT: 'Not Installed' })!.url, 'https://p.tel.com/config?cisco000E08AABBCC');
  const ex3 = choose(EX3, PHONE)!;
  assert.equal([ex3.url, ex3.options.key], ['tftp://192.168.1.200/basic.cfg', 'MyOwnSecret']);
  assert.equal(resolveUrl(ex3.url!), { ok: true, value: { scheme: 'tftp', host: '192.168.1.200', port: 69, path: '/basic.cfg' } });
  assert.is(choose(DEFAULT_PROFILE_RULE, PHONE)!.url, '/8841.xml');
  assert.is(choose('($A eq 1)? x', { A: '2' }), undefined, 'no alternative holds');
});

test('macro expansion', () => {
  const table: Array<[string, string]> = [
    ['$MA', '000e08aabbcc'], ['$MAU', '000E08AABBCC'], ['$MAC', '00:0e:08:aa:bb:cc'], ['$MAUx', '000E08AABBCCx'], ['$MAx', '000e08aabbccx'],
    ['/$PSN.xml', '/8841.xml'], ['$PN.cfg', 'CP-8841-3PCC.cfg'], ['$(PN)x', 'CP-8841-3PCCx'], ['sn=$SN', 'sn=88012BA01234'],
    ['$$', '$'], ['$$MAU', '$MAU'], ['a$$$MA', 'a$000e08aabbcc'], ['100$', '100$'], ['$ x', '$ x'],
    ['$(MAU:4)', '08AABBCC'], ['$(MAU:8:2)', 'BB'], ['$(MAU:20)', ''],
    ['spa$STRANGE$MAU.cfg', 'spa$STRANGE000E08AABBCC.cfg'], ['$(STRANGE)', '$(STRANGE)'], ['$(MAU', '$(MAU'],
    ['$A/$GPP_A/$B/$GPP_B/$C', 'gpp-a/gpp-a/gpp-b/gpp-b/'], ['$UID1', '4001'], ['$EXTIP', ''], ['$SWVER', '11.3.7'],
    ['$SA', '$SA'], ['$(SA)', '$(SA)'], ['$constructor', '$constructor'],
  ];
  for (const [text, want] of table) assert.is(expandMacros(text, PHONE), want, text);
  assert.is(expandMacros('--$SA/$(SB)', { ...PHONE, GPP_SB: 'key-b' }, { secrets: true }), '--key-a/key-b');
  assert.is(expandMacros('spa$STRANGE$(ODD)$MA', PHONE, { unknown: 'empty' }), 'spa000e08aabbcc');
  assert.is(expandMacros('$HOME', { HOME: 'caller-defined' }), 'caller-defined', 'names the caller gives are known');
});

test('conditions: numbers, versions, strings, and/or, parentheses, symbols', () => {
  const table: Array<[string, boolean]> = [
    ['$PRVTMR gt 600', true], ['$PRVTMR lt 600', false], ['$PRVTMR = 700', true], ['$PRVTMR != 700', false], ['$PRVTMR >= 701', false], ['$PRVTMR <= 700', true],
    ['-1 lt 0', true], ['$SWVER ge 11.3.6', true], ['$SWVER lt 11.3.10', true], ['$SWVER eq 11.3.07', true], ['2.0.6 gt 2.0', true],
    ['"$CCERT" eq "Installed"', true], ['"$CCERT" ne "Installed"', false], ['"$EXTIP" ne ""', false], ['"10" eq "010"', false],
    ['$PRVTMR gt 1 and "$PN" eq "CP-8841-3PCC"', true], ['$PRVTMR lt 1 or $PRVTMR gt 1 and $PRVTMR lt 2', false],
    ['($PRVTMR lt 1 or $PRVTMR gt 1) and $PRVTMR lt 2', false], ['$PRVTMR lt 1 or ($PRVTMR gt 1 and $PRVTMR lt 800)', true],
    ['(($PRVTMR eq 700))', true], ['$(MAU:0:2)==00', true],
  ];
  for (const [text, want] of table) assert.is(evaluateCondition(cond(text), PHONE), want, text);
});

test('assignments: parsed, expanded, and in effect before the URL is expanded', () => {
  const rule = parsed('( User_ID_1_ = "uid$B" ; c = "" ; d = "$MA" ; )! [--key $SA --uid $UID1 --pwd "p w" --alias b --srv] http://h/$D/$(GPP_C)x');
  assert.equal(rule.alternatives[0]!.assignments, [{ name: 'User_ID_1_', value: 'uid$B' }, { name: 'GPP_C', value: '' }, { name: 'GPP_D', value: '$MA' }]);
  const c = chooseAlternative(rule, PHONE)!;
  assert.equal(c.assignments, [{ name: 'User_ID_1_', value: 'uidgpp-b' }, { name: 'GPP_C', value: '' }, { name: 'GPP_D', value: '000e08aabbcc' }]);
  assert.is(c.url, 'http://h/000e08aabbcc/x');
  assert.equal(c.options, { srv: true, key: 'key-a', uid: '4001', pwd: 'p w', alias: 'b' });
  assert.equal(parsed('(GPP_A = x; GPP_B = 2)!').alternatives[0]!.assignments, [{ name: 'GPP_A', value: 'x' }, { name: 'GPP_B', value: '2' }]);
  assert.is(choose('($A eq 1)? (a = 2;)! /$A | /no', { A: '1' })!.url, '/2', 'the condition sees the values before');
});

test('bad rules are refused with the character offset', () => {
  const cases: Array<[string, string, number | undefined]> = [
    ['($A eq 1? x', 'unbalanced', 0], ['($A eq 1)) x', 'syntax', 9], ['("$A eq 1)? x', 'unbalanced', 1], ['[--key k x', 'unbalanced', 0],
    ['x | y', 'no-condition', 0], ['($A eq 1)? x | y | z', 'no-condition', 15], ['[--cipher aes] x', 'unknown-option', 1], ['[key k] x', 'unknown-option', 1],
    ['[--key] x', 'syntax', 6], ['[--key --uid u] x', 'syntax', 7], ['[--srv --srv] x', 'syntax', 7],
    ['($A foo 1)? x', 'bad-operator', 4], ['($A ! 1)? x', 'bad-operator', 4], ['("$A" lt "1")? x', 'bad-operator', 6], ['($A eq)? x', 'syntax', 6],
    ['($A eq 1 and)? x', 'syntax', 12], ['($A eq 1 $B)? x', 'syntax', 9], ['($A eq 1) x', 'syntax', 10],
    ['(a = 1;)! ($A eq 1)? x', 'syntax', 19], ['(a 1)! x', 'syntax', 3], ['(a = 1 2)! x', 'syntax', 7], ['x y', 'syntax', 2],
    ['($A eq 1)? x ||', 'syntax', 14], ['($A eq 1)? x |', 'syntax', 14], ['x\u0000', 'syntax', 1],
    [`(${'('.repeat(20)}$A eq 1${')'.repeat(20)})? x`, 'oversized', undefined], ['x'.repeat(2049), 'oversized', undefined],
  ];
  for (const [text, code, at] of cases) {
    const r = parseProfileRule(text);
    if (r.ok) return assert.unreachable(`accepted: ${text}`);
    assert.is(r.error.code, code, `${text}: ${r.error.message}`);
    if (at !== undefined) assert.is(r.error.at, at, `${text}: ${r.error.message}`);
  }
});

test('URL resolution: no scheme is TFTP from option 66, default ports, what is refused', () => {
  const ok = (url: string, option66?: string) => {
    const r = resolveUrl(url, option66 === undefined ? {} : { option66 });
    if (!r.ok) throw new Error(`${url}: ${r.error.message}`);
    return r.value;
  };
  assert.equal(ok('/8841.xml', '10.0.0.5'), { scheme: 'tftp', host: '10.0.0.5', port: 69, path: '/8841.xml' });
  assert.equal(ok('CP-8841-3PCC.cfg', 'tftp.lab:1069'), { scheme: 'tftp', host: 'tftp.lab', port: 1069, path: '/CP-8841-3PCC.cfg' });
  assert.equal(ok('/x.cfg', 'tftp://boot.lab/'), { scheme: 'tftp', host: 'boot.lab', port: 69, path: '/x.cfg' });
  assert.equal(ok('prov.lab/cfg/a.xml'), { scheme: 'tftp', host: 'prov.lab', port: 69, path: '/cfg/a.xml' });
  assert.equal(ok('tftp://prov.telco.com:6900/cisco/config/CP_xxxx_MPP.cfg'), { scheme: 'tftp', host: 'prov.telco.com', port: 6900, path: '/cisco/config/CP_xxxx_MPP.cfg' });
  assert.equal(ok('HTTP://p.tel.com/lost-reg?'), { scheme: 'http', host: 'p.tel.com', port: 80, path: '/lost-reg?' });
  assert.equal(ok('https://p.tel.com?cisco'), { scheme: 'https', host: 'p.tel.com', port: 443, path: '/?cisco' });
  assert.equal(ok('https://[2001:db8::1]:8443'), { scheme: 'https', host: '[2001:db8::1]', port: 8443, path: '/' });
  assert.equal(splitUrl('/8841.xml'), { ok: true, value: { path: '/8841.xml' } }, 'the caller can see that no scheme and no server were given');
  const refusals: Array<[string, string, string | undefined]> = [
    ['/8841.xml', 'no-server', undefined], ['/8841.xml', 'bad-option66', 'http://x/'], ['/8841.xml', 'bad-option66', 'a b'],
    ['ftp://h/x', 'unsupported-scheme', undefined], ['http://u:p@h/x', 'bad-url', undefined], ['http://h:0/x', 'bad-port', undefined],
    ['http://h:65536/x', 'bad-port', undefined], ['http:///x', 'bad-host', undefined], ['http://bad_host!/x', 'bad-host', undefined],
    ['http://h/a b', 'bad-url', undefined], ['http://h/é', 'bad-url', undefined], ['', 'bad-url', undefined], ['http://999.1.1.1/', 'bad-host', undefined],
  ];
  for (const [url, code, option66] of refusals) {
    const r = resolveUrl(url, option66 === undefined ? {} : { option66 });
    assert.ok(!r.ok && r.error.code === code, `${url} / ${option66}: ${r.ok ? 'accepted' : r.error.message}`);
  }
});

// ---- properties -----------------------------------------------------------------------------

const word = fc.stringMatching(/^[A-Za-z0-9$._:-]{1,12}$/).filter((w) => !['and', 'or', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'].includes(w));
const text = fc.stringMatching(/^[^"\x00-\x1f\x7f]{0,16}$/);
const operand = fc.oneof(fc.record({ quoted: fc.constant(true), text }), fc.record({ quoted: fc.constant(false), text: fc.oneof(word, fc.constant('$(MAU:4)')) }));
const compare = fc.tuple(operand, fc.constantFrom('eq', 'ne', 'lt', 'le', 'gt', 'ge' as const), operand).map(([left, op, right]): Expr => ({
  kind: 'compare', op: left.quoted || right.quoted ? (op === 'eq' ? 'eq' : 'ne') : op, left: { ...left }, right: { ...right },
}));
const expr: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof({ depthSize: 'small', maxDepth: 4 }, compare, fc.record({ kind: fc.constantFrom('and', 'or' as const), left: tie('e'), right: tie('e') }).map((x): Expr => ({ ...x }))),
})).e;
const alternative = fc.record({
  condition: fc.option(expr, { nil: undefined }),
  assignments: fc.array(fc.record({ name: fc.stringMatching(/^[A-Z][A-Za-z0-9_]{0,10}$/), value: text }).map((a) => ({ ...a })), { maxLength: 3 }),
  options: fc.record({ key: fc.option(text, { nil: undefined }), post: fc.option(word, { nil: undefined }), srv: fc.boolean() }),
  url: fc.option(fc.stringMatching(/^[a-z]{1,5}:\/\/[a-z.]{1,10}\/[\x21-\x7b\x7d\x7e]{0,20}$/).filter((u) => !/^[([\]"]/.test(u)), { nil: undefined }),
}).map((a): RuleAlternative => {
  const options = { srv: a.options.srv, ...(a.options.key !== undefined ? { key: a.options.key } : {}), ...(a.options.post !== undefined ? { post: a.options.post } : {}) };
  return { ...(a.condition ? { condition: a.condition } : {}), assignments: a.assignments, options, ...(a.url !== undefined ? { url: a.url } : {}) };
});
const rule = fc.array(alternative, { minLength: 1, maxLength: 4 }).map((alts): ProfileRule => ({
  // Every alternative but the last has a condition, and none is empty.
  alternatives: alts.map((a, n) => (n < alts.length - 1 && !a.condition ? { ...a, condition: cond('$A eq 1') } : a)).map((a) => (a.condition || a.assignments.length || a.url || a.options.key !== undefined || a.options.post !== undefined || a.options.srv ? a : { ...a, url: '/x' })),
}));

test('property: writing a rule and parsing it back gives the same rule', () => {
  for (const ex of [EX1, EX2, EX3, DEFAULT_PROFILE_RULE]) assert.equal(parsed(writeProfileRule(parsed(ex))), parsed(ex), ex);
  fc.assert(
    fc.property(rule, (r) => {
      const back = parseProfileRule(writeProfileRule(r));
      assert.ok(back.ok, back.ok ? '' : `${writeProfileRule(r)}: ${back.error.message}`);
      assert.equal(back.ok && back.value, r);
    }),
    { numRuns: 500, seed: 3 },
  );
});

test('property: hostile rule text never throws, and what parses can be evaluated and resolved', () => {
  const values = { ...PHONE, constructor: 'x', __proto__: 'y' } as Record<string, string>;
  const attempt = (s: string) => {
    const r = parseProfileRule(s);
    if (!r.ok) return r.error instanceof WireError;
    const c = chooseAlternative(r.value, values);
    if (c?.url !== undefined) {
      const u = resolveUrl(c.url, { option66: '10.0.0.1' });
      if (!u.ok && !(u.error instanceof WireError)) return false;
    }
    return true;
  };
  const alphabet = fc.constantFrom('(', ')', '[', ']', '"', '|', '?', '!', '$', '$$', '$(', ':', ';', '=', ' ', 'a', 'eq', 'and', 'or', '--key', '--srv', 'http://', '/', '1', '<', '>', '\n');
  fc.assert(fc.property(fc.string({ unit: alphabet, maxLength: 40 }), attempt), { numRuns: 3000, seed: 9 });
  fc.assert(fc.property(fc.string({ maxLength: 200 }), attempt), { numRuns: 1500, seed: 9 });
  fc.assert(
    fc.property(fc.constantFrom(EX1, EX2, EX3), fc.array(fc.tuple(fc.nat(200), fc.constantFrom('(', ')', '"', '|', '[', ']', '?', '!', '', ' ', '$')), { minLength: 1, maxLength: 5 }), (base, edits) => {
      let s = base;
      for (const [i, c] of edits) s = s.slice(0, i % s.length) + c + s.slice((i % s.length) + 1);
      return attempt(s);
    }),
    { numRuns: 2000, seed: 9 },
  );
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => typeof expandMacros(s, values) === 'string' && (resolveUrl(s).ok || true)), { numRuns: 1500, seed: 9 });
});

test.run();
