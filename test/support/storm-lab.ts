/**
 * A boot storm's LAN (bench/storm.ts, test/e2e/fleet-storm.test.ts): a /16 so tens of thousands
 * of phones have addresses, the companion on it with trust on and autoregistration, and a host
 * for `sepi fleet` with a route for its broadcasts. One fleet is one address, so the
 * per-address limits that stop a hostile host are lifted for it.
 */
import { Lab } from './lab.ts';
import type { Proc } from './proc.ts';
import { startCompanion } from './sepi.ts';

export interface StormLab {
  lab: Lab;
  companion: Proc;
  /** The namespace of the fleet's host (address NET.50). */
  fleetHost: string;
}

/** What each storm sizes for itself: the pool's last address (from NET's x.y.1.1), the DN range and the lifted limits. */
export interface StormLimits {
  poolLast: string;
  dnRange: [string, string];
  perAddressBurst: number;
  perAddressPerMinute: number;
  maxUnregisteredPerAddress: number;
}

/** `net` is the lab's first three octets (`10.100.0`): the lab is NET.0/16, the pool from x.y.1.1. */
export async function stormLab(net: string, data: string, limits: StormLimits, env: NodeJS.ProcessEnv = {}): Promise<StormLab> {
  const lab = await Lab.create(net);
  try {
    const [a, b] = net.split('.');
    await lab.ns(lab.server, 'ip', 'addr', 'del', `${net}.1/24`, 'dev', 'br0');
    await lab.ns(lab.server, 'ip', 'addr', 'add', `${net}.1/16`, 'dev', 'br0');
    const companion = await startCompanion(lab, data, {
      prefix: 16, dhcp: { poolFirst: `${a}.${b}.1.1`, poolLast: limits.poolLast, leaseSecs: 86400 },
      autoRegistration: { enabled: true, dnRange: limits.dnRange, perAddressBurst: limits.perAddressBurst, perAddressPerMinute: limits.perAddressPerMinute },
      sip: { maxUnregisteredPerAddress: limits.maxUnregisteredPerAddress },
    }, { env });
    const fleetHost = await lab.addHost('fleet', { address: `${net}.50/16` });
    await lab.ns(fleetHost, 'ip', 'route', 'add', '255.255.255.255/32', 'dev', 'eth0');
    return { lab, companion, fleetHost };
  } catch (e) {
    await lab.destroy();
    throw e;
  }
}
