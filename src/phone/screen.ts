/**
 * The LCD as a pure function: phone status in, a grid of characters plus softkey labels out,
 * sized by the board (20x8 on a 160x128 panel with an 8x16 font, 40x15 on 320x240). Renderers
 * only draw grids, so the tty, the text log, a PNG and the web page all show the same screen.
 */
import { printable } from '../common/printable.ts';
import type { PhoneStatus } from './events.ts';

export interface ScreenGeometry {
  cols: number;
  rows: number;
}

export const LCD_160x128: ScreenGeometry = { cols: 20, rows: 8 };
export const LCD_320x240: ScreenGeometry = { cols: 40, rows: 15 };

export interface ScreenFrame {
  /** Exactly geometry.rows strings of exactly geometry.cols characters. */
  rows: string[];
  softkeys: string[];
}

/** Words to lines of at most `width`; text from a peer shows its control characters as escapes. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const word of printable(text.replace(/[\t\n\r]/g, ' ')).split(/\s+/).filter(Boolean)) {
    let w = word;
    while (w.length > width) {
      if (cur) {
        out.push(cur);
        cur = '';
      }
      out.push(w.slice(0, width));
      w = w.slice(width);
    }
    if (!cur) cur = w;
    else if (cur.length + 1 + w.length <= width) cur += ` ${w}`;
    else {
      out.push(cur);
      cur = w;
    }
  }
  if (cur) out.push(cur);
  return out;
}

/** One row of exactly `cols` characters, control characters escaped. */
export function fit(text: string, cols: number): string {
  const s = printable(text);
  return s.length > cols ? s.slice(0, cols) : s.padEnd(cols);
}

/**
 * `newCall`: a registered line can place calls, so the home screen offers NewCall (softkey 3).
 * `speedDial`: the speed-dial row highlighted (up/down on the home screen; Select calls it).
 * `note`: what the last key did not do (a speed dial that cannot be called), under the phase.
 */
export function renderScreen(s: PhoneStatus, g: ScreenGeometry, o: { newCall?: boolean; speedDial?: number | undefined; note?: string | undefined } = {}): ScreenFrame {
  const head = s.line ? `${s.line}` : s.deviceName;
  const right = s.model;
  const header = head.length + 1 + right.length <= g.cols ? head + right.padStart(g.cols - head.length) : head;
  const space = g.rows - 3;
  const body: string[] = [s.phase, ...(o.note ? wrap(o.note, g.cols) : [])];
  if (s.registered) {
    // The line as its button shows it: the label the configuration gives (a template's), then the DN.
    if (s.line) body.push(s.lineLabel && s.lineLabel !== s.line ? `${s.line} ${s.lineLabel}` : `Line ${s.line}`);
    if (s.callManager) body.push(`CM ${s.callManager}`);
    // Lines 2–10 of a Multiplatform phone: each its user and whether it is registered.
    for (const l of s.lines ?? []) body.push(`L${l.index} ${l.user} ${l.registered ? 'Registered' : 'not reg.'}`);
    // Speed-dial buttons (the self-provisioning IVR's, say): number and label, as the keys are labelled.
    (s.speedDials ?? []).forEach((d, i) => body.push(`${i === o.speedDial ? '>' : ''}SD ${d.number} ${d.label}`.trim()));
    // Running on a last good file after a refusal: say so before anything else.
    if (s.warning) body.push(...wrap(`!${s.warning.text}`, g.cols));
    if (s.address) body.push(`IP ${s.address}`);
    if (s.configFile) body.push(...wrap(s.configFile, g.cols));
  } else {
    const detail: string[] = [];
    if (s.problem) {
      detail.push(...wrap(s.problem, g.cols));
      // A problem is what the user must read: it may take the phase line's place.
      if (detail.length >= space) body.length = 0;
    }
    else {
      if (s.address && g.rows > 10) detail.push(`IP ${s.address}`);
      if (s.tftpServer && g.rows > 10) detail.push(`TFTP ${s.tftpServer}`);
      const last = s.log[s.log.length - 1];
      if (last) detail.push(...wrap(last, g.cols));
    }
    body.push(...detail);
  }
  const rows = [fit(header, g.cols), '-'.repeat(g.cols), ...body.slice(0, space).map((r) => fit(r, g.cols))];
  while (rows.length < g.rows - 1) rows.push(' '.repeat(g.cols));
  const softkeys = s.registered ? (o.newCall ? ['Settings', 'Restart', 'NewCall'] : ['Settings', 'Restart']) : ['Settings'];
  rows.push(fit(softkeyLine(softkeys, g.cols), g.cols));
  return { rows, softkeys };
}

function softkeyLine(keys: string[], cols: number): string {
  const cell = Math.floor(cols / Math.max(keys.length, 1));
  return keys.map((k) => fit(k.slice(0, cell - 1), cell)).join('');
}

export const frameText = (f: ScreenFrame): string => f.rows.join('\n');
