/**
 * A board as `board/NAME/board.json` describes it: the LCD (character grid, and for a panel its
 * pixels, console font and tty), the network interface, and the keypad (where keys come from).
 * One loader for the whole file, so every part of sepi reads a board the same way; the file
 * format is in board/README.md.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { KEYS } from '../phone/keys.ts';

export const BOARDS_DIR = join(import.meta.dirname, '..', '..', 'board');

const boardSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9-]+$/),
  description: z.string(),
  lcd: z.strictObject({
    cols: z.int().min(16).max(200),
    rows: z.int().min(6).max(100),
    pixels: z.tuple([z.int().positive(), z.int().positive()]).optional(),
    font: z.tuple([z.int().positive(), z.int().positive()]).optional(),
    tty: z.string().startsWith('/dev/').optional(),
  }),
  iface: z.string().min(1).max(15),
  /** The firmware the board is flashed as (enterprise unless said); `sepi phone --persona` overrides it. */
  persona: z.enum(['enterprise', 'mpp']).optional(),
  /** The model the board poses as (`8841`, `8841-3PCC`); `--model` overrides it. */
  model: z.string().regex(/^\d{4}(-3PCC)?$/i).optional(),
  keypad: z.discriminatedUnion('source', [
    z.strictObject({ source: z.literal('terminal') }),
    z.strictObject({
      source: z.literal('evdev'),
      device: z.string().startsWith('/dev/'),
      /** Linux key code (decimal) -> phone key, over the built-in map: for keypads wired differently. */
      keymap: z.record(z.string().regex(/^\d{1,4}$/), z.enum(KEYS)).optional(),
    }),
    z.strictObject({ source: z.literal('serial'), device: z.string().startsWith('/dev/'), baud: z.int().positive().optional() }),
    z.strictObject({ source: z.literal('none') }),
  ]),
});

export type Board = z.infer<typeof boardSchema>;

export class BoardError extends Error {
  override name = 'BoardError';
}

/** Reads and checks board/NAME/board.json (or under `dir`); a bad name is refused before any path is made. */
export async function loadBoard(name: string, dir = BOARDS_DIR): Promise<Board> {
  if (!/^[a-z0-9-]+$/.test(name)) throw new BoardError(`${name}: not a board name`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, name, 'board.json'), 'utf8'));
  } catch (e) {
    throw new BoardError(`${name}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such board (see board/)' : (e as Error).message}`);
  }
  const r = boardSchema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0]!;
    throw new BoardError(`board ${name}: board.json ${first.path.join('.') || '(top)'}: ${first.message}`);
  }
  if (r.data.name !== name) throw new BoardError(`board ${name}: board.json names itself "${r.data.name}"`);
  return r.data;
}
