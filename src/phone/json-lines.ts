/**
 * The `--json-events` stream: one JSON object a line, each with a `type` — `event` (a step
 * outcome), `flow` (a boot flow's state change), `screen` (the LCD, with `--json-screens`).
 * The contract is docs/schema/phone-events.schema.json; docs/cli.md shows lab uses with jq.
 */
import type { PhoneEvent, ScreenLine } from './events.ts';
import type { ScreenFrame } from './screen.ts';

export const eventLine = (e: PhoneEvent): string => JSON.stringify(e) + '\n';

export const screenLine = (f: ScreenFrame): string => JSON.stringify({ type: 'screen', screen: f.rows, softkeys: f.softkeys } satisfies ScreenLine) + '\n';
