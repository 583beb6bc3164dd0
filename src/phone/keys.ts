/**
 * The phone's keys, one type whatever the source: a terminal, a GPIO keypad through evdev, a
 * serial keypad, `--keys stdin`, the web page or a test.
 */
export const KEYS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'settings', 'back', 'up', 'down', 'select', 'soft1', 'soft2', 'soft3', 'soft4'] as const;
export type Key = (typeof KEYS)[number];
export const isKey = (s: string): s is Key => (KEYS as readonly string[]).includes(s);

