/**
 * bench/results.json: one JSON object keyed by row name ("dhcp", and whatever rows come later),
 * each row's figures as its module wrote them in its last run. Read, modify, write: a module
 * replaces its own row and leaves the others as they were, so rows measured in different runs
 * (or by different people) sit side by side, each with the time it was measured.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const RESULTS_FILE = join(import.meta.dirname, 'results.json');

export async function recordRow(row: string, figures: Record<string, unknown>, file = RESULTS_FILE): Promise<void> {
  let all: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) all = parsed as Record<string, unknown>;
  } catch {
    // No file yet, or one that is not JSON: start a new object.
  }
  all[row] = { measuredAt: new Date().toISOString(), ...figures };
  const sorted = Object.fromEntries(Object.entries(all).sort(([a], [b]) => a.localeCompare(b)));
  // A whole file or the old one: never half a file if the bench is interrupted.
  await writeFile(`${file}.tmp`, JSON.stringify(sorted, null, 2) + '\n');
  await rename(`${file}.tmp`, file);
}

/** A bench row's printed lines and its figures: what each bench module's main function returns. */
export interface BenchRow {
  lines: string[];
  figures: object;
}

/** Runs a row's bench, prints its lines and records its figures under `row`. */
export async function printAndRecord(row: string, bench: () => Promise<BenchRow>): Promise<void> {
  const r = await bench();
  process.stdout.write(r.lines.join('\n') + '\n');
  await recordRow(row, r.figures as Record<string, unknown>);
}
