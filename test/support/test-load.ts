/**
 * A small signed load for the firmware tests: a `.loads` list (ours: `<file> <size> <sha256>` a
 * line, TLV-signed by `signer`) and its components in a folder named after the load, as `sepi cm
 * load add` lays them out in a TFTP root. `forge` changes a component after it was listed.
 */
import { createHash, randomBytes, sign as cryptoSign } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildSignedFile } from '../../src/wire/tlv.ts';
import { certFacts } from '../../src/wire/x509.ts';
import type { makeCert } from './certs.ts';

export async function publishLoad(root: string, load: string, signer: ReturnType<typeof makeCert>, o: { forge?: boolean } = {}): Promise<void> {
  await mkdir(join(root, load, 'lib'), { recursive: true });
  const files: Array<[string, Buffer]> = [[`lib/${load}.mjs`, randomBytes(200_000)], ['board.txt', Buffer.from('pi4-st7735r')]];
  const body = files.map(([f, d]) => `${f} ${d.length} ${createHash('sha256').update(d).digest('hex')}`).join('\r\n') + '\r\n';
  const f = certFacts(signer.der);
  if (!f.ok) throw f.error;
  const loads = buildSignedFile({ version: [1, 1], digest: 'sha256', filename: `${load}.loads`, signer: { name: f.value.subject, serial: f.value.serial, issuer: f.value.issuer, modulusBytes: f.value.modulusBytes }, body: Buffer.from(body), sign: (d, data) => cryptoSign(d, data, signer.privateKey) });
  await writeFile(join(root, `${load}.loads`), loads);
  for (const [name, data] of files) await writeFile(join(root, load, name), o.forge && name === 'board.txt' ? Buffer.from('something else') : data);
}
