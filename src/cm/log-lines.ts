/** Each service's log entry as the one line `sepi cm serve` prints for it. */
import type { DhcpLogEntry } from './dhcp-service.ts';
import type { FileLogEntry } from './file-services.ts';
import type { RegistrarLogEntry } from './registrar.ts';
import type { TvsLogEntry } from './tvs-server.ts';
import type { CapfLogEntry } from './capf/capf-server.ts';
import type { ActivationLogEntry } from './activation/activation-service.ts';

export const dhcpLine = (e: DhcpLogEntry) => `dhcp ${e.type} ${e.mac}${e.address ? ` ${e.address}` : ''}${e.detail ? ` (${e.detail})` : ''}`;
export const fileLine = (e: FileLogEntry) => `${e.via} ${e.from} ${e.name}: ${e.result}${e.bytes !== undefined ? ` (${e.bytes} bytes)` : ''}`;
export const sipLine = (e: RegistrarLogEntry) => `sip ${e.method} ${e.device || '-'} from ${e.from}: ${e.status} ${e.detail}`;
export const tvsLine = (e: TvsLogEntry) => `tvs ${e.from} ${e.device || '-'}: ${e.result} ${e.detail}`;
export const capfLine = (e: CapfLogEntry) => `capf ${e.from} ${e.device || '-'}: ${e.result} ${e.detail}`;
export const activationLine = (e: ActivationLogEntry) => `activation ${e.from} ${e.mac}: ${e.result} ${e.detail}`;
