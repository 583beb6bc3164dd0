/**
 * Calls per second through the companion against kamailio, same load in the same run: SIPp as
 * UAC (INVITE with SDP, 200, ACK, a pause, BYE) calling SIPp as UAS, at the offered rates of
 * `loads()` below (a fixed number of calls each, at most `-l` at once), each load through both
 * servers, each server started afresh for it. Everything over TCP (the companion has no
 * UDP), one connection per SIPp (`-t t1`), in the server namespace of a lab (root).
 *  - companion: both SIPp sides take third-party lines (DN 2001 calls DN 2002) with digest, the
 *    UAC's first call registers before it calls (the others wait for it), the UAS registers and
 *    answers out-of-call INVITEs; `sip.maxCallsPerDevice` is raised to 10000 (the default 8 would
 *    answer 486 beyond 8 calls on a line).
 *  - kamailio: a stateful proxy (tm, record_route, loose_route) with usrloc: the UAS registers
 *    (no auth), INVITEs are routed by lookup("location").
 * Figures from SIPp's statistics file (`-trace_stat`, a row a second): successful and failed
 * calls, SIPp's cumulative call rate, the most calls in progress at once (CurrentCall), and the
 * mean time from INVITE to 200 (a response-time counter).
 * Asserts nothing.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { kamailioConfig, proxyRoute } from '../test/support/kamailio.ts';
import { pcmuSdp, registerExchange } from '../test/support/sipp-xml.ts';
import { printAndRecord } from './results.ts';
import { Lab } from '../test/support/lab.ts';
import { needs } from '../test/support/proc.ts';
import { cmJson, startCompanion, tempDir } from '../test/support/sepi.ts';

const NET = '10.81.0';
const IP = `${NET}.1`;

/** One SIPp load: offered calls a second, how many, at most how many at once, how long each lasts. */
export interface Load {
  rate: number;
  calls: number;
  limit: number;
  holdMs: number;
}

/**
 * The loads, each run through both servers: a light one, the rate where the call servers are
 * still far from their limits, one past what two shared cores carry (the ceiling: what is
 * carried, what fails), and many long calls at once. SEPI_BENCH_CALLS_RATE (with
 * SEPI_BENCH_CALLS, SEPI_BENCH_CALLS_LIMIT, SEPI_BENCH_CALLS_HOLD_MS) runs one load instead.
 */
function loads(): Load[] {
  const one = process.env['SEPI_BENCH_CALLS_RATE'];
  if (one) {
    return [{
      rate: Number(one), calls: Number(process.env['SEPI_BENCH_CALLS'] ?? 1000), limit: Number(process.env['SEPI_BENCH_CALLS_LIMIT'] ?? 500),
      holdMs: Number(process.env['SEPI_BENCH_CALLS_HOLD_MS'] ?? 1000),
    }];
  }
  return [
    { rate: 50, calls: 1000, limit: 500, holdMs: 1000 },
    { rate: 300, calls: 6000, limit: 1000, holdMs: 1000 },
    { rate: 1000, calls: 10000, limit: 3000, holdMs: 1000 },
    { rate: 2000, calls: 20000, limit: 5000, holdMs: 1000 },
    { rate: 200, calls: 4000, limit: 5000, holdMs: 15000 },
  ];
}

export interface CallFigures {
  offeredRate: number;
  calls: number;
  successful: number;
  failed: number;
  callRate: number;
  maxConcurrent: number;
  elapsedSeconds: number;
  /** Mean time from the INVITE to its 200 (SIPp's response-time counter). */
  setupMs: number;
}

/** DN `user`'s REGISTER, with digest (the line's password) when the companion asks for it. */
const register = (user: string, auth: boolean) =>
  registerExchange({ user, tag: '[pid]reg[call_number]', ...(auth ? { authentication: `[authentication username=${user} password=bench-secret]` } : {}) });

/** The UAC: call 1 registers first (DN 2001) and sets the global `reg`; calls that start before it did wait a second. */
const uac = (auth: boolean, holdMs: number) => `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="bench-uac">
  <Global variables="reg"/>
  <nop>
    <action>
      <assignstr assign_to="n" value="[call_number]"/>
      <todouble assign_to="nd" variable="n"/>
      <test assign_to="first" variable="nd" compare="equal" value="1"/>
    </action>
  </nop>
  <nop test="first" next="register"/>
  <nop test="reg" next="invite"/>
  <pause milliseconds="1000"/>
  <nop next="invite"/>
  <label id="register"/>
${register('2001', auth)}
  <nop><action><assign assign_to="reg" value="1"/></action></nop>
  <label id="invite"/>
  <send retrans="500" start_rtd="setup">
    <![CDATA[

      INVITE sip:2002@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:2001@[remote_ip]>;tag=[pid]call[call_number]
      To: <sip:2002@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 3 INVITE
      Contact: <sip:2001@[local_ip]:[local_port];transport=tcp>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

${pcmuSdp('sipp-uac')}

    ]]>
  </send>

  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true" rtd="setup"/>

  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:2001@[remote_ip]>;tag=[pid]call[call_number]
      [last_To:]
      Call-ID: [call_id]
      [routes]
      CSeq: 3 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>

  <pause milliseconds="${holdMs}"/>

  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:2001@[remote_ip]>;tag=[pid]call[call_number]
      [last_To:]
      Call-ID: [call_id]
      [routes]
      CSeq: 4 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>

  <recv response="200"/>
</scenario>
`;

/** The UAS's main scenario: register DN 2002 and stay; calls arrive out of call (uasCall). */
const uasRegister = (auth: boolean) => `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="bench-uas-register">
${register('2002', auth)}
  <pause milliseconds="3600000"/>
</scenario>
`;

const uasCall = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="bench-uas-call">
  <recv request="INVITE"/>

  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_Record-Route:]
      [last_From:]
      [last_To:];tag=[pid]uas[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:2002@[local_ip]:[local_port];transport=tcp>
      Content-Length: 0

    ]]>
  </send>

  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_Record-Route:]
      [last_From:]
      [last_To:];tag=[pid]uas[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:2002@[local_ip]:[local_port];transport=tcp>
      Content-Type: application/sdp
      Content-Length: [len]

${pcmuSdp('sipp-uas')}

    ]]>
  </send>

  <recv request="ACK"/>
  <recv request="BYE"/>

  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>
`;

const KAMAILIO_CFG = kamailioConfig({
  purpose: 'The calls bench\'s kamailio: a stateful proxy with usrloc, no authentication.',
  tcpChildren: 4,
  modules: ['rr', 'xlog'],
  route: proxyRoute({ onRegister: 'xlog("L_ALERT", "REGISTERED $tU\\n");' }),
});

/** SIPp's -trace_stat file: the last row's totals, and the most calls in progress in any row. */
function parseStats(csv: string): Omit<CallFigures, 'offeredRate' | 'calls'> {
  const rows = csv.trim().split('\n').map((l) => l.split(';'));
  const head = rows[0] ?? [];
  const col = (name: string) => head.indexOf(name);
  const data = rows.slice(1).filter((r) => r.length >= head.length - 1);
  const last = data.at(-1) ?? [];
  const num = (r: string[], name: string) => Number(r[col(name)] ?? NaN);
  const hms = (s: string | undefined) => {
    const p = (s ?? '').split(':').map(Number);
    return p.length >= 3 ? p[0]! * 3600 + p[1]! * 60 + p[2]! + (p[3] ?? 0) / 1e6 : NaN;
  };
  return {
    successful: num(last, 'SuccessfulCall(C)'),
    failed: num(last, 'FailedCall(C)'),
    callRate: num(last, 'CallRate(C)'),
    maxConcurrent: Math.max(0, ...data.map((r) => num(r, 'CurrentCall'))),
    elapsedSeconds: hms(last[col('ElapsedTime(C)')]),
    setupMs: Math.round(hms(last[col('ResponseTimesetup(C)')]) * 10000) / 10,
  };
}

async function runLoad(lab: Lab, work: string, label: string, port: number, auth: boolean, load: Load, registered: () => Promise<void>): Promise<CallFigures> {
  const { rate, calls, limit, holdMs } = load;
  const files = {
    uac: join(work, `${label}-uac.xml`), uas: join(work, `${label}-uas.xml`), ooc: join(work, `${label}-uas-call.xml`),
  };
  await writeFile(files.uac, uac(auth, holdMs));
  await writeFile(files.uas, uasRegister(auth));
  await writeFile(files.ooc, uasCall);
  const common = ['-i', IP, '-p', '0', '-t', 't1', '-nostdin', '-trace_err', '-timeout', '600s', '-max_recv_loops', '10000'];
  const uas = lab.spawn(`sipp-uas-${label}`, lab.server, 'sipp', [`${IP}:${port}`, '-sf', files.uas, '-oocsf', files.ooc, '-m', '1', ...common, '-error_file', join(work, `${label}-uas.err`)]);
  await registered();
  const stats = join(work, `${label}-uac.csv`);
  // One call more than asked: call 1 also registers, counted with the others.
  const caller = lab.spawn(`sipp-uac-${label}`, lab.server, 'sipp', [
    `${IP}:${port}`, '-sf', files.uac, '-r', String(rate), '-m', String(calls + 1), '-l', String(limit), ...common,
    '-error_file', join(work, `${label}-uac.err`), '-trace_stat', '-stf', stats, '-fd', '1',
  ]);
  await caller.exit(Math.max(120_000, (calls / rate) * 4000 + holdMs * 2 + 60_000));
  await uas.stop();
  const figures = parseStats(await readFile(stats, 'utf8').catch(() => ''));
  return { offeredRate: rate, calls: calls + 1, ...figures };
}

export async function benchCalls(): Promise<{ lines: string[]; figures: Record<string, unknown> }> {
  await needs('sipp', 'kamailio');
  const work = await tempDir('bench-calls');
  const lab = await Lab.create(NET);
  const kcfg = join(work, 'kamailio.cfg');
  await writeFile(kcfg, KAMAILIO_CFG);
  const results: Array<{ load: Load; companion: CallFigures; kamailio: CallFigures }> = [];
  try {
    for (const [i, load] of loads().entries()) {
      // ---- the companion: two third-party lines with digest, a fresh data folder per load ----
      const data = join(work, `cm-${i}`);
      await mkdir(data);
      const cm = await startCompanion(lab, data, {
        security: { mode: 'none' }, autoRegistration: { enabled: false }, dhcp: { enabled: false }, sip: { maxCallsPerDevice: 10000 },
        phones: [{ mac: '02BE00002001', model: '8841', dn: '2001', password: 'bench-secret' }, { mac: '02BE00002002', model: '8841', dn: '2002', password: 'bench-secret' }],
      });
      const companion = await runLoad(lab, work, `sepi-${i}`, 5060, true, load, async () => {
        for (let t = 0; t < 300; t++) {
          if ((await cmJson<{ registered: boolean }>(data, 'phone', 'show', 'SEP02BE00002002')).registered) return;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`the UAS never registered on the companion:\n${cm.tail()}`);
      });
      await lab.stopAll();

      // ---- kamailio: stateful proxy with usrloc, restarted per load ------------------------
      // 1 GiB of shared memory: tm keeps each transaction a while after it ends, and with 64 or
      // 256 MiB kamailio ran out at 1,000 and 2,000 calls/s and failed most calls (not its speed).
      const k = lab.spawn('kamailio', lab.server, 'kamailio', ['-DD', '-E', '-f', kcfg, '-l', `tcp:${IP}:5070`, '-Y', work, '-P', join(work, 'k.pid'), '-m', '1024', '-M', '32']);
      await lab.waitForTcp(lab.server, IP, 5070);
      const kamailio = await runLoad(lab, work, `kamailio-${i}`, 5070, false, load, async () => {
        await k.waitFor('kamailio saved the UAS', () => [...k.lines, ...k.errLines].some((l) => /REGISTERED 2002/.test(l)), 30_000);
      });
      await lab.stopAll();
      results.push({ load, companion, kamailio });
    }

    const row = (name: string, f: CallFigures) =>
      `    ${name.padEnd(10)} ${String(f.successful).padStart(6)} ok ${String(f.failed).padStart(5)} failed   ${f.callRate.toFixed(1).padStart(6)} calls/s   ${String(f.maxConcurrent).padStart(5)} at once   setup ${f.setupMs.toFixed(1)} ms mean   ${f.elapsedSeconds.toFixed(1)} s`;
    const lines = ['calls through the call server: SIPp UAC → SIPp UAS over TCP (calls/s: successful calls over the run, the last calls\' hold included):'];
    for (const r of results) {
      lines.push(
        `  offered ${r.load.rate}/s, ${r.load.calls} calls (+1 that registers), ${r.load.holdMs} ms each, -l ${r.load.limit}:`,
        row('companion', r.companion),
        row('kamailio', r.kamailio),
        `    ratio calls/s companion / kamailio   ${(r.companion.callRate / r.kamailio.callRate).toFixed(2)}`,
      );
    }
    return { lines, figures: { loads: results } };
  } finally {
    await lab.destroy();
    if (!process.env['SEPI_BENCH_KEEP']) await rm(work, { recursive: true, force: true });
  }
}

/** bench/run.ts's row: print and record `calls`. */
export const benchCallsRow = (): Promise<void> => printAndRecord('calls', benchCalls);

if (import.meta.main) await benchCallsRow();
