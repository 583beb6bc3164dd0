/**
 * Building and reading operation outcomes. An operation says what happened (`not-found`,
 * `conflict`, …) and never how HTTP spells it: the route table does that, in one place
 * (errors.ts). Bugs are still thrown.
 */
import type { Failure, Outcome } from './contract.ts';

export const ok = <T>(value: T): Outcome<T> => ({ kind: 'ok', value });
export const notFound = (message: string): Failure => ({ kind: 'not-found', message });
export const invalid = (field: string, message: string): Failure => ({ kind: 'invalid', field, message });
export const conflict = (message: string): Failure => ({ kind: 'conflict', message });
export const unavailable = (message: string): Failure => ({ kind: 'unavailable', message });

/** For a caller that drives the operations directly and treats any failure as a bug (a test). */
export function expectOk<T>(o: Outcome<T>): T {
  if (o.kind !== 'ok') throw new Error(`${o.kind}: ${o.message}`);
  return o.value;
}
