/**
 * The phone's user-editable network settings (Settings > Admin settings > Network setup on a
 * real phone), kept in NVRAM as settings.json.
 */
import { isIpv4 } from '../wire/ipv4.ts';
import type { Nvram } from './nvram.ts';
import type { TftpSettings } from './tftp-server-choice.ts';

export interface PhoneSettings extends TftpSettings {
  dhcpEnabled: boolean;
  /** Used when DHCP is off: address/prefix, router. */
  staticAddress: string;
  staticPrefix: number;
  staticRouter: string;
}

export const DEFAULT_SETTINGS: PhoneSettings = {
  dhcpEnabled: true,
  alternateTftp: false,
  tftpServer1: '',
  tftpServer2: '',
  staticAddress: '',
  staticPrefix: 24,
  staticRouter: '',
};

function isSettings(v: unknown): v is Partial<PhoneSettings> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export async function loadSettings(nvram: Nvram): Promise<PhoneSettings> {
  const stored = (await nvram.read('settings', isSettings)) ?? {};
  const s = { ...DEFAULT_SETTINGS, ...stored };
  // A damaged document must not smuggle odd types into the firmware.
  for (const k of Object.keys(DEFAULT_SETTINGS) as (keyof PhoneSettings)[]) {
    if (typeof s[k] !== typeof DEFAULT_SETTINGS[k]) (s as Record<string, unknown>)[k] = DEFAULT_SETTINGS[k];
  }
  return s;
}

export function validateSettings(s: PhoneSettings): string | undefined {
  if (s.alternateTftp && !s.tftpServer1) return 'Alternate TFTP needs TFTP Server 1';
  if (!s.dhcpEnabled && !isIpv4(s.staticAddress)) return 'DHCP is off and no static address is set';
  if (!s.dhcpEnabled && !s.alternateTftp) return 'DHCP is off: set TFTP Server 1 (Alternate TFTP)';
  return undefined;
}

export const saveSettings = (nvram: Nvram, s: PhoneSettings): Promise<void> => nvram.write('settings', s);
