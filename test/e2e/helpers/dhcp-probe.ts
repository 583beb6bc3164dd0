/**
 * Runs inside a lab namespace: the phone's DhcpClient on a real interface against a real
 * server, with a VirtualClock so T1, T2 and lease expiry come in seconds instead of minutes.
 * Prints one JSON line per client event and per phase; waits for "server-gone" on stdin
 * before running the lease out.
 *
 *   node dhcp-probe.ts IFACE MAC [INIT-REBOOT-ADDRESS]
 */
import { createInterface } from 'node:readline';
import { VirtualClock } from '../../../src/common/clock.ts';
import { DhcpClient, type DhcpLease } from '../../../src/phone/dhcp-client.ts';
import { KernelInterface, NodeNetwork } from '../../../src/phone/node-ports.ts';
import { MacAddress } from '../../../src/wire/mac.ts';

const [iface, macText, rebootAddress] = process.argv.slice(2);
const mac = MacAddress.parse(macText ?? '')!;
const clock = new VirtualClock(Date.now());
const network = new NodeNetwork();
const port = new KernelInterface(iface!);
const say = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify({ vt: clock.now(), ...o }) + '\n');
// An iterator buffers lines that arrive before anyone asks for them.
const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const nextLine = () => input.next();

/** Moves virtual time in small steps with real pauses, so real answers beat virtual timeouts. */
async function run<T>(p: Promise<T>, stepMs = 250): Promise<T> {
  let done = false;
  let value: T | undefined;
  let error: unknown;
  p.then((v) => ((done = true), (value = v)), (e) => ((done = true), (error = e)));
  while (!done) {
    await clock.advance(stepMs);
    await new Promise((r) => setTimeout(r, 3));
  }
  if (error) throw error;
  return value as T;
}

const client = new DhcpClient({ mac, vendorClass: 'Cisco Systems, Inc. IP Phone CP-8841', hostName: mac.deviceName, network, clock, renewByBroadcast: false, onEvent: (e) => say({ event: e }) });
await port.prepare();
const stored: DhcpLease | undefined = rebootAddress
  ? { address: rebootAddress, mask: '255.255.255.0', prefix: 24, routers: [], dns: [], domain: undefined, serverId: '0.0.0.0', nextServer: '0.0.0.0', tftpServers: [], tftpServerName: undefined, leaseSecs: 3600, t1Secs: 1800, t2Secs: 3150, boundAt: clock.now() }
  : undefined;
const signal = new AbortController().signal;
const got = await run(client.obtain(stored, signal));
if (!got.ok) {
  say({ phase: 'failed', failure: got.failure });
  process.exit(1);
}
await port.configure({ address: got.lease.address, prefix: got.lease.prefix, router: undefined });
say({ phase: 'bound', lease: got.lease });

let renewals = 0;
let lost: string | undefined;
const maintained = client.maintain(got.lease, signal, (l) => {
  renewals++;
  say({ phase: 'renewed', lease: l });
}, (why) => {
  lost = why;
  say({ phase: 'lost', why });
});
// Up to the first renewal.
await run(new Promise<void>((r) => {
  const t = setInterval(() => renewals > 0 && (clearInterval(t), r()), 2);
}));
say({ phase: 'waiting-for-server-gone' });
await nextLine();
await run(maintained, 1000);
say({ phase: 'done', lost });
await network.close();
process.exit(0);
