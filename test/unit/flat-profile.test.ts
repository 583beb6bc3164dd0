import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  type FlatParam, type ProfileDigest, decryptOpensslCompatible, encryptOpensslCompatible, flatValues, parseFlatProfile, writeFlatProfile,
} from '../../src/wire/flat-profile.ts';
import { WireError } from '../../src/wire/result.ts';

// The example of reference onboarding-protocol.md §3.1, as written there.
const REFERENCE = `<flat-profile>
  <Resync_On_Reset>Yes</Resync_On_Reset>
  <Resync_Periodic>7200</Resync_Periodic>
  <Profile_Rule>tftp://prov.telco.com:6900/cisco/config/CP_xxxx_MPP.cfg</Profile_Rule>
</flat-profile>`;

const read = (s: string | Uint8Array, o?: Parameters<typeof parseFlatProfile>[1]) => {
  const r = parseFlatProfile(typeof s === 'string' ? Buffer.from(s) : s, o);
  if (!r.ok) throw new Error(`expected a profile: ${r.error.message}`);
  return r.value;
};
const refused = (s: string | Uint8Array, o?: Parameters<typeof parseFlatProfile>[1]): WireError => {
  const r = parseFlatProfile(typeof s === 'string' ? Buffer.from(s) : s, o);
  if (r.ok) throw new Error('expected a refusal');
  return r.error;
};
/** `openssl enc` itself (the module never runs it; the test checks we agree with it). */
const openssl = (args: string[], input: Uint8Array): Buffer => execFileSync('openssl', ['enc', '-aes-256-cbc', '-k', 'secret', ...args], { input, stdio: ['pipe', 'pipe', 'pipe'] });
const mdArgs = (d: ProfileDigest) => (d === 'md5' ? ['-md', 'md5'] : []);

test('reads the reference example profile', () => {
  const p = read(REFERENCE);
  assert.equal(flatValues(p), { Resync_On_Reset: 'Yes', Resync_Periodic: '7200', Profile_Rule: 'tftp://prov.telco.com:6900/cisco/config/CP_xxxx_MPP.cfg' });
  assert.is(p.encrypted, false);
  assert.is(p.gzipped, false);
});

test('unknown names are kept, the last occurrence wins, ua is read and carried over', () => {
  const p = read(`<?xml version="1.0" encoding="UTF-8"?>
<flat-profile>
  <Proxy_1_ ua="na">a.example</Proxy_1_>
  <Not_A_Real_Field_9_>kept</Not_A_Real_Field_9_>
  <Proxy_1_>b.example</Proxy_1_>
  <Display_Name_1_ ua="rw">  Alice &amp; Bob  </Display_Name_1_>
  <Station_Name ua="ro"/>
  <Dial_Plan_1_ ua="rw">(x.)</Dial_Plan_1_>
  <Dial_Plan_1_ ua="ro"><![CDATA[(<9:>xx.)]]></Dial_Plan_1_>
</flat-profile>`);
  assert.equal([...p.params], [
    ['Proxy_1_', { value: 'b.example', ua: 'na' }],
    ['Not_A_Real_Field_9_', { value: 'kept' }],
    ['Display_Name_1_', { value: '  Alice & Bob  ', ua: 'rw' }],
    ['Station_Name', { value: '', ua: 'ro' }],
    ['Dial_Plan_1_', { value: '(<9:>xx.)', ua: 'ro' }],
  ]);
});

test('every <flat-profile> counts, wherever it is nested, in document order', () => {
  const p = read(`<device><header><Resync_Periodic>ignored, outside</Resync_Periodic></header>
  <flat-profile><A_>1</A_><B_>1</B_><flat-profile><B_>2</B_><C_>2</C_></flat-profile><C_>3</C_></flat-profile>
  <x><y><flat-profile><A_>4</A_></flat-profile></y></x></device>`);
  assert.equal(flatValues(p), { A_: '4', B_: '2', C_: '3' });
  assert.equal(read('<flat-profile/>').params.size, 0);
});

test('bad files are refused and the error names what and where', () => {
  const cases: Array<[string | Uint8Array, string, RegExp]> = [
    ['<flat-profile><Proxy.1>x</Proxy.1></flat-profile>', 'bad-name', /flat-profile\/Proxy\.1/],
    ['<flat-profile><Proxy_1_ ua="admin">x</Proxy_1_></flat-profile>', 'bad-attribute', /ua="admin".*Proxy_1_/],
    ['<flat-profile><Group><Proxy_1_>x</Proxy_1_></Group></flat-profile>', 'bad-element', /flat-profile\/Group/],
    ['<device><Proxy_1_>x</Proxy_1_></device>', 'missing', /no <flat-profile>/],
    ['<flat-profile><A>x</flat-profile>', 'malformed', /flat-profile/],
    ['<?xml version="1.0" encoding="ISO-8859-1"?><flat-profile/>', 'bad-encoding', /ISO-8859-1/],
    [Buffer.from('\ufeff<flat-profile/>', 'utf16le'), 'bad-encoding', /UTF-16/],
    [Buffer.from([0x3c, 0x66, 0xe9, 0x3e]), 'bad-encoding', /UTF-8/],
    ['<!DOCTYPE f [<!ENTITY x "y">]><flat-profile><A>&x;</A></flat-profile>', 'doctype', /DOCTYPE/],
    [`<flat-profile>${'<A_>1</A_>'.repeat(10_001)}</flat-profile>`, 'oversized', /10000 parameters/],
    [`<flat-profile><${'N'.repeat(200)}>1</${'N'.repeat(200)}></flat-profile>`, 'bad-name', /NNNN/],
  ];
  for (const [input, code, re] of cases) {
    const e = refused(input);
    assert.is(e.code, code, e.message);
    assert.match(e.message, re);
  }
  assert.is(refused('<flat-profile/>'.padEnd(2000, ' '), { maxBytes: 1000 }).code, 'oversized');
});

test('a UTF-8 byte order mark is accepted', () => {
  assert.equal(flatValues(read(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(REFERENCE)]))).Resync_Periodic, '7200');
});

test('what we write reads back exactly: spaces, markup characters, CR, non-ASCII', () => {
  const params = new Map<string, FlatParam>([
    ['Display_Name_1_', { value: ' <Zoë> & "co" \r\n ', ua: 'rw' }],
    ['Empty', { value: '' }],
    ['Dial_Plan_1_', { value: '(*xx|[3469]11|0|00|[2-9]xxxxxx|1xxx[2-9]xxxxxxS0|xxxxxxxxxxxx.)', ua: 'na' }],
  ]);
  assert.equal(read(writeFlatProfile(params)).params, params);
  assert.throws(() => writeFlatProfile([['Bad-Name', { value: '' }]]), /Bad-Name/);
  assert.throws(() => writeFlatProfile([['A', { value: 'bell\x07' }]]), /XML cannot carry/);
});

test('property: any parameters survive write then read, plain, gzipped and encrypted', () => {
  const value = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '&', '<', '>', '"', "'", '\r', '\n', '\t', 'é', '€', '😀', ']]>', '$'), maxLength: 30 });
  const entry = fc.record({ value, ua: fc.constantFrom(undefined, 'na', 'ro', 'rw') as fc.Arbitrary<FlatParam['ua']> }).map((p) => (p.ua ? p : { value: p.value }));
  fc.assert(
    fc.property(fc.dictionary(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,23}$/), entry, { maxKeys: 12 }), fc.boolean(), fc.boolean(), (dict, gzip, encrypt) => {
      const params = new Map(Object.entries(dict).map(([k, v]): [string, FlatParam] => [k, { ...v }]));
      const bytes = writeFlatProfile(params, { gzip, ...(encrypt ? { key: 'k€y' } : {}) });
      const back = read(bytes, { key: 'k€y' });
      assert.equal(back.params, params);
      return back.gzipped === gzip && back.encrypted === encrypt;
    }),
    { numRuns: 300, seed: 11 },
  );
});

test('gzip is recognised by its header, and a gzip bomb is refused', () => {
  const gz = gzipSync(Buffer.from(REFERENCE));
  const p = read(gz);
  assert.is(p.gzipped, true);
  assert.is(flatValues(p).Resync_On_Reset, 'Yes');
  const bomb = gzipSync(Buffer.concat([Buffer.from('<flat-profile><A>'), Buffer.alloc(16 * 1024 * 1024, 0x61), Buffer.from('</A></flat-profile>')]));
  assert.ok(bomb.length < 64 * 1024, 'the bomb is small on the wire');
  const e = refused(bomb);
  assert.is(e.code, 'oversized');
  assert.match(e.message, /gzip expands beyond 4194304/);
  assert.is(refused(gz.subarray(0, gz.length - 6)).code, 'bad-gzip');
  assert.is(refused(gzipSync(gz)).code, 'bad-encoding', 'one gzip layer only: the inner one is read as XML');
});

test('openssl interop: `openssl enc -aes-256-cbc -k secret` output decrypts, with either digest', () => {
  const plain = Buffer.from(REFERENCE);
  for (const digest of ['sha256', 'md5'] as const) {
    const enc = openssl(mdArgs(digest), plain);
    assert.is(enc.subarray(0, 8).toString('latin1'), 'Salted__');
    const p = read(enc, { key: 'secret', digest });
    assert.is(p.encrypted, true);
    assert.is(flatValues(p).Resync_Periodic, '7200');
    // Compressed first, then encrypted, the way a provisioning server would prepare it.
    assert.is(flatValues(read(openssl(mdArgs(digest), gzipSync(plain)), { key: 'secret', digest })).Resync_On_Reset, 'Yes');
  }
  // OpenSSL 1.1+ derives the key with SHA-256 when -md is not given: the default matches.
  assert.ok(parseFlatProfile(openssl([], plain), { key: 'secret' }).ok);
});

test('openssl interop: what we encrypt, `openssl enc -d` decrypts, byte for byte the same as openssl -S', () => {
  const plain = writeFlatProfile(new Map([['Resync_Periodic', { value: '3600' }]]), { gzip: true });
  const salt = Buffer.from('0102030405060708', 'hex');
  for (const digest of ['sha256', 'md5'] as const) {
    const ours = encryptOpensslCompatible(plain, 'secret', digest, salt);
    assert.ok(openssl(['-d', ...mdArgs(digest)], ours).equals(plain));
    // OpenSSL 3 leaves the Salted__ header out when given -S; the ciphertext after it must match.
    const theirs = openssl(['-S', '0102030405060708', ...mdArgs(digest)], plain);
    assert.ok(ours.subarray(16).equals(theirs.subarray(theirs.subarray(0, 8).toString('latin1') === 'Salted__' ? 16 : 0)), 'same salt, same bytes');
    assert.is(ours.subarray(0, 16).toString('hex'), Buffer.from('Salted__').toString('hex') + '0102030405060708');
    const back = decryptOpensslCompatible(ours, 'secret', digest);
    assert.ok(back.ok && back.value.equals(plain));
  }
  const written = writeFlatProfile([['A_', { value: 'x', ua: 'ro' }]], { gzip: true, key: 'secret', digest: 'md5' });
  assert.match(gunzipSync(openssl(['-d', '-md', 'md5'], written)).toString(), /<A_ ua="ro">x<\/A_>/);
});

test('encrypted profiles: no key, wrong key, wrong digest and damage are told apart from success', () => {
  const enc = openssl([], Buffer.from(REFERENCE));
  assert.is(refused(enc).code, 'no-key');
  assert.match(refused(enc).message, /encrypted profile and no key/);
  for (const [o, why] of [[{ key: 'wrong' }, 'wrong key'], [{ key: 'secret', digest: 'md5' as const }, 'wrong digest']] as const) {
    const e = refused(enc, o);
    assert.is(e.code, 'wrong-key', why);
    assert.match(e.message, /wrong key or damaged/);
  }
  assert.is(refused(enc.subarray(0, enc.length - 3), { key: 'secret' }).code, 'wrong-key', 'truncated');
  // Wrong keys that happen to pass the padding check still do not yield a document.
  for (let n = 0; n < 300; n++) {
    const r = parseFlatProfile(enc, { key: `wrong${n}` });
    assert.ok(!r.ok && (r.error.code === 'wrong-key' || r.error.code === 'bad-gzip'), `key wrong${n}`);
  }
  // A plain profile with a key still reads (the flag tells a caller that insists on encryption).
  assert.is(read(REFERENCE, { key: 'secret' }).encrypted, false);
});

test('property: random bytes and mutated samples give typed errors only', () => {
  const never = (b: Uint8Array) => {
    const r = parseFlatProfile(b, { key: 'secret' });
    return r.ok || r.error instanceof WireError;
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), never), { numRuns: 2000, seed: 5 });
  const prefixed = fc.tuple(fc.constantFrom(Buffer.from('Salted__'), Buffer.from([0x1f, 0x8b]), Buffer.from([0xef, 0xbb, 0xbf])), fc.uint8Array({ maxLength: 200 }));
  fc.assert(fc.property(prefixed, ([head, tail]) => never(Buffer.concat([head, tail]))), { numRuns: 1500, seed: 5 });
  const samples = [Buffer.from(REFERENCE), gzipSync(REFERENCE), encryptOpensslCompatible(gzipSync(REFERENCE), 'secret', 'sha256', Buffer.alloc(8, 1))];
  fc.assert(
    fc.property(fc.constantFrom(...samples), fc.array(fc.tuple(fc.nat(10_000), fc.nat(255)), { minLength: 1, maxLength: 6 }), (base, edits) => {
      const b = Buffer.from(base);
      for (const [i, v] of edits) b[i % b.length] = v;
      return never(b);
    }),
    { numRuns: 2000, seed: 5 },
  );
});

test.run();
