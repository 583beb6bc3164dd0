/**
 * The phone's emulated MIC (manufacturing installed certificate) and its key, kept in NVRAM as
 * one document written atomically. Made once, the first time the phone needs it, by the lab's
 * factory (src/factory/manufacturing-ca.ts) when the phone can reach one; a board can be given
 * one at flashing time instead. A factory reset keeps it: a real phone's MIC is in its hardware.
 */
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import type { MicIssuer } from '../factory/manufacturing-ca.ts';
import { serialForMac } from '../factory/factory-files.ts';
import type { Nvram } from './nvram.ts';
import { BANK_NAMES } from './banks.ts';

const DOC = 'mic';

export interface HeldMic {
  certPem: string;
  keyPem: string;
  /** The manufacturing CA's certificate, sent with the MIC as its chain. */
  caPem: string;
}

const isHeld = (v: unknown): v is HeldMic => {
  const m = v as HeldMic;
  return typeof v === 'object' && v !== null && typeof m.certPem === 'string' && typeof m.keyPem === 'string' && typeof m.caPem === 'string';
};

export async function readMic(nvram: Nvram): Promise<HeldMic | undefined> {
  const held = await nvram.read<HeldMic>(DOC, isHeld);
  if (!held) return undefined;
  try {
    new X509Certificate(held.certPem);
    return held;
  } catch {
    return undefined;
  }
}

/** The MIC in NVRAM, or one made now by `issuer`; undefined when there is neither. */
export async function ensureMic(nvram: Nvram, issuer: MicIssuer | undefined, o: { model: string; mac: string; now: number }): Promise<HeldMic | undefined> {
  const held = await readMic(nvram);
  if (held || !issuer) return held;
  // Synchronous on purpose: it happens once in a phone's life, and a key made off the event loop
  // would be work in progress that nothing waiting on the wire (a test's virtual time) can see.
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const issued = await issuer.issueMic({ model: o.model, mac: o.mac, serial: serialForMac(o.mac), spkiPem: publicKey.export({ type: 'spki', format: 'pem' }) as string, now: o.now });
  const mic: HeldMic = { certPem: issued.certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, caPem: issued.caPem };
  await nvram.write(DOC, mic);
  return mic;
}

/**
 * A factory reset: everything in NVRAM goes but the MIC, which a real phone keeps in hardware,
 * and which firmware runs (the banks record): a reset erases settings, not the installed load.
 */
export async function wipeKeepingMic(nvram: Nvram): Promise<void> {
  const mic = await readMic(nvram);
  await nvram.wipe(BANK_NAMES);
  if (mic) await nvram.write(DOC, mic);
}
