/**
 * The self-provisioning IVR's dialogue, as a pure state machine: what it says, what digits it
 * waits for, and what it decides — no SIP, no RTP, no database. The call layer feeds it digits
 * (RFC 4733 from the caller's phone) and timeouts, plays the prompts it returns (as speech or
 * tones, the text always in the log and sent to the caller), and carries out its decision.
 *
 * The script follows what Cisco documents for the Self-Provisioning IVR (reference
 * onboarding-protocol.md §4, seeds/002): the caller enters their self-service user ID ending
 * with `#`, confirms it, then — if the system requires authentication — their PIN (end users),
 * or the PIN or the administrators' authentication code (0–20 digits) — and the phone is
 * provisioned for that user, then reset. Wording is ours (the recorded prompts are not public).
 *
 *   welcome ─► user-id ──#──► confirm ──1──► secret ──#──► decide ──► done (provision | refuse)
 *                 ▲             │2                 (auth none: straight to decide)
 *                 └─────────────┘     three bad or missing entries: goodbye
 */
export type AuthMode = 'none' | 'users' | 'users-and-admins';

export type IvrState = 'user-id' | 'confirm' | 'secret' | 'done';

export type IvrOutput =
  | { kind: 'prompt'; text: string }
  /** Check the caller: the call layer answers with `verdict()`. */
  | { kind: 'check'; userId: string; secret: string | undefined }
  | { kind: 'hangup'; text: string; reason: 'provisioned' | 'refused' | 'gave-up' };

export interface IvrOptions {
  auth: AuthMode;
  /** How many tries at each entry before the IVR says goodbye. */
  maxTries?: number;
  /** Digits in one entry at most (an authentication code is up to 20; an ID is shorter). */
  maxDigits?: number;
}

const MAX_TRIES = 3;

export class SelfProvisioningScript {
  private readonly o: Required<IvrOptions>;
  state: IvrState = 'user-id';
  private typed = '';
  private userId = '';
  private tries = 0;

  constructor(o: IvrOptions) {
    this.o = { maxTries: MAX_TRIES, maxDigits: 24, ...o };
  }

  /** What the IVR says when it answers. */
  start(): IvrOutput[] {
    return [{ kind: 'prompt', text: 'Welcome to self-provisioning. This phone will be set up for your user account.' }, this.ask()];
  }

  private ask(): IvrOutput {
    switch (this.state) {
      case 'user-id':
        return { kind: 'prompt', text: 'Enter your self-service user ID, followed by the pound key.' };
      case 'confirm':
        return { kind: 'prompt', text: `You entered ${[...this.userId].join(' ')}. Press 1 to confirm, or 2 to enter it again.` };
      case 'secret':
        return { kind: 'prompt', text: this.o.auth === 'users' ? 'Enter your PIN, followed by the pound key.' : 'Enter your PIN, or the administrator authentication code, followed by the pound key.' };
      case 'done':
        return { kind: 'prompt', text: '' };
    }
  }

  /** One DTMF digit from the caller. */
  digit(d: string): IvrOutput[] {
    if (this.state === 'done') return [];
    if (this.state === 'confirm') {
      if (d === '1') return this.next(this.o.auth === 'none' ? 'check' : 'secret');
      if (d === '2') {
        this.userId = '';
        this.state = 'user-id';
        return [this.ask()];
      }
      return [this.ask()];
    }
    if (d === '#') {
      const entry = this.typed;
      this.typed = '';
      if (entry === '' && this.state === 'user-id') return this.retry('Nothing was entered.');
      if (this.state === 'user-id') {
        this.userId = entry;
        this.state = 'confirm';
        return [this.ask()];
      }
      return [{ kind: 'check', userId: this.userId, secret: entry }];
    }
    if (d === '*') {
      this.typed = '';
      return [this.ask()];
    }
    if (/^[0-9]$/.test(d)) {
      if (this.typed.length >= this.o.maxDigits) return this.retry('That entry is too long.');
      this.typed += d;
    }
    return [];
  }

  /** Nothing typed for too long. */
  timeout(): IvrOutput[] {
    if (this.state === 'done') return [];
    this.typed = '';
    return this.retry('No entry was received.');
  }

  /** The call layer's answer to a `check`. */
  verdict(v: { ok: true; dn: string } | { ok: false; why: 'unknown-user' | 'bad-secret' | 'not-allowed' | 'limit' | 'device' }): IvrOutput[] {
    // A late answer (the caller hung up, or gave up meanwhile) changes nothing.
    if (this.state === 'done') return [];
    if (v.ok) {
      this.state = 'done';
      return [{ kind: 'hangup', reason: 'provisioned', text: `Your phone is provisioned with extension ${[...v.dn].join(' ')}. It will now restart. Goodbye.` }];
    }
    switch (v.why) {
      case 'unknown-user':
      case 'bad-secret':
        // Which of the two was wrong is not said: that would tell a guesser which user IDs exist.
        this.userId = '';
        this.state = 'user-id';
        return this.retry('The user ID or the PIN is not valid.');
      case 'not-allowed':
        return this.end('This user is not allowed to provision phones. Goodbye.');
      case 'limit':
        return this.end('This user has reached the limit of phones they may provision. Goodbye.');
      case 'device':
        return this.end('This device cannot be provisioned. Goodbye.');
    }
  }

  private next(step: 'check' | 'secret'): IvrOutput[] {
    if (step === 'check') return [{ kind: 'check', userId: this.userId, secret: undefined }];
    this.state = 'secret';
    return [this.ask()];
  }

  private retry(why: string): IvrOutput[] {
    if (++this.tries >= this.o.maxTries) return this.end(`${why} Goodbye.`, 'gave-up');
    return [{ kind: 'prompt', text: why }, this.ask()];
  }

  private end(text: string, reason: 'refused' | 'gave-up' = 'refused'): IvrOutput[] {
    this.state = 'done';
    return [{ kind: 'hangup', reason, text }];
  }
}
