import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  CapfCommand, CapfElement, byteValue, capfMessage, capfMessageLength, certificateValue, cstringValue, decodeCapf, encodeCapf,
  readCertificate, readCstring, readElements, readSha2Signed, readU16, sha2SignedValue, u16Value,
} from '../../src/wire/capf.ts';
import { WireError } from '../../src/wire/result.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('AUTH_REQUEST as the server sends it first: version 3, auth type, 8-byte header', () => {
  const wire = encodeCapf(capfMessage(CapfCommand.AUTH_REQUEST, 0x01020304, [[CapfElement.VERSION, byteValue(3)], [CapfElement.AUTH_TYPE, byteValue(1)]]));
  assert.equal(wire, hex('55 01 01020304 0008 07 0001 03 08 0001 01'));
  assert.is(capfMessageLength(wire), wire.length);
  assert.is(capfMessageLength(wire.subarray(0, 7)), undefined);
  const d = decodeCapf(wire);
  assert.ok(d.ok);
  if (d.ok) {
    assert.is(d.value.command, CapfCommand.AUTH_REQUEST);
    assert.is(d.value.session, 0x01020304);
    assert.equal([...d.value.elements.keys()], [7, 8]);
  }
});

test('structured elements round-trip: NUL-terminated names, the wrapped certificate, SHA-2 signatures, u16 key size', () => {
  const der = Buffer.alloc(300, 0x30);
  const m = capfMessage(CapfCommand.AUTH_RESPONSE, 9, [
    [CapfElement.DEVICE_NAME, cstringValue('SEP001122334455')],
    [CapfElement.CERTIFICATE, certificateValue(der, 2)],
    [CapfElement.SHA2_SIGNED_DATA, sha2SignedValue(3, Buffer.alloc(256, 1))],
    [CapfElement.KEY_SIZE, u16Value(2048)],
  ]);
  const back = decodeCapf(encodeCapf(m));
  if (!back.ok) return assert.unreachable(back.error.message);
  assert.is(readCstring(back.value, CapfElement.DEVICE_NAME, 'device name'), 'SEP001122334455');
  // The wrapper capfd writes: 01, length of DER + 2, 00, certificate type, DER.
  assert.equal(Buffer.from(back.value.elements.get(CapfElement.CERTIFICATE)!.subarray(0, 5)), hex('01 012e 00 02'));
  assert.equal(readCertificate(back.value), { type: 2, der: Uint8Array.from(der) });
  assert.equal(readSha2Signed(back.value), { hash: 3, signature: Uint8Array.from(Buffer.alloc(256, 1)) });
  assert.is(readU16(back.value, CapfElement.KEY_SIZE, 'key size'), 2048);
});

test('bad messages are typed errors', () => {
  const cases: Array<[Buffer, string]> = [
    [hex('56 01 00000001 0000'), 'bad-protocol'],
    [hex('55 63 00000001 0000'), 'bad-command'],
    [hex('55 01 00000001 0005 07 00'), 'bad-length'],
    [hex('55 01 00000001 ffff'), 'oversized'],
    [hex('55 01 00000001 0004 63 0001 00'), 'bad-element'],
    [hex('55 01 00000001 0008 07 0001 03 07 0001 03'), 'bad-element'],
    [hex('55 01 00000001 0006 07 0009 03 00 00'), 'truncated'],
  ];
  for (const [b, code] of cases) {
    const d = decodeCapf(b);
    assert.ok(!d.ok, code);
    if (!d.ok) assert.is(d.error.code, code, b.toString('hex'));
  }
  const name = decodeCapf(encodeCapf(capfMessage(CapfCommand.AUTH_RESPONSE, 1, [[CapfElement.DEVICE_NAME, Buffer.from('SEP\n1')]])));
  assert.ok(name.ok);
  if (name.ok) {
    const r = readElements(() => readCstring(name.value, CapfElement.DEVICE_NAME, 'device name'));
    assert.ok(!r.ok && r.error.code === 'bad-string');
  }
  const wrap = decodeCapf(encodeCapf(capfMessage(CapfCommand.STORE_CERTIFICATE_REQUEST, 1, [[CapfElement.CERTIFICATE, hex('01 0099 00 01 30')]])));
  if (wrap.ok) {
    const r = readElements(() => readCertificate(wrap.value));
    assert.ok(!r.ok && r.error.code === 'bad-element');
  }
});

test('property: random and mutated messages never throw anything but a typed error', () => {
  const base = encodeCapf(capfMessage(CapfCommand.KEY_GENERATE_RESPONSE, 5, [[CapfElement.PUBLIC_KEY, Buffer.alloc(64, 2)]]));
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
    const d = decodeCapf(b);
    return d.ok || d.error instanceof WireError;
  }), { numRuns: 2000, seed: 7 });
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.nat(255)), { minLength: 1, maxLength: 5 }), (edits) => {
    const b = Buffer.from(base);
    for (const [i, v] of edits) b[i] = v;
    const d = decodeCapf(b);
    return d.ok || d.error instanceof WireError;
  }), { numRuns: 2000, seed: 7 });
});

test.run();
