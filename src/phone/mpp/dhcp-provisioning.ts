/**
 * What DHCP says about provisioning, read the Multiplatform way: the options of
 * `DHCP_Option_To_Use` in its order. Options 159 and 160 carry a profile URL (or a whole rule,
 * macros allowed); 66 and 150 name a TFTP server, which the phone's own `Profile_Rule` (by
 * default `/$PSN.xml`) is fetched from. Options 60, 43 and 125 are vendor-specific encodings
 * that sepi does not model; they are skipped (docs/protocols/edos.md §1).
 */
import type { DhcpLease } from '../dhcp-client.ts';
import type { RuleToRun } from './resync.ts';

export interface DhcpProvisioning {
  option: number;
  rules: RuleToRun[];
  /** The server scheme-less URLs go to (option 66's name or option 150's first address). */
  option66: string | undefined;
}

/** The first option of the list the lease carries, as rules to run; undefined when none does. */
export function dhcpProvisioning(lease: DhcpLease | undefined, optionsToUse: readonly number[], ownRules: RuleToRun[]): DhcpProvisioning | undefined {
  if (!lease) return undefined;
  for (const option of optionsToUse) {
    switch (option) {
      case 159:
      case 160: {
        const url = option === 159 ? lease.option159 : lease.option160;
        if (url) return { option, rules: [{ name: `DHCP option ${option}`, text: url }], option66: lease.tftpServerName };
        break;
      }
      case 66:
        if (lease.tftpServerName) return { option, rules: ownRules, option66: lease.tftpServerName };
        break;
      case 150:
        if (lease.tftpServers[0]) return { option, rules: ownRules, option66: lease.tftpServers[0] };
        break;
    }
  }
  return undefined;
}
