/**
 * Runs inside a lab namespace: one UDP socket on 0.0.0.0:PORT with broadcast on — port 68 to
 * play a DHCP client, 67 to play a relay (or a bystander that must not hear a unicast). Each
 * stdin line `HOST PORT HEX` is sent as one datagram, in order; every datagram received is one
 * JSON line. The bytes are made by the test with sepi's codec (or deliberately not).
 *
 *   node cm-dhcp-probe.ts PORT
 *   stdout: {"ready":68}  {"sent":N}  {"recv":{"from":"10.88.0.1","port":67,"hex":"02…"}}  {"error":"…"}
 */
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';

const port = Number(process.argv[2]);
const say = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');
const sock = dgram.createSocket('udp4');
sock.on('message', (b, r) => say({ recv: { from: r.address, port: r.port, hex: b.toString('hex') } }));
sock.on('error', (e) => say({ error: e.message }));
sock.bind(port, '0.0.0.0', () => {
  sock.setBroadcast(true);
  say({ ready: port });
});

// One send at a time, so datagrams leave in the order the test wrote them.
let sent = 0;
let queue = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  const [host, to, hex] = line.trim().split(' ');
  if (!host || !to) return;
  queue = queue.then(() => new Promise<void>((resolve) => {
    sock.send(Buffer.from(hex ?? '', 'hex'), Number(to), host, (e) => {
      say(e ? { error: e.message } : { sent: ++sent });
      resolve();
    });
  }));
}).on('close', () => void queue.then(() => sock.close()));
