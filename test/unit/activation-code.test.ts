import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { CODE_SALT_BYTES, MAX_CODE_INPUT, codeHash, deriveCode, formatCode, generateCode, luhnDigit, luhnValid, normalizeCode } from '../../src/wire/activation-code.ts';
import { WireError } from '../../src/wire/result.ts';

/** A deterministic byte source (SHA-256 in counter mode), so statistics below cannot flake. */
function seeded(seed: string): (n: number) => Uint8Array {
  let pool = Buffer.alloc(0);
  let counter = 0;
  return (n) => {
    while (pool.length < n) pool = Buffer.concat([pool, createHash('sha256').update(`${seed}/${counter++}`).digest()]);
    const out = Uint8Array.from(pool.subarray(0, n));
    pool = pool.subarray(n);
    return out;
  };
}

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
const salt = fc.uint8Array({ minLength: CODE_SALT_BYTES, maxLength: CODE_SALT_BYTES });
const fail = (input: string) => {
  const r = normalizeCode(input);
  return r.ok ? undefined : r.error;
};

test('Luhn: the textbook vectors and card-style numbers', () => {
  assert.is(luhnDigit('7992739871'), '3');
  assert.ok(luhnValid('79927398713'));
  assert.not.ok(luhnValid('79927398710'));
  assert.ok(luhnValid('4111111111111111'));
  assert.ok(luhnValid('5555555555554444'));
  assert.is(luhnDigit('411111111111111'), '1');
  assert.is(luhnDigit('000000000000000'), '0');
  assert.not.ok(luhnValid(''));
  assert.not.ok(luhnValid('4111-1111'));
  assert.throws(() => luhnDigit('12a'), RangeError);
});

test('normalize: separators are ignored, the four refusals are typed', () => {
  for (const s of ['4111-1111-1111-1111', '4111 1111 1111 1111', '4111111111111111', ' 4111-1111 1111--1111 ']) {
    assert.equal(normalizeCode(s), { ok: true, value: '4111111111111111' });
  }
  assert.is(formatCode('4111111111111111'), '4111-1111-1111-1111');
  assert.throws(() => formatCode('4111-1111-1111-1111'), RangeError);
  const cases: Array<[string, string]> = [
    ['4111-1111-1111-111', 'length'],
    ['41111111111111111', 'length'],
    ['', 'length'],
    ['-'.repeat(MAX_CODE_INPUT + 1), 'length'],
    ['4111_1111_1111_1111', 'characters'],
    ['4111111111111111\n', 'characters'],
    ['١١١١111111111111', 'characters'], // Arabic-Indic digits
    ['４111111111111111', 'characters'], // fullwidth 4
    ['4111111111111112', 'check-digit'],
  ];
  for (const [input, code] of cases) {
    const e = fail(input);
    assert.ok(e instanceof WireError, input);
    assert.is(e!.format, 'activation-code');
    assert.is(e!.code, code, input);
  }
  assert.is(fail('4111x')!.at, 4);
});

test('every generated and derived code is canonical and passes normalize', () => {
  const rnd = seeded('canonical');
  for (let i = 0; i < 2000; i++) {
    const c = generateCode(rnd);
    assert.equal(normalizeCode(c), { ok: true, value: c });
    assert.equal(normalizeCode(formatCode(c)), { ok: true, value: c });
  }
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), salt, (secret, s) => {
    const c = deriveCode(secret, s);
    const n = normalizeCode(c);
    return n.ok && n.value === c && /^[0-9]{16}$/.test(c);
  }), { seed: 0xac7, numRuns: 500 });
});

test('property: any single wrong digit, or a swap of neighbours other than 0↔9, fails the check digit', () => {
  const code = fc.uint8Array({ minLength: 15, maxLength: 15 }).map((b) => {
    const body = [...b].map((x) => x % 10).join('');
    return body + luhnDigit(body);
  });
  fc.assert(fc.property(code, fc.nat(15), fc.integer({ min: 1, max: 9 }), (c, i, delta) => {
    const typo = c.slice(0, i) + String((Number(c[i]) + delta) % 10) + c.slice(i + 1);
    return fail(typo)?.code === 'check-digit';
  }), { seed: 1, numRuns: 3000 });
  fc.assert(fc.property(code, fc.nat(14), (c, i) => {
    const [a, b] = [c[i]!, c[i + 1]!];
    fc.pre(a !== b && !(a + b === '09' || a + b === '90'));
    const swapped = c.slice(0, i) + b + a + c.slice(i + 2);
    return fail(swapped)?.code === 'check-digit';
  }), { seed: 2, numRuns: 3000 });
  // The one swap Luhn cannot see, documented rather than hidden: 0 and 9 both add 0 and 9 whichever is doubled.
  assert.ok(luhnValid('0900000000000001') && luhnValid('9000000000000001'));
});

test('property: normalize never throws, whatever the string', () => {
  const unicodeDigits = fc.constantFrom('١', '۵', '४', '৭', '๓', '４', '𝟙', '²', '½', '-', ' ', '7', '0');
  const mixed = fc.array(fc.oneof(unicodeDigits, fc.string({ unit: 'binary', maxLength: 3 })), { maxLength: 30 }).map((a) => a.join(''));
  fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 100 }), mixed), (s) => {
    const r = normalizeCode(s);
    if (r.ok) return /^[0-9]{16}$/.test(r.value) && luhnValid(r.value);
    return r.error instanceof WireError;
  }), { seed: 3, numRuns: 5000 });
  assert.is(fail('4111111111111111'.replace('1', '١'))!.code, 'characters');
});

test('derived codes: deterministic per (secret, salt), different for different salts and secrets', () => {
  fc.assert(fc.property(salt, salt, (a, b) => {
    fc.pre(Buffer.compare(a, b) !== 0);
    return deriveCode(SECRET, a) === deriveCode(SECRET, Uint8Array.from(a)) && deriveCode(SECRET, a) !== deriveCode(SECRET, b);
  }), { seed: 4, numRuns: 300 });
  const rnd = seeded('salts');
  const codes = new Set(Array.from({ length: 500 }, () => deriveCode(SECRET, rnd(CODE_SALT_BYTES))));
  assert.is(codes.size, 500);
  const s = rnd(CODE_SALT_BYTES);
  const other = Uint8Array.from(SECRET, (x, i) => (i === 0 ? x ^ 1 : x));
  assert.is.not(deriveCode(SECRET, s), deriveCode(other, s));
  assert.throws(() => deriveCode(SECRET, new Uint8Array(15)), RangeError);
  assert.throws(() => deriveCode(new Uint8Array(16), s), RangeError);
});

test('code hash: keyed, canonical input only, and never the code itself', () => {
  const c = deriveCode(SECRET, new Uint8Array(CODE_SALT_BYTES));
  const h = codeHash(SECRET, c);
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.is(codeHash(SECRET, c), h);
  assert.is.not(codeHash(new Uint8Array(32), c), h);
  assert.not.ok(h.includes(c));
  assert.throws(() => codeHash(SECRET, formatCode(c)), RangeError);
});

test('rejection sampling: bytes 250..255 are dropped, so a source cycling all 256 values gives flat digits', () => {
  // 255 and 250 are refused, then 7, 8, ... are taken in order.
  const script = [255, 250, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21];
  let at = 0;
  const code = generateCode((n) => Uint8Array.from(script.slice(at, (at += n))));
  assert.is(code.slice(0, 15), '789012345678901');
  let next = 0;
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 2000; i++) {
    for (const d of generateCode((n) => Uint8Array.from({ length: n }, () => next++ & 0xff)).slice(0, 15)) counts[Number(d)]!++;
  }
  // Each full cycle of 256 bytes gives every digit exactly 25 times; only the unfinished cycle may differ.
  assert.ok(Math.max(...counts) - Math.min(...counts) <= 25, String(counts));
  assert.throws(() => generateCode((n) => new Uint8Array(n).fill(255)), /no usable bytes/);
});

test('generated digits are uniform: chi-square over 10,000 codes (seeded, loose bound)', () => {
  const rnd = seeded('uniform');
  const counts = new Array<number>(10).fill(0);
  const checks = new Array<number>(10).fill(0);
  const codes = 10_000;
  for (let i = 0; i < codes; i++) {
    const c = generateCode(rnd);
    for (let p = 0; p < 15; p++) counts[Number(c[p])]!++;
    checks[Number(c[15])]!++;
  }
  const chi = (obs: number[], expected: number) => obs.reduce((s, o) => s + (o - expected) ** 2 / expected, 0);
  // 9 degrees of freedom: 21.7 is p = 0.01, 45 about p = 1e-6. A % 10 bias would give several hundred.
  assert.ok(chi(counts, (codes * 15) / 10) < 45, `digits ${counts}`);
  assert.ok(chi(checks, codes / 10) < 45, `check digits ${checks}`);
});

test.run();
