/**
 * A publisher with any number of subscribers, in the spirit of node:diagnostics_channel: the
 * publisher does not know who listens, and a listener that throws cannot stop the publisher or
 * the listeners after it (a broken display must not stop a phone from booting).
 */
export type Listener<T> = (value: T) => void;

export class Bus<T> {
  private listeners: Listener<T>[] = [];
  private readonly onListenerError: (e: unknown) => void;

  constructor(onListenerError: (e: unknown) => void = (e) => process.emitWarning(`a listener failed: ${e instanceof Error ? e.stack : String(e)}`)) {
    this.onListenerError = onListenerError;
  }

  /** Adds a listener; the returned function removes it (calling it twice is harmless). */
  subscribe(fn: Listener<T>): () => void {
    // Copy on write: a listener that unsubscribes while being called does not disturb the loop.
    this.listeners = [...this.listeners, fn];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }

  publish(value: T): void {
    for (const l of this.listeners) {
      try {
        l(value);
      } catch (e) {
        this.onListenerError(e);
      }
    }
  }

  get size(): number {
    return this.listeners.length;
  }
}
