/** True for the errors an aborted signal or a timeout rejects with: the end of a cycle, not a failure. */
export const isAbort = (e: unknown): boolean => e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');

/**
 * The reason to give `abort()` when a wait simply ended (its answer came, its loop is over).
 * `abort()` without one makes a new DOMException, stack trace and all, every time; a fleet of
 * thousands of phones ends tens of thousands of waits a second, and those exceptions were a
 * visible part of its CPU. One shared reason, made once, says the same thing.
 */
export const WAIT_ENDED: Error = Object.assign(new Error('the wait ended'), { name: 'AbortError' });
