/**
 * Which TFTP servers a phone asks, in order (reference §2.2): manually configured Alternate TFTP
 * servers win; then the DHCP option 150 list in order; then option 66 (an address or a name);
 * then siaddr. The source of each candidate is kept so the screen can say where it came from.
 */
import type { DhcpLease } from './dhcp-client.ts';

export interface TftpSettings {
  alternateTftp: boolean;
  tftpServer1: string;
  tftpServer2: string;
}

export type TftpSource = 'alternate' | 'option 150' | 'option 66' | 'siaddr';

export interface TftpCandidate {
  host: string;
  source: TftpSource;
}

export function chooseTftpServers(settings: TftpSettings, lease: Pick<DhcpLease, 'tftpServers' | 'tftpServerName' | 'nextServer'> | undefined): TftpCandidate[] {
  const out: TftpCandidate[] = [];
  const add = (host: string | undefined, source: TftpSource) => {
    if (host && host !== '0.0.0.0' && !out.some((c) => c.host === host)) out.push({ host, source });
  };
  if (settings.alternateTftp && settings.tftpServer1) {
    add(settings.tftpServer1, 'alternate');
    add(settings.tftpServer2, 'alternate');
    return out;
  }
  if (!lease) return out;
  for (const ip of lease.tftpServers) add(ip, 'option 150');
  add(lease.tftpServerName, 'option 66');
  add(lease.nextServer, 'siaddr');
  return out;
}
