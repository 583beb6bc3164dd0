import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { decodeTvs, encodeTvs, tvsDeviceName, tvsMessageLength } from '../../src/wire/tvs.ts';
import { WireError } from '../../src/wire/result.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('the reference VERIFY_RESPONSE, byte for byte both ways (valid, CCM, 86400 s)', () => {
  const wire = hex('57 01 02 00 00000001 000f 07 0001 00 08 0001 01 09 0004 00015180');
  assert.equal(decodeTvs(wire), { ok: true, value: { kind: 'verify-response', session: 1, valid: true, roles: [1], ttlSecs: 86400 } });
  assert.equal(encodeTvs({ kind: 'verify-response', session: 1, valid: true, roles: [1], ttlSecs: 86400 }), wire);
});

test('the reference VERIFY_REQUEST layout (3-byte certificate placeholder)', () => {
  const wire = hex(`57 01 01 00 00000001 0021 01 0018 01 ${Buffer.from('CP-8841-SEP001122334455').toString('hex')} 02 0003 aabbcc`);
  assert.is(tvsMessageLength(wire), wire.length);
  assert.equal(decodeTvs(wire), { ok: true, value: { kind: 'verify-request', session: 1, deviceName: 'CP-8841-SEP001122334455', certificate: Uint8Array.of(0xaa, 0xbb, 0xcc) } });
  assert.equal(encodeTvs({ kind: 'verify-request', session: 1, deviceName: 'CP-8841-SEP001122334455', certificate: Uint8Array.of(0xaa, 0xbb, 0xcc) }), wire);
  assert.is(tvsDeviceName('8841', 'SEP001122334455'), 'CP-8841-SEP001122334455');
});

test('an invalid answer carries the status alone', () => {
  const wire = encodeTvs({ kind: 'verify-response', session: 7, valid: false, roles: [], ttlSecs: 0 });
  assert.equal(wire, hex('57 01 02 00 00000007 0004 07 0001 01'));
  assert.equal(decodeTvs(wire), { ok: true, value: { kind: 'verify-response', session: 7, valid: false, roles: [], ttlSecs: 0 } });
});

test('bad requests are typed errors', () => {
  const cases: Array<[Buffer, string]> = [
    [hex('58 01 01 00 00000001 0000'), 'bad-protocol'],
    [hex('57 02 01 00 00000001 0000'), 'bad-version'],
    [hex('57 01 05 00 00000001 0000'), 'bad-command'],
    [hex('57 01 01 00 00000001 0005 01 00'), 'bad-length'],
    [hex('57 01 01 00 00000001 0000'), 'missing'],
    [hex(`57 01 01 00 00000001 000d 01 000a 01 ${Buffer.from('CP-x-SEP1').toString('hex')}`), 'missing'],
    [hex('57 01 01 00 00000001 ffff'), 'oversized'],
  ];
  for (const [b, code] of cases) {
    const d = decodeTvs(b);
    assert.ok(!d.ok, code);
    if (!d.ok) assert.is(d.error.code, code);
  }
});

test('property: random and mutated messages never throw', () => {
  const base = encodeTvs({ kind: 'verify-request', session: 9, deviceName: 'CP-8841-SEP001122334455', certificate: Buffer.alloc(40, 7) });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
    const d = decodeTvs(b);
    return d.ok || d.error instanceof WireError;
  }), { numRuns: 3000 });
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.nat(255)), { minLength: 1, maxLength: 5 }), (edits) => {
    const b = Buffer.from(base);
    for (const [i, v] of edits) b[i] = v;
    const d = decodeTvs(b);
    return d.ok || d.error instanceof WireError;
  }), { numRuns: 3000 });
});

test.run();
