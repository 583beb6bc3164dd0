/**
 * `sepi phone screenshot`: the LCD as a PNG. The frame comes from a phone's JSON stream on stdin
 * (`sepi phone … --json-events --json-screens`; the last screen line is drawn) or from a phone's
 * web page (`--from http://phone[:port]`, its /screen.png). Drawn with a console font
 * (src/phone/screenshot.ts), written to `--out FILE` or stdout.
 */
import { writeFile } from 'node:fs/promises';
import { request } from 'undici';
import { UsageError, parse } from './args.ts';

export async function screenshotCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, { out: { type: 'string' }, font: { type: 'string' }, from: { type: 'string' } });
  if (!v.out && process.stdout.isTTY) throw new UsageError('a PNG on a terminal is noise: give --out FILE or redirect stdout');
  let png: Buffer;
  if (v.from) {
    if (!/^https?:\/\//.test(v.from)) throw new UsageError('--from takes the phone web page\'s URL, e.g. http://10.0.0.21:8080');
    const res = await request(new URL('/screen.png', v.from), { headersTimeout: 10_000, bodyTimeout: 10_000 });
    const body = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode !== 200) throw new Error(`${v.from}/screen.png: HTTP ${res.statusCode} ${body.toString('utf8').slice(0, 200)}`);
    png = body;
  } else {
    const { loadConsoleFont, screenshotPng } = await import('../phone/screenshot.ts');
    const frame = lastScreen(await readStdin());
    if (!frame) throw new UsageError('no {"type":"screen"} line on stdin: pipe a phone\'s --json-events --json-screens stream, or use --from URL');
    png = screenshotPng({ rows: frame.screen, softkeys: frame.softkeys }, await loadConsoleFont(v.font));
  }
  if (v.out) await writeFile(v.out, png);
  else process.stdout.write(png);
  return 0;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The last screen line of a JSON stream; other lines and broken ones are skipped. */
export function lastScreen(text: string): { screen: string[]; softkeys: string[] } | undefined {
  let found: { screen: string[]; softkeys: string[] } | undefined;
  for (const line of text.split('\n')) {
    if (!line.includes('"screen"')) continue;
    try {
      const v = JSON.parse(line) as { type?: string; screen?: unknown; softkeys?: unknown };
      if (v.type === 'screen' && Array.isArray(v.screen) && v.screen.every((r) => typeof r === 'string') && Array.isArray(v.softkeys)) {
        found = { screen: v.screen as string[], softkeys: (v.softkeys as unknown[]).map(String) };
      }
    } catch {
      // not JSON: a text display's line mixed in
    }
  }
  return found;
}
