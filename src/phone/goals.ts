/**
 * Where a lab stops a phone (`--until`): the first event that reaches the goal. `registered`
 * means registered with the phone's own file (or a Multiplatform phone's profile), not on the
 * default one; `customized` means a final customization state (Acquired, Unavailable, Aborted).
 */
import type { PhoneEvent } from './events.ts';

export const UNTIL_GOALS = ['dhcp', 'config', 'registered', 'registered-any', 'customized'] as const;
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
  }
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
      if (o.goal && reaches(o.goal, e)) finish({ kind: 'reached' });
    });
    const cancelTimer = o.timeoutMs === undefined ? () => {} : o.clock.timer(o.timeoutMs, () => finish({ kind: 'timeout', last: phone.status.problem ?? phone.status.log.at(-1) ?? 'nothing happened' }));
    stop = (code, why) => finish({ kind: 'stopped', code, why });
  });
  return { outcome, stop };
}
