/**
 * How a `sepi cm` command works whether or not a companion serves the data folder: through the
 * running companion's admin API first; when nothing answers its socket, on the folder itself —
 * locked, so a companion starting meanwhile waits — with a line on stderr saying so.
 */
import { existsSync } from 'node:fs';
import { AdminClientError } from '../cm/admin-client.ts';
import type { CompanionDb } from '../cm/db.ts';

export async function onCompanionOrFolder<T>(data: string, viaApi: () => Promise<T>, onFolder: (db: CompanionDb) => Promise<T>, note: string): Promise<T> {
  try {
    return await viaApi();
  } catch (e) {
    // Status 0: no companion answered; anything else is its answer, and stands.
    if (!(e instanceof AdminClientError) || e.status !== 0) throw e;
  }
  if (!existsSync(data)) throw new AdminClientError(0, `no data folder ${data}`);
  const [{ openDataFolder }, { CompanionDb }] = await Promise.all([import('../cm/data-folder.ts'), import('../cm/db.ts')]);
  let release: () => Promise<void>;
  try {
    release = await openDataFolder(data);
  } catch (e) {
    throw new AdminClientError(0, (e as Error).message);
  }
  try {
    const db = new CompanionDb(data);
    try {
      process.stderr.write(`sepi cm: no companion is serving ${data}: ${note}\n`);
      return await onFolder(db);
    } finally {
      db.close();
    }
  } finally {
    await release();
  }
}
