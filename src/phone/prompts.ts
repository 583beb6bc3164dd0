/** UserPrompt answers for phones without a person at them. */
import type { PromptAnswer, PromptRequest, UserPrompt } from './ports.ts';

/** Nobody will answer: a question waits until the cycle ends (a reboot or power-off). */
export class UnattendedPrompt implements UserPrompt {
  ask<R extends PromptRequest>(_request: R, signal: AbortSignal): Promise<PromptAnswer<R>> {
    return new Promise((_resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
}
