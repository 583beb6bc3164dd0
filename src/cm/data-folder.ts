/**
 * The companion's data folder (docs/companion.md):
 *
 *   companion.sqlite (+ -wal, -shm)   phones, leases, registrations, settings (db.ts)
 *   companion.pid                     one server per folder
 *   admin.sock, admin.token           the admin API (admin/server.ts)
 *   pki/                              keys and certificates (pki.ts)
 *   tftp-root/                        empty: files are generated in memory
 *
 * `companion.pid`, created exclusively, names the owner. A file left by a dead owner (power
 * cut, kill -9) is taken over; one whose owner lives is refused.
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Makes the folder ready and takes it; resolves to the function that gives it back. */
export async function openDataFolder(dataDir: string): Promise<() => Promise<void>> {
  await mkdir(join(dataDir, 'tftp-root'), { recursive: true, mode: 0o700 });
  const path = join(dataDir, 'companion.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return () => rm(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (pid > 0 && pid !== process.pid && alive(pid)) throw new Error(`another companion (pid ${pid}) is serving ${dataDir}`);
      await rm(path, { force: true });
    }
  }
  throw new Error(`cannot lock ${path}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
