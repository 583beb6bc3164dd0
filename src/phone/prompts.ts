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

/**
 * Answers the CAPF authentication-string question with a preset (`--capf-auth-string`, for
 * phones nobody types on) and passes every other question to the phone's own prompt.
 */
export class PresetAuthStringPrompt implements UserPrompt {
  private readonly inner: UserPrompt;
  private readonly digits: string;

  constructor(inner: UserPrompt, digits: string) {
    this.inner = inner;
    this.digits = digits;
  }

  ask<R extends PromptRequest>(request: R, signal: AbortSignal): Promise<PromptAnswer<R>> {
    if (request.kind === 'authentication-string' && !request.problem) return Promise.resolve({ digits: this.digits } as PromptAnswer<R>);
    return this.inner.ask(request, signal);
  }
}
