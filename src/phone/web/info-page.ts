/**
 * Info → Status → Product Information, readable without signing in (as on a real phone's Info
 * tab): who the phone is and its Customization state, its network, its registration, and the LCD
 * as drawn right now. Everything comes from PhoneWebPort — the status the LCD is drawn from and
 * the screen itself — so the page and the LCD cannot disagree about anything but timing.
 *
 * The page follows the phone two ways: a browser without JavaScript reloads it every few seconds
 * (a <noscript> refresh), and with JavaScript /phone.js listens to /events (Server-Sent Events fed
 * by subscribe(): one bare "changed" ping per phone event, nothing of the event itself, because
 * /events is as anonymous as the page) and fetches the page again.
 */
import type { PsfFont } from '../../hw/psf-font.ts';
import { loadConsoleFont, screenshotPng } from '../screenshot.ts';
import type { FastifyInstance } from 'fastify';
import { type WebContext, isAdmin, sendPage } from './context.ts';
import { type Html, html, row } from './html.ts';
import type { PhoneWebPort } from './port.ts';

export const REFRESH_SECS = 5;
/** Open event streams at once: a phone is not a broadcast server; the rest get 503 and the refresh. */
const MAX_STREAMS = 8;
/** A comment line now and then, so a stream whose browser vanished is noticed (the write fails). */
const HEARTBEAT_MS = 30_000;
const DASH = '—';

/**
 * A profile URL as the anonymous page may show it: scheme, host and path. User names, passwords
 * and query strings (where rules put credentials and tokens) are dropped; the full rule is on
 * the admin page, masked by the port.
 */
export function displayUrl(url: string | undefined): string {
  if (!url) return DASH;
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(not shown)';
  }
}

/** The body of the Info page (inside <main>), rendered from the port each time. */
export function infoBody(phone: PhoneWebPort): Html {
  const id = phone.identity();
  const s = phone.status();
  const screen = phone.screen();
  const mpp = phone.persona === 'mpp';
  const lcd = [...screen.rows, screen.softkeys.length ? screen.softkeys.map((k) => `[${k}]`).join(' ') : ''].join('\n');
  return html`
    <h2>Product Information</h2>
    <table><tbody>
      ${row('product-name', 'Product Name', id.productName)}
      ${row('serial-number', 'Serial Number', id.serial)}
      ${row('mac-address', 'MAC Address', id.mac)}
      ${row('software-version', 'Software Version', id.softwareVersion)}
      ${row('customization', 'Customization', s.customization ?? DASH)}
    </tbody></table>
    <h2>Network Status</h2>
    <table><tbody>
      ${row('ip-address', 'IP Address', s.address ?? DASH)}
      ${row('tftp-server', mpp ? 'Provisioning Server' : 'TFTP Server', s.tftpServer ?? DASH)}
      ${mpp ? row('profile-url', 'Last Profile', displayUrl(s.profileUrl)) : row('config-file', 'Configuration File', s.configFile ?? DASH)}
    </tbody></table>
    <h2>Registration</h2>
    <table><tbody>
      ${row('phone-state', 'Phone State', s.phase)}
      ${row('line', 'Line', s.line ?? DASH)}
      ${row('call-manager', mpp ? 'Proxy' : 'Call Manager', s.callManager ?? DASH)}
      ${row('registration-state', 'Registration State', s.registered ? 'Registered' : 'Not Registered')}
      ${s.problem ? row('problem', 'Last Problem', s.problem) : ''}
      ${s.warning ? row('warning', 'Warning', s.warning.text) : ''}
    </tbody></table>
    <h2>Phone Screen</h2>
    <pre class="lcd" id="lcd" aria-label="Phone screen">${lcd}</pre>
    <p><a href="/screen.png">The screen as a picture (PNG)</a></p>`;
}

export function registerInfoPage(app: FastifyInstance, ctx: WebContext): void {
  const { phone, clock } = ctx;
  // The LCD as a PNG (docs and bug reports), drawn with the console font the panel uses.
  let font: Promise<PsfFont> | undefined;
  app.get('/screen.png', async (_req, reply) => {
    font ??= loadConsoleFont();
    const f = await font.catch((e: Error) => e);
    if (f instanceof Error) {
      font = undefined;
      return reply.code(503).type('text/plain; charset=utf-8').send(f.message);
    }
    return reply.type('image/png').header('cache-control', 'no-store').send(screenshotPng(phone.screen(), f));
  });
  app.get('/', async (req, reply) => {
    const admin = (await isAdmin(ctx, req)) ? { csrf: reply.generateCsrf() } : undefined;
    return sendPage(reply, 200, { title: 'Info: Status', admin, refreshSecs: REFRESH_SECS, follow: true }, infoBody(phone));
  });

  let streams = 0;
  app.get('/events', (req, reply) => {
    if (streams >= MAX_STREAMS) return reply.code(503).header('Retry-After', '30').type('text/plain; charset=utf-8').send('Too many event streams: the page reloads itself instead.\n');
    streams++;
    reply.hijack();
    const res = reply.raw;
    // A stream is idle between events: the server's idle timeout must not cut it.
    req.raw.socket.setTimeout(0);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      Connection: 'keep-alive',
    });
    res.write('retry: 5000\n\n');
    // A ping dropped while the socket is backed up loses nothing: the next one refetches all.
    const send = (chunk: string) => {
      if (!res.writableNeedDrain && !res.destroyed) res.write(chunk);
    };
    const off = phone.subscribe(() => send('event: changed\ndata: \n\n'));
    let cancel = () => {};
    const beat = () => {
      send(': keep-alive\n\n');
      cancel = clock.timer(HEARTBEAT_MS, beat);
    };
    cancel = clock.timer(HEARTBEAT_MS, beat);
    let closed = false;
    res.on('close', () => {
      if (closed) return;
      closed = true;
      streams--;
      off();
      cancel();
    });
  });
}
