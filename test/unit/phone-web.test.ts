/**
 * The phone's web page (src/phone/web/) over real HTTP on 127.0.0.1, against a scripted
 * PhoneWebPort: the Info page for anyone, values escaped; the admin pages behind a password
 * chosen at first use and kept in NVRAM (so it survives a restart of the web server and is gone
 * after a factory reset); every POST needing its CSRF token; sign-ins rate-limited on the
 * clock; configure, resync, wait scale and factory reset reaching the port and nothing else.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Agent, fetch as ufetch } from 'undici';
import { VirtualClock } from '../../src/common/clock.ts';
import { MemoryNvram } from '../../src/phone/nvram.ts';
import { ADMIN_DOC } from '../../src/phone/web/admin-auth.ts';
import { ScriptedPhone } from '../../src/phone/web/scripted-port.ts';
import { type PhoneWeb, startPhoneWeb } from '../../src/phone/web/server.ts';
import { makeCert } from '../support/certs.ts';

const PASSWORD = 'correct horse battery';

/** A browser in miniature: keeps cookies, does not follow redirects, reads forms' CSRF tokens. */
class Client {
  readonly base: string;
  private readonly jar = new Map<string, string>();
  last = '';

  constructor(port: number) {
    this.base = `http://127.0.0.1:${port}`;
  }

  private keep(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (!value || /expires=Thu, 01 Jan 1970/i.test(c)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  setCookies(): string[] {
    return [...this.jar.keys()];
  }

  async get(path: string): Promise<{ status: number; body: string; location: string | null; headers: Headers }> {
    const res = await fetch(this.base + path, { redirect: 'manual', headers: { cookie: this.cookieHeader() } });
    this.keep(res);
    const body = await res.text();
    this.last = body;
    return { status: res.status, body, location: res.headers.get('location'), headers: res.headers };
  }

  /** The CSRF token of the last page read (every form on a page carries the same one). */
  token(): string {
    const m = /name="_csrf" value="([^"]+)"/.exec(this.last);
    assert.ok(m, `no form on the page: ${this.last.slice(0, 300)}`);
    return m![1]!;
  }

  async post(path: string, form: Record<string, string>, withToken = true): Promise<{ status: number; body: string; location: string | null; headers: Headers }> {
    const fields = withToken ? { _csrf: this.token(), ...form } : form;
    const res = await fetch(this.base + path, {
      method: 'POST', redirect: 'manual',
      headers: { cookie: this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    this.keep(res);
    const body = await res.text();
    this.last = body;
    return { status: res.status, body, location: res.headers.get('location'), headers: res.headers };
  }
}

interface Rig {
  phone: ScriptedPhone;
  nvram: MemoryNvram;
  clock: VirtualClock;
  web: PhoneWeb;
  log: string[];
}

async function rig(o: { persona?: 'mpp' | 'enterprise'; nvram?: MemoryNvram; phone?: ScriptedPhone } = {}): Promise<Rig> {
  const nvram = o.nvram ?? new MemoryNvram();
  const phone = o.phone ?? new ScriptedPhone({ persona: o.persona ?? 'mpp', nvram });
  const clock = new VirtualClock();
  const log: string[] = [];
  const web = await startPhoneWeb({ port: 0, host: '127.0.0.1', phone, nvram, clock, log: (l) => log.push(l) });
  return { phone, nvram, clock, web, log };
}

/** Chooses the first password and returns the signed-in client. */
async function chosen(r: Rig): Promise<Client> {
  const c = new Client(r.web.port);
  await c.get('/admin/setup');
  const res = await c.post('/admin/setup', { newPassword: PASSWORD, confirmPassword: PASSWORD });
  assert.is(res.status, 303);
  assert.is(res.location, '/admin/advanced');
  return c;
}

const cellText = (body: string, id: string) => new RegExp(`<td id="${id}" aria-labelledby="${id}-label">([^<]*)</td>`).exec(body)?.[1];

test('the Info page is readable without signing in: identity, Customization, network, registration and the LCD, every value escaped', async () => {
  const r = await rig();
  try {
    r.phone.id = { ...r.phone.id, serial: 'FCH<b>1</b>' };
    r.phone.setCustomization('<script>alert(1)</script>');
    r.phone.lcd = { rows: ['<img src=x onerror=alert(2)>'], softkeys: ['Recents'] };
    const c = new Client(r.web.port);
    const res = await c.get('/');
    assert.is(res.status, 200);
    assert.is(cellText(res.body, 'customization'), '&lt;script&gt;alert(1)&lt;/script&gt;');
    assert.not.ok(res.body.includes('<script>alert'), 'no raw markup from a value');
    assert.not.ok(res.body.includes('<img src=x'), 'the LCD text is escaped too');
    assert.is(cellText(res.body, 'serial-number'), 'FCH&lt;b&gt;1&lt;/b&gt;');
    assert.is(cellText(res.body, 'product-name'), 'CP-8841-3PCC');
    assert.is(cellText(res.body, 'mac-address'), '00:11:22:33:44:55');
    assert.is(cellText(res.body, 'ip-address'), '10.0.0.20');
    assert.is(cellText(res.body, 'registration-state'), 'Registered');
    assert.match(res.body, /<pre class="lcd"[^>]*>&lt;img src=x onerror=alert\(2\)&gt;\n\[Recents\]<\/pre>/);
    assert.match(res.body, /<noscript><meta http-equiv="refresh" content="5"><\/noscript>/, 'follows the phone without JavaScript');
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.is(res.headers.get('cache-control'), 'no-store');
    // The page follows the status it is given, not a copy taken at start.
    r.phone.setCustomization('Pending');
    assert.is(cellText((await c.get('/')).body, 'customization'), 'Pending');
    assert.is(c.setCookies().filter((k) => k === 'sepi_phone_session').length, 0, 'no session for a reader');
  } finally {
    await r.web.close();
  }
});

test('an enterprise phone shows "—" for Customization, its TFTP server and no profile form', async () => {
  const r = await rig({ persona: 'enterprise' });
  try {
    const c = new Client(r.web.port);
    const info = await c.get('/');
    assert.is(cellText(info.body, 'customization'), '—');
    assert.is(cellText(info.body, 'product-name'), 'CP-8841');
    assert.match(info.body, /TFTP Server/);
    const c2 = await chosen(r);
    const adv = await c2.get('/admin/advanced');
    assert.not.ok(adv.body.includes('Profile_Rule'), 'no provisioning form');
    assert.match(adv.body, /no Multiplatform parameters/);
  } finally {
    await r.web.close();
  }
});

test('the anonymous page never shows credentials from the profile URL', async () => {
  const r = await rig();
  try {
    r.phone.update({ profileUrl: 'https://user:pa55@prov.example.com/cfg/$MA.xml?token=s3cret' });
    const body = (await new Client(r.web.port).get('/')).body;
    assert.is(cellText(body, 'profile-url'), 'https://prov.example.com/cfg/$MA.xml');
    assert.not.ok(body.includes('pa55') || body.includes('s3cret'));
  } finally {
    await r.web.close();
  }
});

test('with no password in NVRAM every admin page leads to "choose a password"; nothing acts', async () => {
  const r = await rig();
  try {
    const c = new Client(r.web.port);
    for (const path of ['/admin/', '/admin/advanced', '/admin/resync', '/admin/password']) {
      const res = await c.get(path);
      assert.is(res.status, 303, path);
      assert.is(res.location, '/admin/setup', path);
    }
    assert.is(r.phone.resyncs, 0, 'GET /admin/resync did not resync');
    const setup = await c.get('/admin/setup');
    assert.match(setup.body, /<label for="newPassword">New Password<\/label>/);
    assert.match(setup.body, /<label for="confirmPassword">Confirm Password<\/label>/);
    // A token from this page is good, but the admin actions still need a session.
    await c.get('/admin/setup');
    const post = await c.post('/admin/resync', {});
    assert.is(post.status, 303);
    assert.is(r.phone.resyncs, 0);
  } finally {
    await r.web.close();
  }
});

test('choosing a password: two equal ones of at least 8 characters, once; it is kept as an scrypt hash in NVRAM', async () => {
  const r = await rig();
  try {
    const c = new Client(r.web.port);
    await c.get('/admin/setup');
    let res = await c.post('/admin/setup', { newPassword: 'short', confirmPassword: 'short' });
    assert.is(res.status, 400);
    assert.match(res.body, /at least 8 characters/);
    res = await c.post('/admin/setup', { newPassword: PASSWORD, confirmPassword: `${PASSWORD}!` });
    assert.is(res.status, 400);
    assert.match(res.body, /not the same/);
    assert.is(await r.nvram.read(ADMIN_DOC), undefined, 'nothing stored yet');
    res = await c.post('/admin/setup', { newPassword: PASSWORD, confirmPassword: PASSWORD });
    assert.is(res.status, 303);
    const doc = await r.nvram.read<{ passwordHash: string }>(ADMIN_DOC);
    assert.match(doc!.passwordHash, /^scrypt\$16384\$/);
    assert.not.ok(JSON.stringify(doc).includes(PASSWORD));
    assert.is((await c.get('/admin/advanced')).status, 200, 'signed in by choosing');

    // A second visitor cannot choose again.
    const other = new Client(r.web.port);
    const again = await other.get('/admin/setup');
    assert.is(again.location, '/admin/');
    await other.get('/admin/');
    res = await other.post('/admin/setup', { newPassword: 'mallory-password', confirmPassword: 'mallory-password' });
    assert.is(res.status, 409);
    assert.is((await r.nvram.read<{ passwordHash: string }>(ADMIN_DOC))!.passwordHash, doc!.passwordHash);
  } finally {
    await r.web.close();
  }
});

test('signing in: the right password opens the admin pages; a wrong one is refused; signing out closes them', async () => {
  const r = await rig();
  try {
    await chosen(r);
    const c = new Client(r.web.port);
    assert.is((await c.get('/admin/advanced')).location, '/admin/?next=%2Fadmin%2Fadvanced');
    const login = await c.get('/admin/');
    assert.is(login.status, 200);
    assert.match(login.body, /<label for="password">Password<\/label>/);
    let res = await c.post('/admin/login', { password: 'wrong password' });
    assert.is(res.status, 401);
    assert.match(res.body, /Wrong password/);
    assert.is((await c.get('/admin/advanced')).status, 303);
    await c.get('/admin/');
    res = await c.post('/admin/login', { password: PASSWORD, next: 'https://evil.example/' });
    assert.is(res.status, 303);
    assert.is(res.location, '/admin/advanced', 'never sent elsewhere');
    const cookie = res.headers.getSetCookie().find((s) => s.startsWith('sepi_phone_session='))!;
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.not.match(cookie, /Secure/, 'plain HTTP: a Secure cookie would never come back');
    const adv = await c.get('/admin/advanced');
    assert.is(adv.status, 200);
    assert.match(adv.body, /Password_1_<\/th><td[^>]*>\*{8}<\/td>/, 'secrets shown as the port masks them');
    assert.not.ok(adv.body.includes('line-secret'));
    res = await c.post('/admin/logout', {});
    assert.is(res.status, 303);
    assert.is((await c.get('/admin/advanced')).status, 303);
    assert.ok(r.log.some((l) => /sign-in .*: wrong/.test(l)) && !r.log.some((l) => l.includes(PASSWORD)));
  } finally {
    await r.web.close();
  }
});

test('a POST without its CSRF token, or with another browser\'s, is refused and does nothing', async () => {
  const r = await rig();
  try {
    const c = await chosen(r);
    await c.get('/admin/advanced');
    let res = await c.post('/admin/resync', {}, false);
    assert.is(res.status, 403);
    assert.match(res.body, /CSRF/);
    const other = new Client(r.web.port);
    await other.get('/admin/');
    res = await c.post('/admin/resync', { _csrf: other.token() }, false);
    assert.is(res.status, 403);
    res = await c.post('/admin/factory-reset', { confirmReset: 'on' }, false);
    assert.is(res.status, 403);
    const login = new Client(r.web.port);
    res = await login.post('/admin/login', { password: PASSWORD }, false);
    assert.is(res.status, 403, 'the sign-in form too');
    assert.is(r.phone.resyncs, 0);
    assert.is(r.phone.factoryResets, 0);
  } finally {
    await r.web.close();
  }
});

test('resync: GET asks, POST acts; configure sends only what changed and shows a refusal; the wait scale must be positive', async () => {
  const r = await rig();
  try {
    r.phone.params['Profile_Rule'] = 'https://prov.example.com/$MA.xml [--key sekrit]';
    r.phone.setCustomization('Pending');
    const c = await chosen(r);
    const confirm = await c.get('/admin/resync');
    assert.is(confirm.status, 200);
    assert.match(confirm.body, /action="\/admin\/resync"/);
    assert.is(r.phone.resyncs, 0, 'a GET does not act');
    let res = await c.post('/admin/resync', {});
    assert.is(res.status, 200);
    assert.is(r.phone.resyncs, 1);
    assert.match(res.body, /Resync requested/);

    // The masked rule comes back unchanged: nothing is sent, customization stays.
    const adv = await c.get('/admin/advanced');
    assert.match(adv.body, /<label for="Profile_Rule">Profile Rule \(Profile_Rule\)<\/label>/);
    assert.not.ok(adv.body.includes('sekrit'));
    const masked = /id="Profile_Rule" name="Profile_Rule" type="text" value="([^"]*)"/.exec(adv.body)![1]!.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&');
    res = await c.post('/admin/advanced', { Profile_Rule: masked, Proxy_1_: '' });
    assert.match(res.body, /Nothing changed/);
    assert.equal(r.phone.configured, []);
    assert.is(r.phone.current.customization, 'Pending');

    res = await c.post('/admin/advanced', { Profile_Rule: 'https://other.example.com/<x>.xml', Proxy_1_: '' });
    assert.is(res.status, 200);
    assert.equal(r.phone.configured, [{ Profile_Rule: 'https://other.example.com/<x>.xml' }]);
    assert.match(res.body, /Saved Profile_Rule/);
    assert.is(r.phone.current.customization, 'Aborted', "the port's rule, not the page's");
    assert.ok(res.body.includes('value="https://other.example.com/&lt;x&gt;.xml"'), 'the value escaped in its field');

    r.phone.refuseNext = 'Proxy_1_: <not a host>';
    res = await c.post('/admin/advanced', { Profile_Rule: 'https://other.example.com/<x>.xml', Proxy_1_: 'bad proxy' });
    assert.is(res.status, 400);
    assert.match(res.body, /role="alert">Not saved: Proxy_1_: &lt;not a host&gt;</);
    assert.equal(r.phone.configured.at(-1), { Proxy_1_: 'bad proxy' });

    for (const bad of ['0', '-1', 'abc', '', 'Infinity', '1e9']) {
      res = await c.post('/admin/wait-scale', { waitScale: bad });
      assert.is(res.status, 400, bad);
    }
    assert.is(r.phone.waitScale(), 1);
    res = await c.post('/admin/wait-scale', { waitScale: '0.001' });
    assert.is(res.status, 200);
    assert.is(r.phone.waitScale(), 0.001);
    assert.ok(r.log.some((l) => l.startsWith('web configure Profile_Rule ')) && !r.log.some((l) => l.includes('other.example.com')), 'names logged, not values');
  } finally {
    await r.web.close();
  }
});

test('factory reset needs its confirmation; afterwards NVRAM is wiped, the session is over and the page asks for a new password', async () => {
  const r = await rig();
  try {
    const c = await chosen(r);
    await c.get('/admin/advanced');
    let res = await c.post('/admin/factory-reset', {});
    assert.is(res.status, 400);
    assert.is(r.phone.factoryResets, 0);
    res = await c.post('/admin/factory-reset', { confirmReset: 'on' });
    assert.is(res.status, 200);
    assert.is(r.phone.factoryResets, 1);
    assert.equal(r.nvram.names(), []);
    const after = await c.get('/admin/advanced');
    assert.is(after.location, '/admin/setup');
  } finally {
    await r.web.close();
  }
});

test('sign-ins are rate-limited per address: after five wrong passwords even the right one waits, until the clock says', async () => {
  const r = await rig();
  try {
    await chosen(r);
    const c = new Client(r.web.port);
    await c.get('/admin/');
    for (let i = 0; i < 5; i++) assert.is((await c.post('/admin/login', { password: `guess ${i} guess` })).status, 401);
    let res = await c.post('/admin/login', { password: PASSWORD });
    assert.is(res.status, 429);
    assert.match(res.body, /Too many attempts/);
    assert.is((await c.get('/admin/advanced')).status, 303, 'not signed in');
    await r.clock.advance(60_000);
    await c.get('/admin/');
    res = await c.post('/admin/login', { password: PASSWORD });
    assert.is(res.status, 303);
    assert.is((await c.get('/admin/advanced')).status, 200);
  } finally {
    await r.web.close();
  }
});

test('the password survives a restart of the web server (NVRAM), and an NVRAM wipe returns to "choose a password"', async () => {
  const nvram = new MemoryNvram();
  const first = await rig({ nvram });
  await chosen(first);
  await first.web.close();

  const second = await rig({ nvram });
  try {
    const c = new Client(second.web.port);
    assert.is((await c.get('/admin/')).status, 200, 'the sign-in page, not setup');
    const res = await c.post('/admin/login', { password: PASSWORD });
    assert.is(res.status, 303);
    assert.is((await c.get('/admin/advanced')).status, 200);
    await nvram.wipe();
    assert.is((await c.get('/admin/advanced')).location, '/admin/setup', 'the session ended with the password');
    assert.is((await new Client(second.web.port).get('/admin/')).location, '/admin/setup');
  } finally {
    await second.web.close();
  }
});

test('/events sends a bare "changed" for each phone event, and unsubscribes when the browser goes', async () => {
  const r = await rig();
  try {
    const ac = new AbortController();
    const res = await fetch(`http://127.0.0.1:${r.web.port}/events`, { signal: ac.signal });
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const until = async (re: RegExp) => {
      while (!re.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended: ${text}`);
        text += Buffer.from(value).toString('utf8');
      }
    };
    await until(/retry: \d+/);
    assert.is(r.phone.subscribers, 1);
    r.phone.setCustomization('Custom-Pending');
    await until(/event: changed\ndata: \n\n/);
    assert.not.ok(text.includes('Custom-Pending'), 'nothing of the event itself');
    ac.abort();
    await reader.cancel().catch(() => {});
    for (let i = 0; i < 100 && r.phone.subscribers; i++) await new Promise((s) => setTimeout(s, 10));
    assert.is(r.phone.subscribers, 0);
  } finally {
    await r.web.close();
  }
});

test('HTTPS when given a certificate: the session cookie is Secure', async () => {
  const id = makeCert('phone');
  const nvram = new MemoryNvram();
  const phone = new ScriptedPhone({ nvram });
  const web = await startPhoneWeb({ port: 0, host: '127.0.0.1', phone, nvram, clock: new VirtualClock(), log: () => {}, tls: { cert: id.pem, key: id.privateKey.export({ type: 'pkcs8', format: 'pem' }) } });
  try {
    const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
    const base = `https://127.0.0.1:${web.port}`;
    const page = await ufetch(`${base}/admin/setup`, { dispatcher });
    const cookies = page.headers.getSetCookie();
    const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const res = await ufetch(`${base}/admin/setup`, {
      dispatcher, method: 'POST', redirect: 'manual',
      headers: { cookie: cookies.map((c) => c.split(';')[0]).join('; '), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: token, newPassword: PASSWORD, confirmPassword: PASSWORD }).toString(),
    });
    assert.is(res.status, 303);
    const session = res.headers.getSetCookie().find((c) => c.startsWith('sepi_phone_session='))!;
    assert.match(session, /; Secure/);
    assert.match(cookies.find((c) => c.startsWith('sepi_phone_csrf='))!, /; Secure/);
    await dispatcher.close();
  } finally {
    await web.close();
  }
});

test.run();
