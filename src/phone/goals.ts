/**
 * Where a lab stops a phone (`--until`): the first event that reaches the goal. `registered`
 * means registered with the phone's own file (or a Multiplatform phone's profile), not on the
 * default one; `customized` means a final customization state (Acquired, Unavailable, Aborted);
 * `call-ended` means a call connected and ended normally (either side hung up) — a call that
 * ends otherwise (refused, cancelled, no answer, the line lost) fails the run with its reason.
 */
import type { PhoneEvent } from './events.ts';

export const UNTIL_GOALS = ['dhcp', 'config', 'registered', 'registered-any', 'customized', 'call-ended'] as const;
const FINAL_CUSTOMIZATION = new Set(['Acquired', 'Unavailable', 'Aborted']);
export type UntilGoal = (typeof UNTIL_GOALS)[number];
export const isUntilGoal = (s: string): s is UntilGoal => (UNTIL_GOALS as readonly string[]).includes(s);

export function reaches(goal: UntilGoal, e: PhoneEvent): boolean {
  if (e.type !== 'event' || e.state !== 'done') return false;
  switch (goal) {
    case 'dhcp':
      return e.step === 'dhcp';
    case 'config':
      return e.step === 'config';
    case 'registered':
      return e.step === 'register' && e.configKind !== 'default';
    case 'registered-any':
      return e.step === 'register';
    case 'customized':
      return e.step === 'customization' && FINAL_CUSTOMIZATION.has(e.customization);
    case 'call-ended':
      return e.step === 'call' && e.call === 'ended';
  }
}

/** Why the goal can no longer be reached as asked, when this event says so (a failed call for `call-ended`). */
export function fails(goal: UntilGoal, e: PhoneEvent): string | undefined {
  if (goal !== 'call-ended' || e.type !== 'event' || e.step !== 'call' || e.call !== 'ended' || e.state !== 'fail') return undefined;
  // Digits typed and never dialed are not a call.
  if (e.reason === 'abandoned') return undefined;
  return `call ${e.direction === 'outgoing' ? 'to' : 'from'} ${e.number || '?'} failed: ${e.reason}${e.status !== undefined ? ` (${e.status})` : ''} — ${e.message}`;
}

export type RunOutcome = { kind: 'reached' } | { kind: 'timeout'; last: string } | { kind: 'stopped'; code: number; why: string };

/**
 * Waits until the phone reaches the goal (none: never), the deadline passes, or `stop` is
 * called (a signal, a key), whichever is first. Powering off is the caller's.
 */
export function runUntil(
  phone: { subscribe(fn: (e: PhoneEvent) => void): () => void; readonly status: { problem: string | undefined; log: string[] } },
  o: { goal: UntilGoal | undefined; timeoutMs: number | undefined; clock: { timer(ms: number, fn: () => void): () => void } },
): { outcome: Promise<RunOutcome>; stop: (code: number, why: string) => void } {
  let stop: (code: number, why: string) => void = () => {};
  const outcome = new Promise<RunOutcome>((resolve) => {
    let done = false;
    const finish = (r: RunOutcome) => {
      if (done) return;
      done = true;
      unsubscribe();
      cancelTimer();
      resolve(r);
    };
    const unsubscribe = phone.subscribe((e) => {
      if (!o.goal) return;
      if (reaches(o.goal, e)) return finish({ kind: 'reached' });
      const failed = fails(o.goal, e);
      if (failed) finish({ kind: 'stopped', code: 1, why: failed });
    });
    const cancelTimer = o.timeoutMs === undefined ? () => {} : o.clock.timer(o.timeoutMs, () => finish({ kind: 'timeout', last: phone.status.problem ?? phone.status.log.at(-1) ?? 'nothing happened' }));
    stop = (code, why) => finish({ kind: 'stopped', code, why });
  });
  return { outcome, stop };
}
