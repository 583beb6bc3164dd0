/**
 * A load's own Node runtime (issue 11): `make firmware` puts the npm registry's
 * `node-linux-<target>` package in the load as `node-linux-<target>.tgz`, a gzip'd tar whose
 * files are under `package/` and whose node binary, self-contained, is `package/bin/node`.
 * When the load is installed, the binary is unpacked into the bank as `runtime/bin/node`
 * (mode 0755); the bank's signed files are checked before it, so it comes from the package the
 * load was signed with, and its own size and SHA-256, taken here, join the bank's file list
 * (banks.ts), checked at every boot like the others. Then bank-exec.ts runs the bank's firmware
 * on it when it is for this machine's CPU.
 *
 * The write survives a power cut as a component's does: a temporary name, fsynced, renamed,
 * the folder fsynced; and until the banks record lists it (finishInstall) nothing runs it.
 * The rest of the package (headers, docs) is not needed to run and stays in the tgz.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { TarReader } from '../wire/tar.ts';

/** Where the runtime's binary sits in its bank, among the bank's files. */
export const RUNTIME_NODE = 'runtime/bin/node';
/** The binary inside the package, as `npm pack` lays it out. */
const PACKAGE_NODE = 'package/bin/node';
/** Node's binary is about 120 MiB, its package as a tar about 190 MiB: room to grow, not to be flooded. */
const MAX_BINARY_BYTES = 512 * 1024 * 1024;
const MAX_TAR_BYTES = 1024 * 1024 * 1024;

/** The runtime package a load carries: `node-linux-<target>.tgz` at its top. */
export function runtimePackage(files: Array<{ file: string }>, arch: string = process.arch): { file: string; target: string } | undefined {
  const found = files.flatMap((f) => {
    const m = /^node-linux-([a-z0-9]{2,12})\.tgz$/.exec(f.file);
    return m ? [{ file: f.file, target: m[1]! }] : [];
  });
  // A load for several CPUs: the one for this machine.
  return found.find((r) => r.target === arch) ?? found[0];
}

/**
 * Unpacks the node binary of the package at `tgz` to `out`, atomically, mode 0755; its size and
 * SHA-256. Rejects (and leaves nothing at `out`) for a package that is not a tar we read, has no
 * `package/bin/node`, or is beyond the limits.
 */
export async function unpackRuntime(tgz: string, out: string, signal?: AbortSignal): Promise<{ size: number; sha256: string }> {
  await mkdir(dirname(out), { recursive: true, mode: 0o700 });
  const tmp = `${out}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fh = await open(tmp, 'w', 0o755);
  let kept = false;
  try {
    const hash = createHash('sha256');
    const tar = new TarReader({ maxFileBytes: MAX_BINARY_BYTES, maxEntries: 100_000 });
    let inNode = false;
    let found = false;
    let size = 0;
    let total = 0;
    // A stream, not gunzipSync: the tar is far larger than a Pi should hold at once; its size is
    // counted instead of maxOutputLength. pipeline, not .pipe(): an abort (a reboot, power-off)
    // or a throw below must end and close every stage — with .pipe() the read stream's abort
    // never reached the gunzip stream, and the loop waited forever holding the file open.
    await pipeline(createReadStream(tgz), createGunzip(), async (chunks: AsyncIterable<Buffer>) => {
      for await (const chunk of chunks) {
        total += chunk.length;
        if (total > MAX_TAR_BYTES) throw new RangeError(`more than ${MAX_TAR_BYTES} bytes unpacked`);
        for (const p of tar.push(chunk)) {
          if (p.kind === 'file') {
            inNode = p.file.name === PACKAGE_NODE;
            if (inNode && found) throw new RangeError(`${PACKAGE_NODE} twice in the package`);
            found ||= inNode;
          } else if (inNode) {
            hash.update(p.bytes);
            size += p.bytes.length;
            await fh.write(p.bytes);
          }
        }
      }
    }, ...(signal ? [{ signal }] : []));
    tar.end();
    if (!found) throw new RangeError(`no ${PACKAGE_NODE} in the package`);
    // An umask may have taken the execute bits away.
    await fh.chmod(0o755);
    await fh.sync();
    await fh.close();
    await rename(tmp, out);
    kept = true;
    const dh = await open(dirname(out), 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
    return { size, sha256: hash.digest('hex') };
  } finally {
    if (!kept) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
    }
  }
}
