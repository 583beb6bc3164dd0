/**
 * Who may use the admin pages. There is one account, the phone's admin, and no shipped
 * default password: until one is chosen (at first use, on the page) the admin pages only offer
 * to choose it. Its scrypt hash is its own NVRAM document (`web-admin.json`), so a factory reset —
 * which wipes NVRAM — brings the page back to "choose a password", as it brings the
 * customization state back to Open.
 *
 * Sessions live in memory (a restart of the web server signs the admin out) and remember the
 * hash they were opened under: a session is good only while NVRAM still holds that same hash,
 * so a factory reset or a password change ends every session at once, even one opened by a
 * server that did not do the reset. Sign-ins are rate-limited per address and for the account.
 *
 * The hash is the one every compared secret in sepi uses (src/common/password-hash.ts), checked
 * off the event loop so the phone keeps booting (and the LCD drawing) while a sign-in is checked.
 */
import { randomBytes } from 'node:crypto';
import { setCapped } from '../../common/capped-map.ts';
import { hashSecretAsync, verifySecretAsync } from '../../common/password-hash.ts';
import type { Clock } from '../../common/clock.ts';
import type { Nvram } from '../nvram.ts';

/** The NVRAM document (`web-admin.json`). */
export const ADMIN_DOC = 'web-admin';
export const MIN_PASSWORD = 8;
/** Long enough for any passphrase, short enough that scrypt is never fed a megabyte. */
export const MAX_PASSWORD = 128;

const IDLE_MS = 30 * 60_000;
const MAX_MS = 8 * 3_600_000;
/** A phone has one admin; a handful of browsers at once is plenty, and the map stays small. */
const MAX_SESSIONS = 32;

export interface AdminDoc {
  v: 1;
  passwordHash: string;
  setAt: string;
}

const isAdminDoc = (v: unknown): v is AdminDoc => {
  const d = v as Partial<AdminDoc> | null;
  return typeof d === 'object' && d !== null && d.v === 1 && typeof d.passwordHash === 'string' && typeof d.setAt === 'string';
};

export const hashPassword = hashSecretAsync;
export const verifyPassword = verifySecretAsync;

/** Why a new password is not acceptable, or undefined when it is. */
export function passwordProblem(password: string, again: string): string | undefined {
  if (password.length < MIN_PASSWORD) return `The password must have at least ${MIN_PASSWORD} characters.`;
  if (password.length > MAX_PASSWORD) return `The password must have at most ${MAX_PASSWORD} characters.`;
  if (password !== again) return 'The two passwords are not the same.';
  return undefined;
}

/** `burst` at once, then `perMinute`, per key; the oldest keys forgotten first. */
class Bucket {
  private readonly keys = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;
  private readonly perMs: number;
  private readonly clock: Clock;

  constructor(burst: number, perMinute: number, clock: Clock) {
    this.burst = burst;
    this.perMs = perMinute / 60_000;
    this.clock = clock;
  }

  take(key: string): boolean {
    const now = this.clock.now();
    const b = this.keys.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.perMs);
    b.at = now;
    setCapped(this.keys, key, b, 1024);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

interface Session {
  passwordHash: string;
  started: number;
  seen: number;
}

export type SignIn = { ok: true; session: string } | { ok: false; why: 'limited' | 'wrong' | 'no-password' };

export class AdminAuth {
  private readonly nvram: Nvram;
  private readonly clock: Clock;
  private readonly sessions = new Map<string, Session>();
  /** Five tries at once from an address, then one every 12 s; the account itself, ten, then ten a minute. */
  private readonly perAddress: Bucket;
  private readonly perAccount: Bucket;
  /** Choosing the password is read-check-write: one at a time, so two first visitors cannot both win. */
  private choosing: Promise<unknown> = Promise.resolve();

  constructor(nvram: Nvram, clock: Clock) {
    this.nvram = nvram;
    this.clock = clock;
    this.perAddress = new Bucket(5, 5, clock);
    this.perAccount = new Bucket(10, 10, clock);
  }

  /** The stored hash, read each time: NVRAM is the truth, and a factory reset may have wiped it. */
  async currentHash(): Promise<string | undefined> {
    return (await this.nvram.read<AdminDoc>(ADMIN_DOC, isAdminDoc))?.passwordHash;
  }

  /** Chooses the first password; false when one exists already (someone chose it first). */
  async choose(password: string): Promise<{ ok: true; session: string } | { ok: false }> {
    const run = this.choosing.then(async () => {
      if (await this.currentHash()) return { ok: false as const };
      const passwordHash = await hashPassword(password);
      await this.nvram.write(ADMIN_DOC, { v: 1, passwordHash, setAt: new Date(this.clock.now()).toISOString() } satisfies AdminDoc);
      return { ok: true as const, session: this.open(passwordHash) };
    });
    this.choosing = run.catch(() => {});
    return run;
  }

  /** Changes the password (the current one checked, rate-limited like a sign-in); every other session ends. */
  async change(from: string, current: string, password: string): Promise<SignIn> {
    const checked = await this.signIn(from, current);
    if (!checked.ok) return checked;
    const passwordHash = await hashPassword(password);
    await this.nvram.write(ADMIN_DOC, { v: 1, passwordHash, setAt: new Date(this.clock.now()).toISOString() } satisfies AdminDoc);
    this.sessions.clear();
    return { ok: true, session: this.open(passwordHash) };
  }

  /** Checks a password; the attempt counts against the address and the account either way. */
  async signIn(from: string, password: string): Promise<SignIn> {
    const address = this.perAddress.take(from);
    const account = this.perAccount.take('admin');
    if (!address || !account) return { ok: false, why: 'limited' };
    const stored = await this.currentHash();
    if (!stored) return { ok: false, why: 'no-password' };
    // Nothing longer than a password may be is checked at all (and scrypt is never fed much).
    if (password.length > MAX_PASSWORD || !(await verifyPassword(password, stored))) return { ok: false, why: 'wrong' };
    return { ok: true, session: this.open(stored) };
  }

  private open(passwordHash: string): string {
    const id = randomBytes(24).toString('base64url');
    const now = this.clock.now();
    setCapped(this.sessions, id, { passwordHash, started: now, seen: now }, MAX_SESSIONS);
    return id;
  }

  /** True when the cookie names a live session opened under the password NVRAM holds now. */
  async isAdmin(id: string | undefined): Promise<boolean> {
    if (!id) return false;
    const s = this.sessions.get(id);
    if (!s) return false;
    const now = this.clock.now();
    const stored = await this.currentHash();
    if (stored !== s.passwordHash || now - s.seen > IDLE_MS || now - s.started > MAX_MS) {
      this.sessions.delete(id);
      return false;
    }
    s.seen = now;
    return true;
  }

  close(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  /** After a factory reset: nobody stays signed in. */
  closeAll(): void {
    this.sessions.clear();
  }
}
