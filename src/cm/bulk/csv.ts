/**
 * CSV for bulk work (reference onboarding-protocol.md §1.3 "CSV export"): BAT-style phone
 * inserts come in, activation-code exports go out. The reader is strict RFC 4180 because the
 * files are hand-edited and come from spreadsheets: a stray quote or an odd field count is
 * refused with the line it is on, rather than guessed at and turned into a wrong phone.
 *
 *   - fields are separated by commas, rows end with CRLF or LF; a bare CR outside quotes is refused
 *   - a quoted field may hold commas, CR, LF and doubled quotes; nothing may follow its closing quote
 *   - a quote inside an unquoted field is refused (so is a space before an opening quote)
 *   - a UTF-8 BOM at the very start is dropped (Excel writes one)
 *   - fully empty lines are skipped, so a trailing newline or blank line adds no row; a line
 *     holding `""` is a row of one empty field
 *   - control characters (Unicode Cc: C0, DEL, C1) are refused except TAB, and CR/LF inside quotes
 *
 * Errors are WireError with format 'csv' and `at` the 1-based line number: the line where the
 * offending character is, or where the row (or unterminated quoted field) begins.
 */
import { type Result, WireError, catchWire } from '../../wire/result.ts';

export interface CsvLimits {
  /** UTF-8 size of the whole text; default 1 MiB. */
  maxBytes?: number;
  /** Rows including the header; default 10,000. */
  maxRows?: number;
  /** Fields in one row; default 64. */
  maxFields?: number;
}

export const CSV_DEFAULT_LIMITS = { maxBytes: 1024 * 1024, maxRows: 10_000, maxFields: 64 } as const;

/** One data row of a table, with the line it starts on for "line 12: …" messages. */
export interface CsvRecord {
  line: number;
  fields: Record<string, string>;
}

const FORMAT = 'csv';
const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const TAB = 0x09;

const fail = (code: string, message: string, line?: number): never => {
  throw new WireError(FORMAT, code, message, line);
};
const isControl = (c: number) => c < 0x20 || (c >= 0x7f && c <= 0x9f);
const hex = (c: number) => `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;

interface Row {
  line: number;
  fields: string[];
}

/** The scanner both public readers share; throws WireError. */
function scan(text: string, o: CsvLimits | undefined): Row[] {
  const maxBytes = o?.maxBytes ?? CSV_DEFAULT_LIMITS.maxBytes;
  const maxRows = o?.maxRows ?? CSV_DEFAULT_LIMITS.maxRows;
  const maxFields = o?.maxFields ?? CSV_DEFAULT_LIMITS.maxFields;
  // A UTF-16 unit is at least one UTF-8 byte, so the length alone can refuse a huge text before it is walked.
  if (text.length > maxBytes || Buffer.byteLength(text, 'utf8') > maxBytes) fail('oversized', `input is over ${maxBytes} bytes`);
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const rows: Row[] = [];
  const lineEndAt = (k: number) => k >= n || text.charCodeAt(k) === LF || (text.charCodeAt(k) === CR && text.charCodeAt(k + 1) === LF);

  while (i < n) {
    if (text.charCodeAt(i) === LF || (text.charCodeAt(i) === CR && text.charCodeAt(i + 1) === LF)) {
      i += text.charCodeAt(i) === CR ? 2 : 1;
      line++;
      continue;
    }
    const row: Row = { line, fields: [] };
    if (rows.length >= maxRows) fail('too-many-rows', `more than ${maxRows} rows`, line);
    for (;;) {
      let value = '';
      if (text.charCodeAt(i) === QUOTE) {
        const opened = line;
        let from = ++i;
        for (;;) {
          if (i >= n) fail('unterminated-quote', 'a quoted field is never closed', opened);
          const c = text.charCodeAt(i);
          if (c === QUOTE) {
            value += text.slice(from, i);
            if (text.charCodeAt(i + 1) !== QUOTE) break;
            value += '"';
            i += 2;
            from = i;
            continue;
          }
          if (c === LF) line++;
          else if (isControl(c) && c !== TAB && c !== CR) fail('control-character', `${hex(c)} inside a field`, line);
          i++;
        }
        i++;
        if (!lineEndAt(i) && text.charCodeAt(i) !== COMMA) fail('stray-quote', 'text after the closing quote of a field', line);
      } else {
        const from = i;
        for (; i < n; i++) {
          const c = text.charCodeAt(i);
          if (c === COMMA || c === LF) break;
          if (c === CR) {
            if (text.charCodeAt(i + 1) === LF) break;
            fail('bare-cr', 'a CR without LF outside quotes', line);
          }
          if (c === QUOTE) fail('stray-quote', 'a quote inside an unquoted field (quote the whole field and double the quote)', line);
          if (isControl(c) && c !== TAB) fail('control-character', `${hex(c)} inside a field`, line);
        }
        value = text.slice(from, i);
      }
      row.fields.push(value);
      if (row.fields.length > maxFields) fail('too-many-fields', `more than ${maxFields} fields in a row`, row.line);
      if (i < n && text.charCodeAt(i) === COMMA) {
        i++;
        continue;
      }
      break;
    }
    if (i < n) {
      i += text.charCodeAt(i) === CR ? 2 : 1;
      line++;
    }
    rows.push(row);
  }
  return rows;
}

/** Rows of fields, exactly as written (no trimming); see the module comment for the rules. */
export function parseCsv(text: string, o?: CsvLimits): Result<string[][]> {
  return catchWire(() => scan(text, o).map((r) => r.fields));
}

/**
 * A table whose first row names its columns. Header names match `required` and `optional`
 * trimmed and case-insensitively, and records are keyed by the names as the caller spells
 * them. A column the file lacks is absent from every record (not ''), so "not given" and
 * "given empty" stay apart. Values are not trimmed. Rows whose fields are all empty are
 * skipped: spreadsheets export them (",,,,") for formatted but unused rows.
 */
export function readTable(text: string, required: readonly string[], optional: readonly string[], o?: CsvLimits): Result<CsvRecord[]> {
  return catchWire(() => {
    const rows = scan(text, o);
    const header = rows[0];
    if (!header) return fail('missing-header', 'the file is empty; its first row must name the columns', 1);
    const known = new Map<string, string>();
    for (const name of [...required, ...optional]) known.set(name.trim().toLowerCase(), name);
    const columns: string[] = [];
    for (const raw of header.fields) {
      const name = known.get(raw.trim().toLowerCase());
      const shown = JSON.stringify(raw.slice(0, 60));
      if (name === undefined) fail('unknown-column', `unknown column ${shown}`, header.line);
      if (columns.includes(name!)) fail('duplicate-column', `column ${shown} is given twice`, header.line);
      columns.push(name!);
    }
    const missing = required.filter((r) => !columns.includes(r));
    if (missing.length) fail('missing-column', `missing column${missing.length > 1 ? 's' : ''} ${missing.map((m) => JSON.stringify(m)).join(', ')}`, header.line);
    const records: CsvRecord[] = [];
    for (const row of rows.slice(1)) {
      if (row.fields.every((f) => f === '')) continue;
      if (row.fields.length !== columns.length) fail('field-count', `${row.fields.length} fields where the header has ${columns.length}`, row.line);
      const fields: Record<string, string> = {};
      for (let k = 0; k < columns.length; k++) fields[columns[k]!] = row.fields[k]!;
      records.push({ line: row.line, fields });
    }
    return records;
  });
}

/**
 * Exported files (activation codes above all) are opened in Excel, which runs a cell that
 * starts with = + - @ as a formula (and TAB/CR are stripped before that test): a description
 * of `=HYPERLINK(…)` typed by anyone would become a live link or command in the admin's
 * sheet. Such fields get a leading apostrophe, which spreadsheets show as text (OWASP "CSV
 * injection"). Codes (digits) and device names (SEP…/BAT…) never start with these. Control
 * characters the reader refuses become U+FFFD, so an export never fails on one odd
 * description and always reads back.
 */
function cell(field: string): string {
  let v = field.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g, '\ufffd');
  if (/^[=+\-@\t\r]/.test(v)) v = `'${v}`;
  return /[",\r\n]|^\s|\s$/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * RFC 4180 text with CRLF after every row, fields quoted only when they need it. A row of one
 * empty field is written `""` so it does not read back as a skipped empty line. `bom` puts a
 * UTF-8 BOM first, which Excel needs to take the file as UTF-8 rather than a legacy code page.
 */
export function writeCsv(rows: readonly (readonly string[])[], o?: { bom?: boolean }): string {
  const lines = rows.map((row) => {
    if (row.length === 0) throw new RangeError('writeCsv: a row needs at least one field');
    return row.length === 1 && row[0] === '' ? '""' : row.map(cell).join(',');
  });
  return (o?.bom ? '\ufeff' : '') + lines.map((l) => `${l}\r\n`).join('');
}
