/**
 * The floor of the file-service bench (bench/files.ts): the least a Node TFTP server can do per
 * block, lock-step — an RRQ (with blksize, RFC 2348, when asked) gets a socket of its own, and
 * each ACK of the last block sent gets the next block, a view into the file held in memory.
 * Nothing checked but the block number: no path rules, no limits, no tsize or windowsize, one
 * check a second for a stalled transfer instead of a timer per block. No TFTP server written for
 * Node sends a block for less, so beside tftpd-hpa it says how much of the gap is the runtime's
 * cost per datagram (libuv's receive, a Buffer and an address object for each, a send request)
 * and how much the companion's own.
 *
 *   node bench/node-floor-tftp.ts HOST FILE      (serves FILE under any name, on HOST:69)
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';

const [host = '127.0.0.1', path = ''] = process.argv.slice(2);
const file = readFileSync(path);

function serve(client: dgram.RemoteInfo, blksize: number, oack: Buffer | undefined): void {
  const sock = dgram.createSocket('udp4');
  let block = 0; // the last block sent (0: the OACK)
  let sent: Buffer[] | undefined;
  let lastAck = Date.now();
  // Header and a view of the file, sent together (sendmsg's scatter-gather): no copy.
  const dataBlock = (n: number) => [Buffer.from([0, 3, (n >> 8) & 0xff, n & 0xff]), file.subarray((n - 1) * blksize, Math.min(file.length, n * blksize))];
  const send = (b: Buffer[]) => {
    sent = b;
    sock.send(b, client.port, client.address);
  };
  const stall = setInterval(() => {
    if (Date.now() - lastAck > 5000) finish();
    else if (Date.now() - lastAck > 1000 && sent) send(sent);
  }, 1000);
  const finish = () => {
    clearInterval(stall);
    sock.close();
  };
  sock.on('message', (m) => {
    if (m.length < 4 || m[1] !== 4 || m.readUInt16BE(2) !== (block & 0xffff)) return;
    lastAck = Date.now();
    if (block > 0 && (block - 1) * blksize + blksize > file.length) return finish(); // the short block was acknowledged
    block++;
    send(dataBlock(block));
  });
  sock.bind(0, host, () => {
    if (oack) send([oack]);
    else {
      block = 1;
      send(dataBlock(1));
    }
  });
}

const listener = dgram.createSocket('udp4');
listener.on('message', (m, from) => {
  if (m.length < 4 || m[1] !== 1) return;
  const fields = m.subarray(2).toString('latin1').split('\0');
  const options = new Map<string, string>();
  for (let i = 2; i + 1 < fields.length; i += 2) options.set(fields[i]!.toLowerCase(), fields[i + 1]!);
  const asked = Number(options.get('blksize'));
  const blksize = asked >= 8 && asked <= 65464 ? asked : 512;
  serve(from, blksize, options.has('blksize') ? Buffer.from(`\0\x06blksize\0${blksize}\0`, 'latin1') : undefined);
});
listener.bind(69, host, () => console.log('listening'));
