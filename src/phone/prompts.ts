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
 * Answers the digit questions with presets — `--capf-auth-string`, `--activation-code`, for
 * phones nobody types on — as a person would type them, once each: asked again (the answer was
 * refused, or a later onboarding wants a new code), the question goes to the phone's own
 * prompt. Every other question goes there too.
 */
export class PresetPrompt implements UserPrompt {
  private readonly inner: UserPrompt;
  private readonly presets: Map<string, string>;

  constructor(inner: UserPrompt, presets: { authString?: string; activationCode?: string }) {
    this.inner = inner;
    this.presets = new Map();
    if (presets.authString) this.presets.set('authentication-string', presets.authString);
    if (presets.activationCode) this.presets.set('activation-code', presets.activationCode);
  }

  ask<R extends PromptRequest>(request: R, signal: AbortSignal): Promise<PromptAnswer<R>> {
    const preset = request.kind === 'confirm' || request.problem ? undefined : this.presets.get(request.kind);
    if (preset !== undefined) {
      this.presets.delete(request.kind);
      return Promise.resolve({ digits: preset } as PromptAnswer<R>);
    }
    return this.inner.ask(request, signal);
  }
}
