/**
 * Whether the self-provisioning IVR may give the calling phone to a user, by the rules Cisco
 * documents (seeds/002, reference onboarding-protocol.md §4): the calling phone must be an
 * autoregistered one (a provisioned phone "cannot be provisioned"); the user must exist, have a
 * primary extension and a profile that allows self-provisioning, and be under its phone limit
 * (10 unless set); with authentication required, the secret must be the user's PIN or password,
 * or — when administrators are allowed — the system's authentication code. Pure: the hashes are
 * checked by the function given, so this file needs no database and no crypto.
 */
import type { AuthMode } from './script.ts';

export const DEFAULT_PHONE_LIMIT = 10;

export interface IvrUser {
  id: string;
  primaryDn: string | undefined;
  pinHash: string | undefined;
  passwordHash: string | undefined;
  /** The user profile's "Allow End User to Provision their own phones". */
  selfProvisioning: boolean;
  limit: number;
  /** Phones this user already provisioned themselves. */
  provisioned: number;
}

export interface IvrDevice {
  deviceName: string;
  autoregistered: boolean;
}

export type IvrVerdict = { ok: true; dn: string; by: 'none' | 'user' | 'admin' } | { ok: false; why: 'unknown-user' | 'bad-secret' | 'not-allowed' | 'limit' | 'device' };

export function decide(
  o: { auth: AuthMode; authCodeHash: string | undefined },
  user: IvrUser | undefined,
  device: IvrDevice,
  secret: string | undefined,
  verify: (secret: string, hash: string) => boolean,
): IvrVerdict {
  if (!device.autoregistered) return { ok: false, why: 'device' };
  if (!user) return { ok: false, why: 'unknown-user' };
  let by: 'none' | 'user' | 'admin' = 'none';
  if (o.auth !== 'none') {
    const s = secret ?? '';
    const asUser = [user.pinHash, user.passwordHash].some((h) => h !== undefined && s !== '' && verify(s, h));
    // The code may be empty ("0 to 20 digits"): an empty entry then is the code.
    const asAdmin = o.auth === 'users-and-admins' && o.authCodeHash !== undefined && verify(s, o.authCodeHash);
    if (!asUser && !asAdmin) return { ok: false, why: 'bad-secret' };
    by = asUser ? 'user' : 'admin';
  }
  if (!user.selfProvisioning || !user.primaryDn) return { ok: false, why: 'not-allowed' };
  if (user.provisioned >= user.limit) return { ok: false, why: 'limit' };
  return { ok: true, dn: user.primaryDn, by };
}
