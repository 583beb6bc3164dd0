/**
 * A fleet bigger than one machine is many fleet processes, each a shard: shard `index` of a run
 * takes phones `[index × count, (index + 1) × count)` of the MAC range starting at the base, and
 * the companion `companions[index mod n]`. A Kubernetes Indexed Job (deploy/k8s/fleet-job.yaml)
 * gives each pod its index in JOB_COMPLETION_INDEX; the same arithmetic here is what the
 * manifest's test checks, so two pods never emulate one MAC.
 */
import { MacAddress } from '../wire/mac.ts';

/** 2^48: a MAC range may not run past ff:ff:ff:ff:ff:ff. */
const MAC_SPACE = 1n << 48n;

export interface Shard {
  index: number;
  firstMac: MacAddress;
  lastMac: MacAddress;
  count: number;
  /** The companion this shard boots against (its TFTP server), when a list was given. */
  companion: string | undefined;
}

export function shardFor(index: number, count: number, base: MacAddress, companions: readonly string[] = []): Shard {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`shard index ${index} is not a whole number >= 0`);
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`shard size ${count} is not a whole number >= 1`);
  const first = BigInt(`0x${base.hex}`) + BigInt(index) * BigInt(count);
  const last = first + BigInt(count) - 1n;
  if (last >= MAC_SPACE) throw new RangeError(`shard ${index} of ${count} phones runs past ff:ff:ff:ff:ff:ff`);
  return { index, count, firstMac: macAt(first), lastMac: macAt(last), companion: companions.length ? companions[index % companions.length] : undefined };
}

export const macAt = (n: bigint): MacAddress => MacAddress.parse(n.toString(16).padStart(12, '0'))!;

/** The i-th phone of a fleet whose first MAC is `first`. */
export const macOf = (first: MacAddress, i: number): MacAddress => macAt(BigInt(`0x${first.hex}`) + BigInt(i));
