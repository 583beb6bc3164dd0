/**
 * Text from peers cannot forge log lines or drive the terminal (issue 7, defect 9): control
 * characters come out as escapes in log lines, on the LCD and in menus.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { printable } from '../../src/common/printable.ts';
import { LCD_160x128, renderScreen } from '../../src/phone/screen.ts';
import { applyEvent, initialStatus } from '../../src/phone/status.ts';
import type { PhoneEvent } from '../../src/phone/events.ts';

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

test('control characters, line separators and bidi overrides are escaped; the rest is left alone', () => {
  assert.is(printable('GET /SEP1.cnf.xml\n12:00 admin added SEPX'), 'GET /SEP1.cnf.xml\\x0a12:00 admin added SEPX');
  assert.is(printable('\x1b[2J\x07\x9b\u2028\u202e'), '\\x1b[2J\\x07\\x9b\\u{2028}\\u{202e}');
  assert.is(printable('Cisco Systems, Inc. IP Phone CP-8841 ü €'), 'Cisco Systems, Inc. IP Phone CP-8841 ü €');
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => !UNSAFE.test(printable(s)) && printable(printable(s)) === printable(s)));
});

test('a refusal with an escape sequence in it reaches the LCD as text, and the frame keeps its size', () => {
  let s = initialStatus('8841', 'SEP001122334455');
  const e = { type: 'event', step: 'register', state: 'retry', ms: 0, t: 0, message: 'Refused: \x1b]0;owned\x07\x1b[2J bad\nline; retry in 5 s', registration: 'refused', cm: '10.0.0.1', status: 403, reason: 'x', inSecs: 5 } as PhoneEvent;
  s = applyEvent(s, e);
  const f = renderScreen(s, LCD_160x128);
  assert.ok(f.rows.every((r) => !UNSAFE.test(r) && r.length === 20), f.rows.join('\n'));
  assert.match(f.rows.join(''), /\\x1b/);
});

test.run();
