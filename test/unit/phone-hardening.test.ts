/**
 * The phone against a hostile or broken network, on the in-process harness (issue 7, defect 7):
 * a DHCP server handing out 1-second leases does not make the phone renew in a tight loop.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Harness } from '../support/harness.ts';
import { DhcpMessageType } from '../../src/wire/dhcp.ts';
import { MIN_LEASE_SECS, MIN_T1_SECS } from '../../src/phone/dhcp-client.ts';

test('a 1-second lease is renewed at most every half minute, and the phone stays registered', async () => {
  const h = await Harness.start({ leaseSecs: 1, companion: { security: { mode: 'none' }, phones: [{ mac: '0011223344b1', model: '8841', dn: '1101' }] } });
  try {
    const p = h.phone('00:11:22:33:44:b1');
    const reg = await h.event(p, 'registered', (e) => e.step === 'register' && e.state === 'done');
    const requestsBefore = h.dhcp.seen.filter((s) => s.type === DhcpMessageType.REQUEST).length;
    const lease = p.steps().find((e) => e.step === 'dhcp' && e.state === 'done' && e.dhcp === 'lease');
    assert.ok(lease && lease.dhcp === 'lease' && lease.leaseSecs === MIN_LEASE_SECS, 'the lease is taken as a minute');
    await h.until('ten virtual minutes', () => h.clock.now() >= reg.at + 600_000 || undefined);
    const renewals = h.dhcp.seen.filter((s) => s.type === DhcpMessageType.REQUEST).length - requestsBefore;
    assert.ok(renewals >= 600 / MIN_LEASE_SECS && renewals <= 600 / MIN_T1_SECS + 2, `${renewals} renewals in 10 minutes`);
    assert.ok(p.handset.status.registered, 'still registered');
    assert.not.ok(p.steps().some((e) => e.step === 'dhcp' && e.state === 'fail'), 'the lease was never lost');
  } finally {
    await h.stop();
  }
});

test.run();
