/**
 * The order in which to try the targets of SRV records (RFC 2782, "Usage rules"): lowest
 * priority first; within one priority, a weighted random order — each next target drawn with a
 * chance proportional to its weight, records of weight 0 first in the running so that they are
 * picked only when nothing weighted is left or by a draw of 0. A single record whose target is
 * "." means the service is decidedly not available there. `random(n)` is an integer in [0, n]
 * (injected: tests fix it; the phone uses node:crypto's randomInt).
 */
export interface SrvTarget {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

export function orderSrv(records: readonly SrvTarget[], random: (max: number) => number): SrvTarget[] {
  const byPriority = new Map<number, SrvTarget[]>();
  for (const r of records) {
    if (r.name === '.' || r.name === '' || !(r.port > 0 && r.port < 65536)) continue;
    const list = byPriority.get(r.priority) ?? [];
    list.push(r);
    byPriority.set(r.priority, list);
  }
  const out: SrvTarget[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    // Weight 0 first, as the RFC's selection describes.
    const left = [...byPriority.get(priority)!].sort((a, b) => Number(a.weight !== 0) - Number(b.weight !== 0));
    while (left.length) {
      const total = left.reduce((n, r) => n + Math.max(0, r.weight), 0);
      const draw = random(total);
      let sum = 0;
      let at = left.findIndex((r) => (sum += Math.max(0, r.weight)) >= draw);
      if (at < 0) at = 0;
      out.push(left.splice(at, 1)[0]!);
    }
  }
  return out;
}
