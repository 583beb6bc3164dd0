/**
 * The companion's data folder (docs/companion.md):
 *
 *   companion.sqlite (+ -wal, -shm)   phones, leases, registrations, settings (db.ts)
 *   secrets.key                       the key line passwords are sealed with (secrets.ts)
 *   companion.pid                     one server per folder
 *   admin.sock, admin.token           the admin API (admin/server.ts)
 *   pki/                              keys and certificates (pki.ts)
 *   tftp-root/                        empty: files are generated in memory
 *
 * The folder holds line passwords and private keys, so it is the companion's alone: the folder
 * and every folder in it 0700, every file 0600, whatever existed before (an admin's `mkdir`
 * with the default umask, a copy from elsewhere). The database file is made 0600 before SQLite
 * opens it, since SQLite gives its -wal and -shm files the database file's mode.
 *
 * `companion.pid`, created exclusively, names the owner by pid *and* the kernel's start time of
 * that process: after a power cut the pid may belong to some other process by now, which must
 * not keep the companion from starting.
 */
import { TFTP_ROOT } from './tftp-root.ts';
import { chmod, lstat, mkdir, open, readFile, readdir, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DATABASE_FILE = 'companion.sqlite';

/** Makes the folder ready, private and taken; resolves to the function that gives it back. */
export async function openDataFolder(dataDir: string): Promise<() => Promise<void>> {
  await mkdir(join(dataDir, TFTP_ROOT), { recursive: true, mode: 0o700 });
  await makePrivate(dataDir);
  const db = await open(join(dataDir, DATABASE_FILE), 'a', 0o600);
  await db.close();
  const path = join(dataDir, 'companion.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid} ${startTime(process.pid) ?? ''}\n`);
      await fh.close();
      return () => rm(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const [pidText, started] = (await readFile(path, 'utf8').catch(() => '')).trim().split(/\s+/);
      const pid = Number(pidText);
      if (pid > 0 && pid !== process.pid && sameProcess(pid, started)) throw new Error(`another companion (pid ${pid}) is serving ${dataDir}`);
      await rm(path, { force: true });
    }
  }
  throw new Error(`cannot lock ${path}`);
}

/**
 * 0700 for the folder and its folders, 0600 for its files. Symbolic links are left alone and
 * not followed: a link planted in the folder must not turn this into a chmod of something else.
 */
export async function makePrivate(dir: string): Promise<void> {
  await chmod(dir, 0o700);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const st = await lstat(path).catch(() => undefined);
    if (!st || st.isSymbolicLink()) continue;
    if (st.isDirectory()) await makePrivate(path);
    else if ((st.mode & 0o777) !== 0o600) await chmod(path, 0o600).catch(() => {});
  }
}

/** The kernel's start time of a process (clock ticks since boot, /proc/PID/stat field 22). */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself hold spaces or ")".
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * The pid is alive and is still the process that wrote the file: the same start time, or — for
 * a file from a release that wrote no start time — a process serving a companion.
 */
function sameProcess(pid: number, recordedStart: string | undefined): boolean {
  if (!alive(pid)) return false;
  const now = startTime(pid);
  if (now === undefined) return true; // no /proc: cannot tell, so do not take over
  if (recordedStart) return now === recordedStart;
  try {
    return /\0serve\0/.test(readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
