/**
 * The floor of the registrar bench (bench/registrar.ts): the least a Node TCP server can do per
 * REGISTER — accept, read, answer 200 by echoing the request's headers, nothing parsed beyond
 * finding them, nothing remembered, nothing written. No registrar in Node can beat it on the
 * same machine, so it says how much of the gap to kamailio is the runtime's (libuv's accept and
 * read, a net.Socket and its stream per connection) and how much is the companion's own work.
 *
 *   node bench/node-floor-registrar.ts HOST PORT
 */
import net from 'node:net';

const [host = '127.0.0.1', port = '5090'] = process.argv.slice(2);
const echoed = /^(Via|From|To|Call-ID|CSeq|Contact):.*$/gim;

net
  .createServer({ noDelay: true }, (s) => {
    let pending = '';
    s.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        const lines = head.match(echoed) ?? [];
        s.write(`SIP/2.0 200 OK\r\n${lines.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`);
      }
    });
    s.on('error', () => {});
  })
  .listen({ host, port: Number(port), backlog: 4096 }, () => console.log('listening'));
