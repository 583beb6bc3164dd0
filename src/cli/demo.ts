/**
 * `sepi demo` (`make demo`): flags in, the demo lab (src/lab/demo.ts) run. In namespaces as
 * root, on 127.0.0.1 otherwise or with --fallback.
 */
import { runDemo } from '../lab/demo.ts';
import { parse, positiveInt } from './args.ts';

export async function demoCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, { phones: { type: 'string' }, timeout: { type: 'string' }, fallback: { type: 'boolean' } });
  return runDemo({
    count: Math.min(positiveInt(v.phones, '--phones', 2), 8),
    timeoutSecs: positiveInt(v.timeout, '--timeout', 120),
    namespaces: process.getuid?.() === 0 && !v.fallback,
  });
}
