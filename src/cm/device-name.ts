/**
 * What the companion knows a device by: its device name, as CUCM does. `SEP` + the MAC in upper
 * case for a phone that has been seen or was added by MAC; `BAT` + 12 upper-case hex digits for
 * a device provisioned before anyone knew its MAC (CUCM's Bulk Administration Tool dummy
 * devices, which an activation code later binds to a real phone).
 *
 * An admin may write a phone as `001122334455`, `00:11:22:33:44:55`, `00-11-…`, `0011.2233.4455`,
 * `SEP001122334455` (any case), or a dummy as `BAT…`.
 */
import { MacAddress } from '../wire/mac.ts';

export interface DeviceId {
  /** `SEP…` or `BAT…`, upper case. */
  name: string;
  /** 12 upper-case hex digits; undefined for a BAT device. */
  mac: string | undefined;
}

export const DEVICE_NAME_FORMS = '001122334455, 00:11:22:33:44:55, SEP001122334455 or BAT001122334455';

export function parseDeviceId(input: string): DeviceId | undefined {
  const s = input.trim();
  const bat = /^bat([0-9a-f]{12})$/i.exec(s);
  if (bat) return { name: `BAT${bat[1]!.toUpperCase()}`, mac: undefined };
  const mac = MacAddress.parse(s);
  return mac ? { name: mac.deviceName, mac: mac.hex } : undefined;
}

/** A directory number as the companion accepts it (digits, `*`, `#`, `+`). */
export const DIRECTORY_NUMBER = /^[0-9*#+]{1,24}$/;

/** An end user's id, as users are added and as a sign-in form may name one. */
export const USER_ID = /^[A-Za-z0-9._@-]{1,64}$/;

/** True for a name as the database keeps it. */
export const isDeviceName = (s: string): boolean => /^(SEP|BAT)[0-9A-F]{12}$/.test(s);
