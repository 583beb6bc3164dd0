/**
 * The phone's locally significant certificate (LSC), issued by CAPF, and its private key, kept
 * in NVRAM as one document (written atomically: after a power cut the phone has the old pair or
 * the new one, never a certificate without its key). It decrypts TFTP Encrypted Config files
 * and authenticates the phone to CAPF for the next operation. A factory reset wipes it.
 */
import { X509Certificate, constants, createPrivateKey, privateDecrypt, privateEncrypt, type KeyObject } from 'node:crypto';
import { configCertHash } from '../wire/enc-config.ts';
import type { Nvram } from './nvram.ts';

const DOC = 'lsc';

export interface HeldLsc {
  certPem: string;
  keyPem: string;
}

const isHeld = (v: unknown): v is HeldLsc => typeof v === 'object' && v !== null && typeof (v as HeldLsc).certPem === 'string' && typeof (v as HeldLsc).keyPem === 'string';

/** An LSC ready for use: its DER, key, and the hash configuration files name it by. */
export class Lsc {
  readonly der: Buffer;
  readonly key: KeyObject;
  readonly certHash: string;
  readonly serial: string;
  readonly issuer: string;
  readonly held: HeldLsc;

  constructor(held: HeldLsc) {
    const cert = new X509Certificate(held.certPem);
    this.der = cert.raw;
    this.key = createPrivateKey(held.keyPem);
    this.certHash = configCertHash(this.der);
    this.serial = cert.serialNumber.toLowerCase();
    this.issuer = cert.issuer.replace(/\n/g, ', ');
    this.held = held;
  }

  /** The AES key of an encrypted configuration file, or undefined when it was wrapped for another key. */
  unwrap(wrapped: Uint8Array): Buffer | undefined {
    try {
      return privateDecrypt({ key: this.key, padding: constants.RSA_PKCS1_PADDING }, wrapped);
    } catch {
      return undefined;
    }
  }

  /** CAPF's signed data: a PKCS#1 v1.5 type-1 block around the bare hash. */
  signHash(hash: Uint8Array): Buffer {
    return privateEncrypt({ key: this.key, padding: constants.RSA_PKCS1_PADDING }, hash);
  }
}

export async function readLsc(nvram: Nvram): Promise<Lsc | undefined> {
  const held = await nvram.read<HeldLsc>(DOC, isHeld);
  if (!held) return undefined;
  try {
    return new Lsc(held);
  } catch {
    return undefined;
  }
}

export const writeLsc = (nvram: Nvram, held: HeldLsc): Promise<void> => nvram.write(DOC, held);
/** Documents are stored as `<name>.json`; remove() takes the stored name. */
export const removeLsc = (nvram: Nvram): Promise<void> => nvram.remove(`${DOC}.json`);
