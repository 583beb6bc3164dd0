/**
 * What a fleet run leaves for CI (`--report FILE`): the summary as JSON in FILE, and the same run
 * as JUnit XML beside it (FILE with `.xml`): one test case per phone — passed when it reached
 * the goal, failed with what it was last doing when not — so a CI server shows a boot storm as
 * it shows any test run. Written atomically: a report is whole or absent.
 */
import { writeFileAtomic } from '../common/atomic-file.ts';
import type { FleetSummary } from './fleet-stats.ts';

export interface PhoneOutcome {
  device: string;
  /** Milliseconds from the fleet's start to the goal; undefined when not reached. */
  reachedMs: number | undefined;
  phase: string;
  last: string;
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
// XML 1.0 cannot carry most control characters even escaped: they are dropped.
const xml = (s: string) => s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '').replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);

export function junitXml(summary: FleetSummary, phones: readonly PhoneOutcome[]): string {
  const failures = phones.filter((p) => p.reachedMs === undefined).length;
  const total = Math.max(0, ...phones.map((p) => p.reachedMs ?? 0)) / 1000;
  const cases = phones.map((p) => {
    const name = `${xml(p.device)} reaches ${summary.until}`;
    const time = ((p.reachedMs ?? 0) / 1000).toFixed(3);
    if (p.reachedMs !== undefined) return `    <testcase classname="sepi.fleet" name="${name}" time="${time}"/>`;
    return `    <testcase classname="sepi.fleet" name="${name}" time="${time}">\n      <failure message="${xml(`${p.phase}: ${p.last}`.slice(0, 500))}" type="${summary.timedOut ? 'timeout' : 'not-reached'}"/>\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="sepi fleet" tests="${phones.length}" failures="${failures}" time="${total.toFixed(3)}">`,
    `  <testsuite name="sepi fleet: ${summary.count} phones until ${xml(summary.until)}" tests="${phones.length}" failures="${failures}" errors="0" skipped="0" time="${total.toFixed(3)}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/** FILE gets the JSON; FILE.xml (or FILE with .json replaced) the JUnit XML. Returns both paths. */
export async function writeReport(file: string, summary: FleetSummary, phones: readonly PhoneOutcome[]): Promise<{ json: string; junit: string }> {
  const junit = file.endsWith('.json') ? `${file.slice(0, -5)}.xml` : `${file}.xml`;
  await writeFileAtomic(file, JSON.stringify({ ...summary, phones: phones.map((p) => ({ device: p.device, reachedMs: p.reachedMs ?? null, ...(p.reachedMs === undefined ? { phase: p.phase, last: p.last } : {}) })) }, null, 2) + '\n');
  await writeFileAtomic(junit, junitXml(summary, phones));
  return { json: file, junit };
}
