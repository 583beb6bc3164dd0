/**
 * Writes docs/schema/phone-events.schema.json, the published contract of `sepi phone
 * --json-events`, from the event declarations in src/phone/events.ts (`make schema`). A unit
 * test checks that the committed file is what this prints.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { phoneStreamLine } from '../src/phone/events.ts';

export const SCHEMA_PATH = join(import.meta.dirname, '..', 'docs', 'schema', 'phone-events.schema.json');
export const SCHEMA_ID = 'https://sepi.invalid/schema/phone-events/1.json';

export function phoneEventsSchema(): string {
  const generated = z.toJSONSchema(phoneStreamLine, { target: 'draft-2020-12' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  const doc = {
    $schema,
    $id: SCHEMA_ID,
    title: 'sepi phone --json-events, version 1',
    description: 'One JSON object a line. type "event": a boot step outcome (step, state, ms since the step began, t since power-on or the last reboot, message as the phone shows it, and fields of its own). type "flow": a boot flow changed state. type "screen": the LCD as drawn (--json-screens). New members may be added in a minor version; a field is never renamed or removed within a version.',
    ...rest,
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

if (import.meta.main) {
  writeFileSync(SCHEMA_PATH, phoneEventsSchema());
  process.stdout.write(`wrote ${SCHEMA_PATH}\n`);
}
