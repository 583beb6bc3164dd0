/**
 * Phones written straight into a companion's data folder before it starts, in one transaction:
 * the registrar's load tests and bench need thousands of known phones, and adding them one by
 * one through the configuration (a transaction and an fsync each) would take longer than the
 * load itself. MAC `macBase + i`, DN `dnBase + i`, model 8841.
 */
import { mkdir } from 'node:fs/promises';
import { CompanionDb } from '../../src/cm/db.ts';

export async function provisionPhones(data: string, sets: Array<{ count: number; macBase: bigint; dnBase: number; password?: string }>): Promise<void> {
  await mkdir(data, { recursive: true, mode: 0o700 });
  const db = new CompanionDb(data);
  try {
    const createdAt = new Date().toISOString();
    db.transaction(() => {
      for (const s of sets) {
        for (let i = 0; i < s.count; i++) {
          const mac = (s.macBase + BigInt(i)).toString(16).padStart(12, '0').toUpperCase();
          db.addPhone({ deviceName: `SEP${mac}`, mac, model: '8841', dn: String(s.dnBase + i), description: '', password: s.password ?? '', autoregistered: false, createdAt, versionStamp: `${createdAt}-bench` });
        }
      }
    });
  } finally {
    db.close();
  }
}

/** A SIPp injection file (`-inf`): one line per phone, `MAC;DN;` (MAC lower-case, as in +sip.instance). */
export function sippPhones(s: { count: number; macBase: bigint; dnBase: number }): string {
  const lines = ['SEQUENTIAL'];
  for (let i = 0; i < s.count; i++) lines.push(`${(s.macBase + BigInt(i)).toString(16).padStart(12, '0')};${s.dnBase + i};`);
  return lines.join('\n') + '\n';
}
