/**
 * Live progress of a fleet: on a terminal one line redrawn in place — a bar of phones at the
 * goal and the counts per step — and with `--json` one JSON line a second for a lab's tooling.
 * Both read the same FleetProgress; neither holds anything per phone.
 */
import type { FleetProgress } from './fleet-stats.ts';

const BAR = 24;

export function progressLine(p: FleetProgress, count: number, goal: string): string {
  const done = Math.round((p.reached / Math.max(1, count)) * BAR);
  const rate = p.t > 0 ? Math.round((p.reached / p.t) * 1000) : 0;
  return `[${'#'.repeat(done)}${'.'.repeat(BAR - done)}] ${p.reached}/${count} ${goal} | on ${p.poweredOn} dhcp ${p.dhcp} config ${p.config} register ${p.register} | ${p.failures} failures | ${rate}/s | ${(p.t / 1000).toFixed(0)} s`;
}

export const progressJson = (p: FleetProgress): string => JSON.stringify({ type: 'progress', ...p }) + '\n';
