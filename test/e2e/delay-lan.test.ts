/**
 * Boots that complete on a slow LAN (issue 7): every frame between phone and companion held
 * 250–350 ms each way (a 500–700 ms round trip, half of the phone's 1 s TFTP retransmission
 * timer), and the same with 30 % loss on top. The delay is a user-space delay line at layer 2
 * (test/e2e/helpers/delay-line.py, Lab.addDelayedHost): this machine's kernel has no
 * sch_netem, so `tc qdisc … netem delay` cannot be used; broadcasts, ARP, TFTP, HTTP, SIP and
 * TLS are delayed alike.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../support/lab.ts';
import { needs } from '../support/proc.ts';
import { TempDirs, isRegistered, startCompanion, startPhone } from '../support/sepi.ts';

const DELAY_MS = 250;
const JITTER_MS = 100;

test(`a phone boots to Registered with ${DELAY_MS}–${DELAY_MS + JITTER_MS} ms each way, trust on; the delay is real`, async () => {
  await needs('nft', 'busybox');
  const lab = await Lab.create('10.89.0');
  const dirs = new TempDirs();
  try {
    const data = await dirs.make('cm');
    const companion = await startCompanion(lab, data, { phones: [{ mac: '0011223344e1', model: '8841', dn: '1501', password: 'slow-line' }, { mac: '0011223344e2', model: '8841', dn: '1502' }] });
    const { ns, line } = await lab.addDelayedHost('slow1', { mac: '00:11:22:33:44:e1', delayMs: DELAY_MS, jitterMs: JITTER_MS });
    const phone = startPhone(lab, ns, '0011223344e1', await dirs.make('nv'), ['--until', 'registered', '--timeout', '240']);
    assert.is(await phone.exit(300_000), 0, phone.tail());
    const reg = phone.events().find(isRegistered('device'))!;
    assert.is(reg['line'], '1501');
    // The phone's own address now answers pings: the round trip shows the line's delay both ways.
    const address = String(phone.events().find((e) => e['step'] === 'dhcp' && e['state'] === 'done')!['address']);
    const ping = await lab.ns(lab.server, 'busybox', 'ping', '-c', '3', address);
    const rtts = [...ping.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
    assert.ok(rtts.length === 3 && rtts.every((t) => t >= 2 * DELAY_MS), `round trips ${rtts.join(', ')} ms`);
    const bootMs = (p: typeof phone) => Number(p.events().find(isRegistered('device'))!['t']);
    process.stdout.write(`  delayed: registered ${bootMs(phone)} ms after power-on; ping round trips ${rtts.join(', ')} ms\n`);
    assert.is(companion.exitCode, undefined);

    // Delay and 30 % loss together (the loss is nftables' on the phone's side, as lossy-lan does).
    const slow2 = await lab.addDelayedHost('slow2', { mac: '00:11:22:33:44:e2', delayMs: DELAY_MS, jitterMs: JITTER_MS });
    await lab.ns(slow2.ns, 'nft', 'add', 'table', 'inet', 'lossy');
    await lab.ns(slow2.ns, 'nft', 'add', 'chain', 'inet', 'lossy', 'in', '{ type filter hook input priority 0; }');
    await lab.ns(slow2.ns, 'nft', 'add', 'rule', 'inet', 'lossy', 'in', 'numgen', 'random', 'mod', '100', '<', '30', 'counter', 'drop');
    const phone2 = startPhone(lab, slow2.ns, '0011223344e2', await dirs.make('nv'), ['--until', 'registered', '--timeout', '300']);
    assert.is(await phone2.exit(360_000), 0, phone2.tail());
    assert.is(phone2.events().find(isRegistered('device'))!['line'], '1502');
    process.stdout.write(`  delayed and 30 % lossy: registered ${bootMs(phone2)} ms after power-on\n`);
    // Everything went through the line: it counted the frames it carried each way.
    await line.stop();
    assert.match(line.tail(), /frames A>B [1-9]\d*, B>A [1-9]/);
  } finally {
    await lab.destroy();
    await dirs.removeAll();
  }
});

test.run();
