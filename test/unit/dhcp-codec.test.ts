import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  BROADCAST_FLAG, type DhcpMessage, DhcpOption, clientIdOption, decodeDhcp, encodeDhcp, ipListOption, readIpList, readMessageType, readText, readU32, u32Option,
} from '../../src/wire/dhcp.ts';
import { WireError } from '../../src/wire/result.ts';

const mac = Uint8Array.of(0x00, 0x11, 0x22, 0x33, 0x44, 0x55);

function discover(): DhcpMessage {
  const options = new Map<number, Uint8Array>([
    [DhcpOption.MESSAGE_TYPE, Uint8Array.of(1)],
    [DhcpOption.CLIENT_ID, clientIdOption(mac)],
    [DhcpOption.VENDOR_CLASS, Buffer.from('Cisco Systems, Inc. IP Phone CP-8841')],
    [DhcpOption.PARAMETER_LIST, Uint8Array.of(1, 3, 6, 15, 66, 150)],
  ]);
  return { op: 1, htype: 1, hlen: 6, hops: 0, xid: 0xdeadbeef, secs: 0, flags: BROADCAST_FLAG, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr: mac, sname: '', file: '', options };
}

test('encode then decode gives the same message', () => {
  const m = discover();
  const wire = encodeDhcp(m);
  assert.ok(wire.length >= 300, 'padded to the BOOTP minimum');
  const d = decodeDhcp(wire);
  assert.ok(d.ok);
  if (!d.ok) return;
  assert.is(d.value.xid, 0xdeadbeef);
  assert.is(d.value.flags, BROADCAST_FLAG);
  assert.equal([...d.value.chaddr], [...mac]);
  assert.equal([...d.value.options.keys()], [53, 61, 60, 55]);
  assert.equal(readText(d.value, 60), { ok: true, value: 'Cisco Systems, Inc. IP Phone CP-8841' });
  assert.equal([...d.value.options.get(61)!], [1, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55], 'option 61 is hardware type 1 + 6 bytes');
});

test('the broadcast flag is bit 0x8000 on the wire', () => {
  const wire = encodeDhcp(discover());
  assert.is(wire.readUInt16BE(10), 0x8000);
});

test('options longer than 255 bytes are split and joined again (RFC 3396)', () => {
  const m = discover();
  const long = Uint8Array.from({ length: 600 }, (_, i) => i & 0xff);
  m.options.set(43, long);
  const d = decodeDhcp(encodeDhcp(m));
  assert.ok(d.ok && Buffer.from(d.value.options.get(43)!).equals(Buffer.from(long)));
});

test('option overload (52) reads options from the file and sname fields', () => {
  const m = discover();
  m.options.set(DhcpOption.OVERLOAD, Uint8Array.of(3));
  const wire = encodeDhcp(m);
  // file field at 108..235: option 66 "tftp.lab"; sname 44..107: option 150 10.0.0.1
  Buffer.from([66, 8, ...Buffer.from('tftp.lab'), 255]).copy(wire, 108);
  Buffer.from([150, 4, 10, 0, 0, 1, 255]).copy(wire, 44);
  const d = decodeDhcp(wire);
  assert.ok(d.ok);
  if (!d.ok) return;
  assert.equal(readText(d.value, 66), { ok: true, value: 'tftp.lab' });
  assert.equal(readIpList(d.value, 150), { ok: true, value: ['10.0.0.1'] });
  assert.is(d.value.file, '');
});

test('typed option readers refuse wrong lengths with a named error', () => {
  const m = discover();
  m.options.set(150, Uint8Array.of(10, 0, 0));
  m.options.set(51, Uint8Array.of(0, 1));
  const r150 = readIpList(m, 150);
  assert.ok(!r150.ok && /option 150/.test(r150.error.message));
  const r51 = readU32(m, 51);
  assert.ok(!r51.ok && /option 51/.test(r51.error.message));
  m.options.set(51, u32Option(3600));
  assert.equal(readU32(m, 51), { ok: true, value: 3600 });
  m.options.set(150, ipListOption(['10.0.0.1', '10.0.0.2']));
  assert.equal(readIpList(m, 150), { ok: true, value: ['10.0.0.1', '10.0.0.2'] });
  m.options.set(53, Uint8Array.of(9));
  assert.not.ok(readMessageType(m).ok);
});

test('truncated, oversized and wrong-magic input gives typed errors', () => {
  const wire = encodeDhcp(discover());
  for (const bad of [wire.subarray(0, 100), Buffer.concat([wire, Buffer.alloc(5000)]), Buffer.from(wire).fill(0, 236, 240)]) {
    const d = decodeDhcp(bad);
    assert.not.ok(d.ok);
    if (!d.ok) assert.instance(d.error, WireError);
  }
  const noEnd = Buffer.from(wire.subarray(0, 240 + 3)); // cookie + option 53, no END
  assert.equal(decodeDhcp(noEnd).ok, false);
  const lying = Buffer.from(wire);
  lying[240 + 1] = 200; // option 53 claims 200 bytes
  const d = decodeDhcp(lying);
  assert.ok(!d.ok && d.error.code === 'truncated' && typeof d.error.at === 'number');
});

test('property: random bytes never throw, only typed errors', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1200 }), (bytes) => {
      const d = decodeDhcp(bytes);
      return d.ok || d.error instanceof WireError;
    }),
    { numRuns: 3000 },
  );
});

test('property: mutated valid messages never throw, only typed errors', () => {
  const base = encodeDhcp(discover());
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }), fc.nat(base.length), (edits, cut) => {
      const b = Buffer.from(base);
      for (const [i, v] of edits) b[i] = v;
      const d = decodeDhcp(b.subarray(0, Math.max(cut, 200)));
      if (d.ok) for (const code of [1, 3, 6, 51, 54, 60, 66, 150]) { readIpList(d.value, code); readText(d.value, code); readU32(d.value, code); }
      return d.ok || d.error instanceof WireError;
    }),
    { numRuns: 3000 },
  );
});

test('property: any well-formed message survives a round trip', () => {
  const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((t) => t.join('.'));
  fc.assert(
    fc.property(
      fc.record({ xid: fc.nat(0xffffffff), flags: fc.nat(0xffff), secs: fc.nat(0xffff), yiaddr: ip, siaddr: ip }),
      fc.array(fc.tuple(fc.integer({ min: 1, max: 254 }).filter((c) => c !== 52), fc.uint8Array({ maxLength: 300 })), { maxLength: 8 }),
      (h, opts) => {
        const m = discover();
        Object.assign(m, h);
        m.options = new Map(opts);
        const d = decodeDhcp(encodeDhcp(m));
        if (!d.ok) return false;
        if (d.value.xid !== h.xid || d.value.yiaddr !== h.yiaddr || d.value.flags !== h.flags) return false;
        for (const [k, v] of m.options) if (!Buffer.from(d.value.options.get(k) ?? []).equals(Buffer.from(v))) return false;
        return true;
      },
    ),
    { numRuns: 500 },
  );
});

test.run();
