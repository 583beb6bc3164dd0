/**
 * Child processes for tests: every line of output is kept and can be waited for; stop() ends
 * the process (SIGTERM, then SIGKILL) and waits for it. Waits have generous deadlines only so a
 * broken build fails instead of hanging; no test asserts how long anything took.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export class Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly errLines: string[] = [];
  private waiters: Array<() => void> = [];
  exitCode: number | null | undefined;
  private readonly exited: Promise<void>;

  constructor(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, stdin = false) {
    this.name = name;
    this.child = spawn(cmd, args, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...env } });
    const reader = (into: string[]) => {
      let buf = '';
      return (d: Buffer) => {
        buf += d.toString('utf8');
        const parts = buf.split('\n');
        buf = parts.pop() ?? '';
        into.push(...parts);
        if (process.env['SEPI_TEST_VERBOSE']) for (const p of parts) process.stderr.write(`[${this.name}] ${p}\n`);
        this.wake();
      };
    };
    this.child.stdout!.on('data', reader(this.lines));
    this.child.stderr!.on('data', reader(this.errLines));
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code) => {
        this.exitCode = code;
        this.wake();
        resolve();
      });
      this.child.on('error', (e) => {
        this.errLines.push(`spawn failed: ${e.message}`);
        this.exitCode = -1;
        this.wake();
        resolve();
      });
    });
  }

  /** Writes a line to the program's stdin (when started with stdin). */
  send(line: string): void {
    this.child.stdin?.write(line + '\n');
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * Checks every JSON line read through events(): set by startPhone to the published schema of
   * the phone's stream, so a line that breaks the contract fails the test that read it.
   */
  lineCheck: ((v: unknown) => string | undefined) | undefined;
  private parsed: Array<Record<string, unknown>> = [];
  private parsedLines = 0;

  /** JSON objects printed one a line (the --json-events stream), each checked by lineCheck. */
  events(): Array<Record<string, unknown>> {
    for (; this.parsedLines < this.lines.length; this.parsedLines++) {
      const l = this.lines[this.parsedLines]!;
      if (!l.startsWith('{')) continue;
      let v: Record<string, unknown>;
      try {
        v = JSON.parse(l) as Record<string, unknown>;
      } catch {
        continue; // a line cut by a kill
      }
      const bad = this.lineCheck?.(v);
      if (bad) throw new Error(`${this.name} printed a line outside its published schema: ${bad}
  ${l}`);
      this.parsed.push(v);
    }
    // A copy: callers keep one list to compare with a later one.
    return this.parsed.slice();
  }

  /** Waits until predicate(lines) is true; rejects with the output so far on deadline or exit. */
  async waitFor<T>(what: string, predicate: () => T | undefined | false, deadlineMs = 60_000): Promise<T> {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const v = predicate();
      if (v) return v;
      if (this.exitCode !== undefined) throw new Error(`${this.name} exited (${this.exitCode}) before ${what}\n${this.tail()}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no ${what} within ${deadlineMs / 1000} s\n${this.tail()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  waitForLine(re: RegExp, deadlineMs?: number): Promise<string> {
    return this.waitFor(`a line matching ${re}`, () => this.lines.find((l) => re.test(l)) ?? this.errLines.find((l) => re.test(l)), deadlineMs);
  }

  waitForEvent(what: string, match: (e: Record<string, unknown>) => boolean, deadlineMs?: number, after = 0): Promise<Record<string, unknown>> {
    return this.waitFor(what, () => this.events().slice(after).find(match), deadlineMs);
  }

  /** Waits for the program to end; past the deadline it is killed, so a hung program fails its test instead of hanging the run. */
  async exit(deadlineMs = 60_000): Promise<number | null> {
    await this.waitFor('exit', () => this.exitCode !== undefined || undefined, deadlineMs).catch(() => this.child.kill('SIGKILL'));
    await this.exited;
    return this.exitCode ?? null;
  }

  tail(n = 30): string {
    return [...this.lines.slice(-n).map((l) => `  out| ${l}`), ...this.errLines.slice(-n).map((l) => `  err| ${l}`)].join('\n');
  }

  async stop(): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }

  kill(): Promise<void> {
    if (this.exitCode === undefined) this.child.kill('SIGKILL');
    return this.exited;
  }
}

export async function freeUdpPort(): Promise<number> {
  const dgram = await import('node:dgram');
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function freeTcpPort(): Promise<number> {
  const net = await import('node:net');
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export const which = async (cmd: string): Promise<boolean> => {
  const { access } = await import('node:fs/promises');
  for (const dir of (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    try {
      await access(`${dir}/${cmd}`);
      return true;
    } catch {
      // next
    }
  }
  return false;
};

/** Fails the test with a clear message when a peer program is not installed. */
export async function needs(...cmds: string[]): Promise<void> {
  for (const c of cmds) if (!(await which(c))) throw new Error(`${c} is not installed: run "make peers" (as root) or install it; this test needs a real ${c}`);
}
