/**
 * What a host on the lab LAN can throw at the companion's SIP registrar (issue 7), run inside a
 * lab namespace. Prints one JSON line with what came back.
 *
 *   node sip-attack.ts HOST PORT register MAC [DEVICENAME] [EXPIRES]   one REGISTER, the status
 *   node sip-attack.ts HOST PORT random-macs COUNT                     COUNT REGISTERs of made-up MACs on one connection
 *   node sip-attack.ts HOST PORT idle COUNT HOLD_MS                    COUNT idle connections held HOLD_MS: how many the server closed
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { SipStreamDecoder, encodeSip, type SipRequest } from '../../../src/wire/sip.ts';

const [host, portText, mode, a, b, c] = process.argv.slice(2);
const port = Number(portText);
const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

function register(mac: string, device: string, expires: string | undefined, seq: number): SipRequest {
  const headers: Array<[string, string]> = [
    ['Via', `SIP/2.0/TCP 10.0.0.9:5060;branch=z9hG4bK${randomBytes(6).toString('hex')}`],
    ['From', `<sip:${device}@${host}>;tag=${randomBytes(4).toString('hex')}`],
    ['To', `<sip:${device}@${host}>`],
    ['Call-ID', `${randomBytes(8).toString('hex')}@10.0.0.9`],
    ['CSeq', `${seq} REGISTER`],
    ['Max-Forwards', '70'],
    ['Contact', `<sip:${randomBytes(4).toString('hex')}@10.0.0.9:5060;transport=tcp>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-${mac.toLowerCase()}>";+u.sip!devicename.ccm.cisco.com="${device}";+u.sip!model.ccm.cisco.com="683"`],
  ];
  if (expires !== undefined) headers.push(['Expires', expires]);
  return { kind: 'request', method: 'REGISTER', uri: `sip:${host}`, headers, body: new Uint8Array() };
}

/** Sends the requests on one connection and collects the final statuses. */
function exchange(reqs: SipRequest[]): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host, port }, () => s.write(Buffer.concat(reqs.map(encodeSip))));
    const dec = new SipStreamDecoder();
    const statuses: number[] = [];
    s.on('data', (d) => {
      const r = dec.push(d);
      if (!r.ok) return reject(new Error(r.error.message));
      for (const m of r.value) if (m.kind === 'response' && m.status >= 200) statuses.push(m.status);
      if (statuses.length >= reqs.length) {
        s.destroy();
        resolve(statuses);
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(statuses));
  });
}

if (mode === 'register') {
  const mac = a!.toUpperCase();
  say({ statuses: await exchange([register(mac, b ?? `SEP${mac}`, c, 1)]) });
} else if (mode === 'random-macs') {
  const reqs = Array.from({ length: Number(a) }, (_, i) => {
    const mac = `02${randomBytes(5).toString('hex')}`.toUpperCase();
    return register(mac, `SEP${mac}`, '3600', i + 1);
  });
  const statuses = await exchange(reqs);
  const counts: Record<string, number> = {};
  for (const st of statuses) counts[st] = (counts[st] ?? 0) + 1;
  say({ counts });
} else if (mode === 'idle') {
  const count = Number(a);
  const holdMs = Number(b);
  let closedByServer = 0;
  let refusedAtOnce = 0;
  const sockets: net.Socket[] = [];
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve) => {
      const s = net.createConnection({ host, port }, () => resolve());
      const opened = Date.now();
      s.on('error', () => resolve());
      s.on('close', () => (Date.now() - opened < 500 ? refusedAtOnce++ : closedByServer++));
      sockets.push(s);
    });
  }
  await new Promise((r) => setTimeout(r, holdMs));
  const stillOpen = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
  say({ count, refusedAtOnce, closedByServer, stillOpen });
  for (const s of sockets) s.destroy();
} else {
  throw new Error(`unknown mode ${mode}`);
}
