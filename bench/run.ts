/**
 * `make bench`: performance figures measured in one run, each against a peer measured in the
 * same run, printed as ratios (never asserted: the machine's speed is not the product's).
 *
 *  1. Boot time from power-on to Registered, as the phone itself measures it (the `t` of its
 *     register/done event, so Node's start-up is not counted), fresh NVRAM every boot so DHCP
 *     starts from DISCOVER: against the companion, and against dnsmasq (DHCP, option 150) +
 *     tftpd-hpa (the companion's own files, copied) + kamailio (registrar, no auth).
 *  2. Memory of 100 emulated phones in one process (`sepi fleet`, all registered), against one
 *     phone in the same kind of process; the fleet collects garbage before it measures, so the
 *     heap figures are live objects, not whatever the collector had not reached yet.
 *  3. DHCP exchanges/s through a relay: the companion against Kea and dnsmasq under perfdhcp
 *     and sepi's own generator (bench/dhcp.ts); its figures also go to bench/results.json.
 *  4. Firmware: the bundle's cold start and idle RSS against the sources (bench/firmware.ts).
 *  5. The boot-storm curve, 1k to 10k phones in one sepi fleet against the companion
 *     (bench/storm.ts; SEPI_BENCH_STORM=1000,2000 for fewer).
 *  6. Calls per second: SIPp UAC → SIPp UAS through the companion (third-party lines, digest)
 *     and through kamailio (stateful proxy, usrloc), the same loads (bench/calls.ts).
 *  7. File service: 16 MiB over TFTP and HTTP 6970 against tftpd-hpa and busybox httpd (bench/files.ts).
 *  8. SIP registrar: REGISTER/s under SIPp against kamailio, one socket, a socket per REGISTER,
 *     digest, and 10,000 connections held (bench/registrar.ts).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildConfig } from '../src/cm/config.ts';
import { CompanionDb } from '../src/cm/db.ts';
import { ProvisioningFiles } from '../src/cm/provisioning-files.ts';
import { Lab } from '../test/support/lab.ts';
import { needs } from '../test/support/proc.ts';
import { ROOT, SEPI, startCompanion, tempDir } from '../test/support/sepi.ts';
import { benchDhcp } from './dhcp.ts';
import { recordRow } from './results.ts';

const RUNS = Number(process.env['SEPI_BENCH_RUNS'] ?? 7);
const FLEET = Number(process.env['SEPI_BENCH_FLEET'] ?? 100);
const MAC = '0011223344E0';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

async function bootTimes(lab: Lab, label: string, nvRoot: string): Promise<number[]> {
  const ns = await lab.addHost(label, { mac: '00:11:22:33:44:e0' });
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const nv = join(nvRoot, `${label}-${i}`);
    const p = lab.spawn(`phone-${label}`, ns, SEPI, ['phone', '--iface', 'eth0', '--mac', MAC, '--nvram', nv, '--json-events', '--until', 'registered', '--timeout', '60']);
    const code = await p.exit(90_000);
    if (code !== 0) throw new Error(`${label} boot ${i} failed:\n${p.tail()}`);
    const reg = p.events().find((e) => e['step'] === 'register' && e['state'] === 'done');
    times.push(Number(reg!['t']));
    // The next boot starts from scratch: give the address back to the pool side of the server.
    await lab.ns(ns, 'ip', 'addr', 'flush', 'dev', 'eth0');
  }
  return times;
}

async function fleetMemory(lab: Lab, count: number, nvRoot: string, subnetHost: number): Promise<Record<string, number>> {
  const ns = await lab.addHost(`fleet${count}`, { address: `${lab.subnet}.${subnetHost}/24` });
  await lab.ns(ns, 'ip', 'route', 'add', '255.255.255.255/32', 'dev', 'eth0');
  const base = (0x025e00000000 + count * 0x1000).toString(16).padStart(12, '0');
  const p = lab.spawn(`fleet${count}`, ns, SEPI, ['fleet', '--iface', 'eth0', '--count', String(count), '--mac-base', base, '--nvram-root', join(nvRoot, `fleet${count}`), '--until', 'registered-any', '--timeout', '240', '--json', '--stagger-ms', '10'], { NODE_OPTIONS: '--expose-gc' });
  const code = await p.exit(300_000);
  const summary = p.events().at(-1) as Record<string, number> | undefined;
  if (code !== 0 || !summary) throw new Error(`fleet of ${count} failed:\n${p.tail()}`);
  return summary;
}

async function main(): Promise<void> {
  await needs('dnsmasq', 'in.tftpd', 'kamailio');
  const work = await tempDir('bench');
  const lab = await Lab.create('10.90.0');
  try {
    // ---- 1. boot time: companion -----------------------------------------------------------
    const data = join(work, 'cm');
    await mkdir(data);
    await mkdir(join(work, 'cm-itl'));
    // No trust lists: the peers serve none either, so both boots do the same work.
    const companion = await startCompanion(lab, data, { phones: [{ mac: MAC, model: '8841', dn: '1001' }], autoRegistration: { enabled: true, dnRange: ['6000', '6999'] }, security: { mode: 'none' } });
    const cmTimes = await bootTimes(lab, 'cm', work);
    await companion.stop();
    // The same boot with trust on: ITL trusted on first use, every file fetched as .sgn and verified.
    const trusted = await startCompanion(lab, join(work, 'cm-itl'), { phones: [{ mac: MAC, model: '8841', dn: '1001' }] });
    const itlTimes = await bootTimes(lab, 'itl', work);
    await trusted.stop();
    // The same files for the peers, generated by the companion's own code from its database.
    const tftpRoot = join(work, 'tftp');
    await mkdir(tftpRoot);
    const db = new CompanionDb(data);
    const files = new ProvisioningFiles(db, buildConfig({ phones: [], security: { mode: 'none' } }, { address: '10.90.0.1', prefix: 24 }));
    for (const name of [`SEP${MAC}.cnf.xml`, 'XMLDefault.cnf.xml']) {
      const f = files.lookup(name);
      if (f.kind !== 'file') throw new Error(`companion has no ${name}`);
      await writeFile(join(tftpRoot, name), f.data);
    }
    db.close();

    // ---- 1. boot time: dnsmasq + tftpd-hpa + kamailio -----------------------------------------
    lab.spawn('dnsmasq', lab.server, 'dnsmasq', [
      '--keep-in-foreground', '--conf-file=/dev/null', '--interface=br0', '--bind-interfaces', '--port=0', '--no-ping', '--log-facility=-',
      '--dhcp-range=10.90.0.100,10.90.0.199,255.255.255.0,1h', '--dhcp-option=150,10.90.0.1', `--dhcp-leasefile=${join(work, 'leases')}`, '--user=root', '--pid-file=',
    ]);
    lab.spawn('tftpd-hpa', lab.server, 'in.tftpd', ['--foreground', '--address', '10.90.0.1:69', '--secure', tftpRoot, '--user', 'root']);
    const kcfg = join(work, 'kamailio.cfg');
    await writeFile(kcfg, await readFile(join(ROOT, 'bench/kamailio-open.cfg')));
    lab.spawn('kamailio', lab.server, 'kamailio', ['-DD', '-E', '-f', kcfg, '-l', 'tcp:10.90.0.1:5060', '-Y', work, '-P', join(work, 'k.pid'), '-m', '32', '-M', '8']);
    await lab.waitForTcp(lab.server, '10.90.0.1', 5060);
    const peerTimes = await bootTimes(lab, 'peer', work);
    await lab.stopAll();

    // ---- 2. memory: 100 phones in one process -----------------------------------------------
    await startCompanion(lab, join(work, 'cm'), { autoRegistration: { enabled: true, dnRange: ['6000', '6999'] }, dhcp: { poolFirst: '10.90.0.20', poolLast: '10.90.0.250' }, security: { mode: 'none' } });
    const one = await fleetMemory(lab, 1, work, 10);
    const many = await fleetMemory(lab, FLEET, work, 11);

    const c = median(cmTimes);
    const p = median(peerTimes);
    const t = median(itlTimes);
    const out = [
      `boot to Registered, measured by the phone, median of ${RUNS} boots from fresh NVRAM:`,
      `  companion (DHCP, HTTP 6970, SIP)            ${c.toFixed(0).padStart(6)} ms   [${cmTimes.join(', ')}]`,
      `  dnsmasq + tftpd-hpa + kamailio (TFTP)       ${p.toFixed(0).padStart(6)} ms   [${peerTimes.join(', ')}]`,
      `  ratio companion / peers                     ${(c / p).toFixed(2).padStart(6)}`,
      `  companion with ITL + .sgn (trust on)       ${t.toFixed(0).padStart(6)} ms   [${itlTimes.join(', ')}]`,
      `  ratio trust on / trust off                  ${(t / c).toFixed(2).padStart(6)}`,
      `memory of ${FLEET} phones in one process (sepi fleet, all registered) against 1 phone:`,
      `  1 phone      RSS ${mib(one['rssBytes']!)}, heap ${mib(one['heapUsedBytes']!)}`,
      `  ${FLEET} phones  RSS ${mib(many['rssBytes']!)}, heap ${mib(many['heapUsedBytes']!)}; median boot ${many['medianMs']} ms`,
      `  per extra phone: RSS ${((many['rssBytes']! - one['rssBytes']!) / (FLEET - 1) / 1024).toFixed(0)} KiB, heap ${((many['heapUsedBytes']! - one['heapUsedBytes']!) / (FLEET - 1) / 1024).toFixed(0)} KiB`,
      `  ratio RSS ${FLEET} phones / 1 phone              ${(many['rssBytes']! / one['rssBytes']!).toFixed(2).padStart(6)}`,
    ];
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await lab.destroy();
    await rm(work, { recursive: true, force: true });
  }
}

await main();

// 3. DHCP: sepi against Kea and dnsmasq under perfdhcp and sepi's own generator (bench/dhcp.ts).
const dhcp = await benchDhcp();
process.stdout.write(dhcp.lines.join('\n') + '\n');
await recordRow('dhcp', dhcp.figures);

// 4. Firmware: cold start of the bundle to its first LCD frame and RSS of an idle registered phone, against the sources (bench/firmware.ts).
await (await import('./firmware.ts')).benchFirmwareRow();

// 5. The boot-storm curve: N phones at once in one sepi fleet against the companion (bench/storm.ts).
{
  const { storm, stormTable } = await import('./storm.ts');
  const counts = (process.env['SEPI_BENCH_STORM'] ?? '1000,2000,5000,10000').split(',').map(Number).filter((n) => n > 0);
  const points = await storm(counts);
  process.stdout.write(stormTable(points));
  await recordRow('storm', { points });
}

// 6. Calls: SIPp UAC → UAS through the companion and through kamailio at the same offered rate (bench/calls.ts).
await (await import('./calls.ts')).benchCallsRow();

// 7. File service: 16 MiB over TFTP (tftp-hpa, atftp, sepi's windowed client) and HTTP 6970 (curl) against tftpd-hpa and busybox httpd (bench/files.ts).
await (await import('./files.ts')).benchFilesRow();

// 8. SIP registrar: REGISTER/s under SIPp against kamailio (one socket, a socket per REGISTER, digest) and 10,000 connections held (bench/registrar.ts).
await (await import('./registrar.ts')).benchRegistrarRow();
