/**
 * The call screens, one per call state, on the same grid as every other screen (20x8 on the
 * 160x128 LCD): the line and model on top, what the call is doing, the softkeys. EndCall is
 * always softkey 2 and the positive action (Dial, Answer) softkey 1, so a 4x4 keypad with two
 * softkeys can make and take calls.
 *
 *   dialing     Dial / Off hook, the digits typed      Dial | EndCall   (Back erases a digit)
 *   calling     Calling, the number, Trying            -    | EndCall
 *   ringback    Ring out, the number                   -    | EndCall
 *   ringing     Incoming call, the name and number     Answer | EndCall
 *   connected   Connected, the number, mm:ss and codec, the digits sent     - | EndCall
 *   ended       why (and the SIP status), the number, how long it lasted    - | Exit
 */
import type { PhoneStatus } from '../events.ts';
import { type ScreenFrame, type ScreenGeometry, fit, wrap } from '../screen.ts';
import type { CallView } from './phone-calls.ts';
import { END_TEXT } from './call-state.ts';

export const mmss = (ms: number): string => {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};

function body(v: CallView): { lines: string[]; softkeys: string[] } {
  const who = (v.name ? [v.name] : []).concat(v.number ? [v.number] : []);
  switch (v.state) {
    case 'dialing':
      return { lines: [v.offHook ? 'Off hook' : 'Dial', `>${v.digits}_`], softkeys: ['Dial', 'EndCall'] };
    case 'calling':
      return { lines: ['Calling', ...who, 'Trying'], softkeys: ['', 'EndCall'] };
    case 'ringback':
      return { lines: ['Ring out', ...who], softkeys: ['', 'EndCall'] };
    case 'ringing':
      return { lines: ['Incoming call', ...(who.length ? who : ['unknown'])], softkeys: ['Answer', 'EndCall'] };
    case 'connected':
      return { lines: ['Connected', ...who, `${mmss(v.connectedMs)} ${v.codec ?? ''}`.trim(), ...(v.dtmfSent ? [`DTMF ${v.dtmfSent}`] : [])], softkeys: ['', 'EndCall'] };
    case 'ended': {
      const end = v.end;
      return {
        lines: [end ? END_TEXT[end.reason] : 'Call ended', ...(end?.statusText ? [end.statusText] : []), ...(v.number ? [v.number] : []), ...(v.connectedMs > 0 ? [mmss(v.connectedMs)] : [])],
        softkeys: ['', 'Exit'],
      };
    }
    case 'idle':
      return { lines: [], softkeys: [] };
  }
}

export function callFrame(v: CallView, s: PhoneStatus, g: ScreenGeometry): ScreenFrame {
  const head = s.line ?? s.deviceName;
  const header = head.length + 1 + s.model.length <= g.cols ? head + s.model.padStart(g.cols - head.length) : head;
  const { lines, softkeys } = body(v);
  const text = lines.flatMap((l) => wrap(l, g.cols));
  if (v.note) text.unshift(v.note);
  const rows = [fit(header, g.cols), '-'.repeat(g.cols), ...text.slice(0, g.rows - 3).map((r) => fit(r, g.cols))];
  while (rows.length < g.rows - 1) rows.push(' '.repeat(g.cols));
  const cell = Math.floor(g.cols / Math.max(softkeys.length, 1));
  rows.push(fit(softkeys.map((k) => k.slice(0, cell - 1).padEnd(cell)).join(''), g.cols));
  return { rows, softkeys };
}
