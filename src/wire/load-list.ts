/**
 * The body of a sepi `.loads` file (docs/firmware.md): the load's component files, one a line,
 * `<file> <size> <sha256>`, CRLF. Each file is a path inside the load (`lib/sepi/sepi.mjs`,
 * `lib/node_modules/@serialport/…/index.js`): no empty, `.` or `..` segment, no leading `/`.
 * Cisco's 88xx body is not public; Cisco's older bodies name files without the three fields
 * (reference cisco-boot-protocol.md §8), so a body that is not this shape is not ours.
 */

export interface LoadComponent {
  file: string;
  size: number;
  sha256: string;
}

/** A load with its Node packages lists a few hundred files. */
export const MAX_COMPONENTS = 4096;

const LINE = /^([A-Za-z0-9._@+/-]{1,255}) (\d{1,12}) ([0-9a-f]{64})$/;

/** The components a body lists, or what is wrong with it. */
export function parseLoadList(body: Uint8Array): LoadComponent[] | string {
  const lines = Buffer.from(body).toString('utf8').split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  if (lines.length === 0 || lines.length > MAX_COMPONENTS) return `${lines.length} components listed`;
  const out: LoadComponent[] = [];
  const seen = new Set<string>();
  for (const l of lines) {
    const m = LINE.exec(l);
    if (!m || m[1]!.split('/').some((p) => p === '..' || p === '' || p === '.')) return `a line that is not "<file> <size> <sha256>": ${l.slice(0, 60)}`;
    if (seen.has(m[1]!)) return `${m[1]} listed twice`;
    seen.add(m[1]!);
    out.push({ file: m[1]!, size: Number(m[2]), sha256: m[3]! });
  }
  return out;
}

/** The names a Cisco body lists: lines that are not comments (`#`) or settings (`NAME=value`), first word each. */
export function ciscoLoadNames(body: Uint8Array): string[] {
  return Buffer.from(body).toString('latin1').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#') && !/^[A-Z_]+=/.test(l)).map((l) => l.split(/\s+/)[0]!);
}
