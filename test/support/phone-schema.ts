/**
 * The published contract of `sepi phone --json-events` (docs/schema/phone-events.schema.json),
 * compiled by a validator nobody here wrote (ajv, JSON Schema 2020-12). The e2e tests check every
 * line they read with it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';

const schema = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'schema', 'phone-events.schema.json'), 'utf8')) as object;
const validate = new Ajv2020({ allErrors: false, strict: true }).compile(schema);

/** undefined when the line is valid, else why not (ajv's words, trimmed). */
export function checkPhoneLine(v: unknown): string | undefined {
  if (validate(v)) return undefined;
  // anyOf errors name every member; the shortest path that is not the anyOf itself says most.
  const errs = (validate.errors ?? []).filter((e) => e.keyword !== 'anyOf');
  const best = errs.find((e) => e.keyword === 'additionalProperties') ?? errs[0];
  return best ? `${best.instancePath || '/'} ${best.message}${best.params ? ` ${JSON.stringify(best.params)}` : ''}` : 'not valid';
}
