/**
 * What a host that opens thousands of connections and leaves does to the companion's memory
 * (issue 7: "RSS and open files come back down when the attacker leaves"). RSS is the wrong
 * gauge for a leak — V8 and the allocator keep memory they grew into — so this measures the
 * JavaScript heap after a full garbage collection, round after round: a leak per connection
 * (a map entry, a listener, a timer never cleared) adds the same again each round.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Companion } from '../../src/cm/companion.ts';
import { loopbackConfig } from '../../src/cm/config.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const heapMiB = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `count` connections to port, held `holdMs`, each sending `hello` first; then all closed. */
async function crowd(port: number, count: number, holdMs: number, hello = ''): Promise<number> {
  const socks: net.Socket[] = [];
  let connected = 0;
  await Promise.all(Array.from({ length: count }, () => new Promise<void>((res) => {
    const s = net.connect(port, '127.0.0.1', () => {
      connected++;
      if (hello) s.write(hello);
      res();
    });
    s.on('error', () => res());
    socks.push(s);
  })));
  await sleep(holdMs);
  for (const s of socks) s.destroy();
  await sleep(300);
  return connected;
}

test('SIP and HTTP 6970: rounds of 1,500 connections leave nothing behind in the heap', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sepi-conn-mem-'));
  const c = new Companion({ dataDir: dir, config: loopbackConfig({ security: { mode: 'none' }, sip: { unregisteredIdleSecs: 1, maxUnregisteredPerAddress: 5000 } }), log: () => {} });
  await c.start();
  try {
    const { sip, http } = c.endpoints;
    const rounds: number[] = [];
    for (let round = 0; round < 4; round++) {
      // Half-sent requests, so each connection holds a parser's state too.
      assert.is(await crowd(sip!, 1500, 1500, 'REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/TCP'), 1500);
      assert.is(await crowd(http!, 300, 200, 'GET /SEP0011'), 300);
      rounds.push(heapMiB());
    }
    const grew = rounds.at(-1)! - rounds[1]!;
    process.stdout.write(`  heap after each round: ${rounds.map((m) => m.toFixed(1)).join(', ')} MiB\n`);
    // Round 0 warms caches up; from round 1 on a leak of even 1 KiB a connection would add 1.5 MiB a round.
    assert.ok(grew < 1.5, `the heap grew ${grew.toFixed(2)} MiB over rounds 1–3: ${rounds.map((m) => m.toFixed(1)).join(', ')}`);
  } finally {
    await c.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
