/** True for the errors an aborted signal or a timeout rejects with: the end of a cycle, not a failure. */
export const isAbort = (e: unknown): boolean => e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');
