/**
 * Where the lab's factory keeps its manufacturing CA, and the serial numbers it gives phones —
 * apart from the CA itself (manufacturing-ca.ts) so a phone or a configuration reader need not
 * load node-forge to know them.
 */
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const CA_KEY_FILE = 'manufacturing-ca.key.pem';
export const CA_CERT_FILE = 'manufacturing-ca.cert.pem';

/** `$XDG_STATE_HOME/sepi/factory`, i.e. `~/.local/state/sepi/factory` by default. */
export const defaultFactoryDir = (): string => join(process.env['XDG_STATE_HOME'] ?? join(homedir(), '.local', 'state'), 'sepi', 'factory');

/** A stable, plausible serial number for a phone's MAC (Cisco's look like FCH2233ABCD). */
export const serialForMac = (mac: string): string => `FCH${createHash('sha256').update(mac.toUpperCase()).digest('hex').slice(0, 8).toUpperCase()}`;
