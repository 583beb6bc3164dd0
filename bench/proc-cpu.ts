/**
 * CPU a server process has used so far, from /proc — what a request costs the server, which the
 * machine's other work moves much less than a rate. For the bench rows that compare servers.
 */
import { readFile, readdir } from 'node:fs/promises';

/** Kernel clock ticks a second (USER_HZ): 100 on Linux. */
const CLOCK_TICKS = 100;

export interface CpuSeconds {
  user: number;
  system: number;
}

/** The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses). */
async function statFields(pid: number | string): Promise<string[]> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User and system CPU seconds of a process and all its threads so far (stat fields 14 and 15). */
export async function processCpu(pid: number): Promise<CpuSeconds> {
  const f = await statFields(pid);
  return { user: Number(f[11]) / CLOCK_TICKS, system: Number(f[12]) / CLOCK_TICKS };
}

/** The same for a process and every process it forked (kamailio's workers), recursively. */
export async function processTreeCpu(pid: number): Promise<CpuSeconds> {
  const total = await processCpu(pid).catch(() => ({ user: 0, system: 0 }));
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const f = await statFields(p).catch(() => [] as string[]);
    if (Number(f[1]) !== pid) continue;
    const child = await processTreeCpu(Number(p));
    total.user += child.user;
    total.system += child.system;
  }
  return total;
}

/** User + system, in seconds. */
export const totalSeconds = (c: CpuSeconds): number => c.user + c.system;
