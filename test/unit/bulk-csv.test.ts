import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { parseCsv, readTable, writeCsv } from '../../src/cm/bulk/csv.ts';
import { WireError } from '../../src/wire/result.ts';

const refusal = (r: { ok: true } | { ok: false; error: WireError }) => (r.ok ? undefined : { code: r.error.code, at: r.error.at });

test('RFC 4180: quoted commas, doubled quotes, CRLF and LF, embedded line breaks', () => {
  assert.equal(parseCsv('a,b,c\r\n1,"x, y","say ""hi"""\n'), { ok: true, value: [['a', 'b', 'c'], ['1', 'x, y', 'say "hi"']] });
  assert.equal(parseCsv('"two\r\nlines","and\nthis"\r\nz,'), { ok: true, value: [['two\r\nlines', 'and\nthis'], ['z', '']] });
  assert.equal(parseCsv(''), { ok: true, value: [] });
  assert.equal(parseCsv(',\n""\n'), { ok: true, value: [['', ''], ['']] });
  assert.equal(parseCsv('\ta b\t,"\t"'), { ok: true, value: [['\ta b\t', '\t']] });
});

test('empty lines are skipped and a trailing newline adds no row; a BOM at the start is dropped', () => {
  assert.equal(parseCsv('\r\n\na,b\r\n\r\n\nc,d\n\n'), { ok: true, value: [['a', 'b'], ['c', 'd']] });
  assert.equal(parseCsv('\ufeffDevice Name,Status\r\n'), { ok: true, value: [['Device Name', 'Status']] });
  assert.equal(parseCsv('\ufeff'), { ok: true, value: [] });
  // Only the very first one: elsewhere it is data.
  assert.equal(parseCsv('a,\ufeffb'), { ok: true, value: [['a', '\ufeffb']] });
});

test('malformed input is refused with the line it is on', () => {
  const cases: Array<[string, string, number | undefined]> = [
    ['a,b\n"open,c\nd,e\n', 'unterminated-quote', 2],
    ['a,b\nc,d"e\n', 'stray-quote', 2],
    ['a, "b"\n', 'stray-quote', 1],
    ['"a"b,c\n', 'stray-quote', 1],
    ['a\rb\n', 'bare-cr', 1],
    ['a,b\nc\u0000,d\n', 'control-character', 2],
    ['a\n"x\ny\u001bz"\n', 'control-character', 3],
    ['a,\u0085b\n', 'control-character', 1],
    ['a\u007f\n', 'control-character', 1],
  ];
  for (const [text, code, at] of cases) assert.equal(refusal(parseCsv(text)), { code, at }, JSON.stringify(text));
});

test('limits: bytes (in UTF-8), rows, fields', () => {
  assert.equal(refusal(parseCsv('é'.repeat(600), { maxBytes: 1000 })), { code: 'oversized', at: undefined });
  assert.ok(parseCsv('é'.repeat(500), { maxBytes: 1000 }).ok);
  assert.equal(refusal(parseCsv('a\nb\nc\n\nd\n', { maxRows: 3 })), { code: 'too-many-rows', at: 5 });
  assert.ok(parseCsv('a\nb\nc\n\n', { maxRows: 3 }).ok);
  assert.equal(refusal(parseCsv('a,b\n"x\ny",2,3\n', { maxFields: 2 })), { code: 'too-many-fields', at: 2 });
  assert.equal(refusal(parseCsv(`${','.repeat(64)}\n`)), { code: 'too-many-fields', at: 1 });
  // Huge quoted fields: over the limit is refused up front, just under it is read.
  assert.equal(refusal(parseCsv(`"${'x'.repeat(2 * 1024 * 1024)}"`)), { code: 'oversized', at: undefined });
  const big = parseCsv(`"${'x""'.repeat(300_000)}"`);
  assert.ok(big.ok && big.value[0]![0]!.length === 600_000);
  assert.equal(refusal(parseCsv(`"${'x'.repeat(1000)}`)), { code: 'unterminated-quote', at: 1 });
});

test('property: hostile text never throws, and what is read obeys the limits', () => {
  const pieces = fc.constantFrom('"', '""', ',', '\r\n', '\n', '\r', '\u0000', '\t', '\ufeff', 'a', ' ', 'é', '𝟙');
  const csvish = fc.array(fc.oneof(pieces, fc.string({ unit: 'binary', maxLength: 4 })), { maxLength: 80 }).map((a) => a.join(''));
  const limits = { maxBytes: 200, maxRows: 6, maxFields: 5 };
  fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), csvish), (s) => {
    for (const o of [undefined, limits]) {
      const r = parseCsv(s, o);
      if (!r.ok) {
        if (!(r.error instanceof WireError)) return false;
        continue;
      }
      if (o && (r.value.length > o.maxRows || r.value.some((row) => row.length > o.maxFields))) return false;
    }
    const t = readTable(s, ['a'], ['b']);
    return t.ok || t.error instanceof WireError;
  }), { seed: 0xc5f, numRuns: 5000 });
});

/** What the writer promises to read back: formulas behind an apostrophe, refused controls as U+FFFD. */
const expected = (f: string) => {
  const v = f.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g, '\ufffd');
  return /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
};

test('property: writeCsv then parseCsv gives the table back (neutralized fields accounted for)', () => {
  const field = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.array(fc.constantFrom('"', ',', '\r', '\n', ' ', '=', '-', '+', '@', '\t', 'x', '\u0000', '\ufeff'), { maxLength: 6 }).map((a) => a.join('')),
  );
  const table = fc.array(fc.array(field, { minLength: 1, maxLength: 8 }), { maxLength: 12 });
  fc.assert(fc.property(table, fc.boolean(), (rows, bom) => {
    const text = writeCsv(rows, { bom });
    const back = parseCsv(text);
    assert.equal(back, { ok: true, value: rows.map((r) => r.map(expected)) });
    return rows.length === 0 || text.endsWith('\r\n');
  }), { seed: 0x4180, numRuns: 3000 });
  assert.throws(() => writeCsv([[]]), RangeError);
});

test('writer: quoting only when needed, CRLF, and spreadsheet formulas neutralized', () => {
  assert.is(writeCsv([['a', 'b c', 'x,y', 'say "hi"', ' lead', 'trail ', 'two\nlines'], ['']]), 'a,b c,"x,y","say ""hi"""," lead","trail ","two\nlines"\r\n""\r\n');
  assert.is(
    writeCsv([['=HYPERLINK("http://evil/","x")', '+1+cmd|/C calc!A0', '-2+3', '@SUM(A1)', '\t=1', '\r=1', 'a=b', '4729180365512287', 'SEP001122334455']]),
    `"'=HYPERLINK(""http://evil/"",""x"")",'+1+cmd|/C calc!A0,'-2+3,'@SUM(A1),'\t=1,"'\r=1",a=b,4729180365512287,SEP001122334455\r\n`,
  );
  assert.is(writeCsv([['a\u0000b']]), 'a\ufffdb\r\n');
  assert.is(writeCsv([['x']], { bom: true }), '\ufeffx\r\n');
});

const COLUMNS = ['Device Name', 'Description', 'Device Type', 'Owner User ID'];

test('readTable: header matched trimmed and case-insensitively, records keep their line', () => {
  const text = '\ufeff device name ,DEVICE TYPE,Description\r\nBAT001122334455,8841,"Front desk,\nlobby"\r\n,,\r\nSEP00AABBCCDDEE,8851,\r\n';
  assert.equal(readTable(text, ['Device Name', 'Device Type'], ['Description', 'Owner User ID']), {
    ok: true,
    value: [
      { line: 2, fields: { 'Device Name': 'BAT001122334455', 'Device Type': '8841', Description: 'Front desk,\nlobby' } },
      { line: 5, fields: { 'Device Name': 'SEP00AABBCCDDEE', 'Device Type': '8851', Description: '' } },
    ],
  });
});

test('readTable: unknown, duplicate and missing columns; a bad row after a multi-line field names its own line', () => {
  const t = (text: string) => readTable(text, ['Device Name', 'Device Type'], ['Description', 'Owner User ID']);
  const unknown = t('Device Name,Device Type,Colour\n');
  assert.ok(!unknown.ok && unknown.error.code === 'unknown-column' && unknown.error.message.includes('"Colour"') && unknown.error.at === 1);
  assert.equal(refusal(t('Device Name,device name,Device Type\n')), { code: 'duplicate-column', at: 1 });
  const missing = t('\n\nDevice Name,Description\n');
  assert.ok(!missing.ok && missing.error.code === 'missing-column' && missing.error.message.includes('"Device Type"') && missing.error.at === 3);
  assert.equal(refusal(t('')), { code: 'missing-header', at: 1 });
  const text = 'Device Name,Device Type,Description\nBAT1,8841,"a\nb\nc"\nBAT2,8841\nBAT3,8841,x\n';
  assert.equal(refusal(t(text)), { code: 'field-count', at: 5 });
  assert.equal(refusal(t('Device Name,Device Type\nBAT1,"a\nb"\nBAT2,x"y\n')), { code: 'stray-quote', at: 4 });
  assert.ok(t(COLUMNS.join(',')).ok);
});

test.run();
