/**
 * Lines written in batches: every line of one turn of the event loop goes out in one write.
 *
 * The companion logs a line per file, lease and registration, and its log is a pipe or a file:
 * a synchronous write(2) each. In a boot storm of thousands of phones those writes cost the
 * companion more CPU than the requests they describe. Batched, a storm's hundred lines in a
 * turn are one write. A line waits at most until the loop comes round (setImmediate), and
 * `flush()` runs at exit, so nothing is held back from a process that stops; a kill -9 can
 * lose the lines of the turn it lands in, which a log (not a record) may.
 */
export class LineBatch {
  private readonly write: (text: string) => void;
  private readonly later: (run: () => void) => void;
  private pending: string[] = [];
  private bytes = 0;
  private scheduled = false;

  /** Past this, a batch goes out at once rather than growing without bound within one turn. */
  static readonly MAX_BYTES = 256 * 1024;

  constructor(write: (text: string) => void, later: (run: () => void) => void = (run) => void setImmediate(run)) {
    this.write = write;
    this.later = later;
  }

  /** Queues one line (its newline added). */
  line(text: string): void {
    this.pending.push(text);
    this.bytes += text.length + 1;
    if (this.bytes >= LineBatch.MAX_BYTES) {
      this.flush();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      this.later(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Writes whatever is queued now. */
  flush(): void {
    if (!this.pending.length) return;
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    this.bytes = 0;
    this.write(text);
  }
}
