/**
 * What a boot storm costs the companion, made cheaper without changing what it serves: a signed
 * file is signed once per content (and again after the TFTP certificate changes), a new
 * phone's DN comes from a cursor instead of a read of every phone, and log
 * lines go out in one write per turn of the event loop, in order, with nothing left behind.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from '../../src/common/clock.ts';
import { LineBatch } from '../../src/common/line-batch.ts';
import { buildConfig } from '../../src/cm/config.ts';
import { DnCursor } from '../../src/cm/dn-cursor.ts';
import { CompanionPki } from '../../src/cm/pki.ts';
import { TrustFiles } from '../../src/cm/trust-files.ts';
import { parseSignedFile, verifySignedFile } from '../../src/wire/tlv.ts';
import { verifyWithCertificate } from '../../src/wire/x509.ts';

const t = suite('storm costs');

t('a signed file is signed once per content, and its signature still verifies', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sepi-sgn-'));
  try {
    const clock = new VirtualClock(Date.UTC(2026, 10, 26));
    const pki = await CompanionPki.open(dir, '10.0.0.1', clock);
    const files = new TrustFiles(pki, buildConfig({}, { address: '10.0.0.1', prefix: 24 }), clock);
    const body = Buffer.from('<device><devicePool/></device>');
    const first = files.sgn('XMLDefault.cnf.xml.sgn', body);
    await clock.advance(5000);
    const again = files.sgn('XMLDefault.cnf.xml.sgn', Buffer.from(body));
    assert.ok(again === first, 'the same name and content are answered from the cache');
    const other = files.sgn('XMLDefault.cnf.xml.sgn', Buffer.from('<device>changed</device>'));
    assert.not.equal(other, first, 'new content is signed anew');
    const renamed = files.sgn('SEP001122334455.cnf.xml.sgn', body);
    assert.not.equal(renamed, first, 'the file name is part of what is signed');
    for (const f of [first, other, renamed]) {
      const parsed = parseSignedFile(f);
      assert.ok(parsed.ok);
      if (!parsed.ok) return;
      assert.ok(verifySignedFile(f, parsed.value.header, (d, data, sig) => verifyWithCertificate(pki.get('tftp').facts.der, d, data, sig)));
    }
    // A new TFTP certificate: what was signed with the old key is not served again.
    await pki.rotateTftp();
    const rotated = files.sgn('XMLDefault.cnf.xml.sgn', body);
    assert.not.equal(rotated, first);
    const parsed = parseSignedFile(rotated);
    assert.ok(parsed.ok && verifySignedFile(rotated, parsed.value.header, (d, data, sig) => verifyWithCertificate(pki.get('tftp').facts.der, d, data, sig)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

t('log lines: one write per turn, in order, flushed on demand and when a batch grows large', () => {
  const writes: string[] = [];
  const turns: Array<() => void> = [];
  const batch = new LineBatch((text) => writes.push(text), (run) => turns.push(run));
  batch.line('a');
  batch.line('b');
  assert.equal(writes, [], 'nothing is written within the turn');
  assert.is(turns.length, 1, 'one write is scheduled however many lines');
  turns.shift()!();
  assert.equal(writes, ['a\nb\n']);
  batch.line('c');
  batch.flush();
  assert.equal(writes, ['a\nb\n', 'c\n'], 'flush (at exit) writes what is queued');
  turns.shift()!();
  assert.is(writes.length, 2, 'a scheduled turn with nothing left writes nothing');
  const big = 'x'.repeat(1000);
  for (let i = 0; i < LineBatch.MAX_BYTES / 1000 + 1; i++) batch.line(big);
  assert.is(writes.length, 3, 'a batch past its bound goes out at once');
  assert.ok(writes[2]!.endsWith(`${big}\n`));
});

t('DNs: a cursor over the range, checked against the record, rewound for freed numbers, a scan at the end', () => {
  const held = new Set(['0100', '0102']);
  let scans = 0;
  let lookups = 0;
  const cursor = new DnCursor('0100', '0105', {
    taken: (dn) => (lookups++, held.has(dn)),
    all: () => (scans++, [...held]),
  });
  const take = () => {
    const dn = cursor.take();
    if (dn) held.add(dn);
    return dn;
  };
  assert.is(take(), '0101', 'the lowest free, zero-padded to the range');
  assert.is(take(), '0103', 'a number held by another phone (an admin\'s) is skipped');
  const before = lookups;
  assert.is(take(), '0104');
  assert.is(lookups - before, 1, 'no rescan of what the cursor passed');
  held.delete('0101');
  cursor.rewind();
  assert.is(take(), '0101', 'after a rewind a freed number goes first');
  assert.is(take(), '0105');
  assert.is(scans, 0, 'no full scan while the cursor has room');
  held.delete('0103'); // freed without the cursor hearing of it
  assert.is(take(), '0103', 'past the end one scan finds what was freed behind the cursor');
  assert.is(scans, 1);
  assert.is(take(), undefined, 'a full range gives nothing');
});

t.run();
