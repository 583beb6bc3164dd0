/**
 * The next free directory number of a range, without reading every phone each time.
 *
 * Autoregistration used to read all phones' DNs for each new phone (`CompanionDb.nextFreeDn`):
 * in a storm of N new phones that is N² work, 100 million set entries at 10,000. Here a cursor
 * walks the range once, asking the database (an indexed lookup: `phones.dn` is UNIQUE) whether
 * each candidate is taken. When autoregistration lets abandoned phones go it rewinds the cursor,
 * so their numbers are the next given, lowest first, as the old scan would have. At the end
 * of the range it falls back to one full scan, which also finds numbers freed by paths it did
 * not hear about (an administrator removing a phone), and starts over from the bottom.
 * The database stays the record: a candidate is always checked before it is given.
 */
export interface DnLookup {
  /** Whether a phone holds this DN now. */
  taken(dn: string): boolean;
  /** Every DN held now (the fallback scan). */
  all(): Iterable<string>;
}

export class DnCursor {
  private readonly first: number;
  private readonly last: number;
  private readonly width: number;
  private readonly lookup: DnLookup;
  private next: number;

  constructor(first: string, last: string, lookup: DnLookup) {
    this.first = Number(first);
    this.last = Number(last);
    this.width = first.length;
    this.lookup = lookup;
    this.next = this.first;
  }

  private dn(n: number): string {
    return String(n).padStart(this.width, '0');
  }

  /** Numbers were freed (abandoned phones let go): the next take starts again from the bottom. */
  rewind(): void {
    this.next = this.first;
  }

  /** The lowest free DN at or above the cursor (or, past the end, anywhere), undefined when the range is full. */
  take(): string | undefined {
    for (; this.next <= this.last; this.next++) {
      const dn = this.dn(this.next);
      if (!this.lookup.taken(dn)) {
        this.next++;
        return dn;
      }
    }
    // The end of the range: one full scan for numbers freed behind the cursor.
    const used = new Set(this.lookup.all());
    for (let n = this.first; n <= this.last; n++) {
      const dn = this.dn(n);
      if (!used.has(dn)) {
        this.next = n + 1;
        return dn;
      }
    }
    return undefined;
  }
}
