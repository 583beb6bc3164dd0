/**
 * Line passwords at rest. Digest authentication needs the password itself (the phone's
 * configuration file carries it, and the registrar computes the expected response from it),
 * so it cannot be stored as a one-way hash; it is stored encrypted instead — AES-256-GCM under
 * a key of the data folder's own (`secrets.key`, 0600, made at first start), with the device
 * name as associated data so a value cannot be moved to another phone's row. A copy of the
 * database alone (a backup, a bug report) then holds no password.
 *
 *   enc1:<base64( iv[12] | ciphertext | tag[16] )>
 */
import { type KeyObject, createCipheriv, createDecipheriv, createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const SECRETS_KEY_FILE = 'secrets.key';
const PREFIX = 'enc1:';

export class SecretBox {
  /** Imported once: given as bytes, the key is imported again by every seal, open and subkey. */
  private readonly key: KeyObject;
  /** True when this start made the key (so nothing could have been encrypted under another). */
  readonly fresh: boolean;

  private constructor(key: Buffer, fresh: boolean) {
    this.key = createSecretKey(key);
    this.fresh = fresh;
  }

  /** The data folder's key, made (exclusively, fsynced) when there is none. */
  static open(dataDir: string): SecretBox {
    const path = join(dataDir, SECRETS_KEY_FILE);
    try {
      const key = readFileSync(path);
      if (key.length !== 32) throw new Error(`${path} is not a 32-byte key`);
      return new SecretBox(key, false);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const key = randomBytes(32);
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, key);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return new SecretBox(key, true);
  }

  /**
   * A key for one purpose derived from the folder's key (HMAC-SHA256 over the label), so a key
   * used to derive activation codes is never the one that seals passwords.
   */
  subkey(label: string): Buffer {
    return createHmac('sha256', this.key).update(label).digest();
  }

  static isSealed(stored: string): boolean {
    return stored.startsWith(PREFIX);
  }

  seal(plain: string, owner: string): string {
    if (plain === '') return '';
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(owner));
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return PREFIX + Buffer.concat([iv, body, c.getAuthTag()]).toString('base64');
  }

  /** The plain password; a value that is not sealed (an older release's) comes back as it is. */
  open(stored: string, owner: string): string {
    if (!SecretBox.isSealed(stored)) return stored;
    const raw = Buffer.from(stored.slice(PREFIX.length), 'base64');
    if (raw.length < 28) throw new Error(`the stored password of ${owner} is damaged`);
    const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(owner));
    d.setAuthTag(raw.subarray(raw.length - 16));
    try {
      return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString('utf8');
    } catch {
      throw new Error(`the stored password of ${owner} does not open with ${SECRETS_KEY_FILE} (a key from another data folder?)`);
    }
  }
}
