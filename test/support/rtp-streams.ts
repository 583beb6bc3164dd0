/**
 * tshark's RTP stream analysis (`tshark -z rtp,streams`) of a capture, as rows: Wireshark's own
 * reading of what went over the wire, not the phone's counters. RTP is found heuristically (the
 * SDP that would name the ports rides TCP to the call manager, which a capture may not follow).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RtpStreamRow {
  src: string;
  dst: string;
  payload: string;
  pkts: number;
  lost: number;
}

export async function rtpStreams(pcap: string): Promise<RtpStreamRow[]> {
  const { stdout } = await run('tshark', ['-r', pcap, '-o', 'rtp.heuristic_rtp:TRUE', '-q', '-z', 'rtp,streams']);
  const rows: RtpStreamRow[] = [];
  for (const line of stdout.split('\n')) {
    const m = /(\d+\.\d+\.\d+\.\d+)\s+(\d+)\s+(\d+\.\d+\.\d+\.\d+)\s+(\d+)\s+0x[0-9A-Fa-f]+\s+(.+?)\s+(\d+)\s+(-?\d+)\s+\(/.exec(line);
    if (m) rows.push({ src: `${m[1]}:${m[2]}`, dst: `${m[3]}:${m[4]}`, payload: m[5]!, pkts: Number(m[6]), lost: Number(m[7]) });
  }
  if (rows.length === 0) throw new Error(`tshark found no RTP stream:\n${stdout}`);
  return rows;
}
