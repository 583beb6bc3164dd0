import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { type TftpPacket, decodeTftp, encodeTftp, negotiatedValue } from '../../src/wire/tftp.ts';
import { WireError } from '../../src/wire/result.ts';

test('RRQ with options matches RFC 2347 byte for byte', () => {
  const wire = encodeTftp({ op: 'RRQ', filename: 'SEP001122334455.cnf.xml', mode: 'octet', options: { blksize: '1428', tsize: '0', timeout: '2' } });
  const expected = Buffer.concat([Buffer.from([0, 1]), Buffer.from('SEP001122334455.cnf.xml\0octet\0blksize\x001428\0tsize\x000\0timeout\x002\0', 'latin1')]);
  assert.equal(wire, expected);
  assert.equal(decodeTftp(wire), { ok: true, value: { op: 'RRQ', filename: 'SEP001122334455.cnf.xml', mode: 'octet', options: { blksize: '1428', tsize: '0', timeout: '2' } } });
});

test('every packet type round-trips', () => {
  const packets: TftpPacket[] = [
    { op: 'DATA', block: 65535, data: Uint8Array.of(1, 2, 3) },
    { op: 'ACK', block: 0 },
    { op: 'ERROR', code: 1, message: 'File not found' },
    { op: 'OACK', options: { blksize: '512', windowsize: '4' } },
    { op: 'WRQ', filename: 'a', mode: 'netascii', options: {} },
  ];
  for (const p of packets) assert.equal(decodeTftp(encodeTftp(p)), { ok: true, value: p });
});

test('the server error code is kept (1 is File not found, 8 option refused)', () => {
  const d = decodeTftp(Buffer.from([0, 5, 0, 8, ...Buffer.from('Unsupported option(s) requested'), 0]));
  assert.equal(d, { ok: true, value: { op: 'ERROR', code: 8, message: 'Unsupported option(s) requested' } });
});

test('malformed packets are typed errors naming the problem', () => {
  const cases: Array<[Uint8Array, string]> = [
    [Uint8Array.of(0), 'truncated'],
    [Uint8Array.of(0, 9, 0, 0), 'bad-opcode'],
    [Buffer.from('\0\x01file\0octet'), 'truncated'],
    [Buffer.from('\0\x01\0octet\0'), 'bad-request'],
    [Buffer.from('\0\x01f\0morse\0'), 'bad-request'],
    [Buffer.from('\x00\x06blksize\x00512\x00blksize\x00512\x00'), 'bad-option'],
    [Uint8Array.of(0, 4, 0, 1, 9), 'bad-ack'],
    [Buffer.alloc(600, 1).fill(0, 0, 1).fill(1, 1, 2), 'oversized'],
  ];
  for (const [bytes, code] of cases) {
    const d = decodeTftp(bytes, 512);
    assert.ok(!d.ok, `expected failure for ${Buffer.from(bytes).toString('hex').slice(0, 20)}`);
    if (!d.ok) assert.is(d.error.code, code);
  }
});

test('negotiated option values follow RFC 2348/2349/7440', () => {
  assert.is(negotiatedValue('blksize', 1428, '1024'), 1024);
  assert.instance(negotiatedValue('blksize', 1428, '2000'), WireError);
  assert.instance(negotiatedValue('blksize', 1428, '4'), WireError);
  assert.is(negotiatedValue('timeout', 2, '2'), 2);
  assert.instance(negotiatedValue('timeout', 2, '3'), WireError);
  assert.instance(negotiatedValue('windowsize', undefined, '4'), WireError);
  assert.instance(negotiatedValue('tsize', 0, 'lots'), WireError);
  assert.is(negotiatedValue('tsize', 0, '4096'), 4096);
});

test('property: random and mutated packets never throw', () => {
  const base = encodeTftp({ op: 'OACK', options: { blksize: '1428', tsize: '2048' } });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 700 }), (b) => {
      const d = decodeTftp(b);
      return d.ok || d.error instanceof WireError;
    }),
    { numRuns: 5000 },
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.nat(255)), { minLength: 1, maxLength: 6 }), (edits) => {
      const b = Buffer.from(base);
      for (const [i, v] of edits) b[i] = v;
      const d = decodeTftp(b);
      return d.ok || d.error instanceof WireError;
    }),
    { numRuns: 3000 },
  );
});

test.run();
