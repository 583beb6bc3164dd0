/**
 * The firmware-load step: the configuration names a load (`loadInformation`, or the model's
 * `loadInformationNNN` in the default file) other than the active one. The phone fetches
 * `<load>.loads` from its TFTP server (HTTP 6970 first, as for every file), checks its signature
 * against the firmware signer it trusts (on a real phone, a key in the image; here the
 * certificate `--firmware-cert` names), then every component the list names — size and SHA-256 —
 * writing each to the inactive bank. Only when all are there and verified does it switch banks
 * (on trial, banks.ts) and reboot into the new load. A failed, interrupted or forged download
 * leaves the active bank as it was; so does a load named while the active one is still on
 * trial (the inactive bank is its fallback).
 *
 * The list is ours (wire/load-list.ts): `<file> <size> <sha256>` a line, each file a path inside
 * the load (`lib/sepi/sepi.mjs`, `lib/node_modules/@serialport/…`); the server keeps the
 * components in a folder named after the load, beside its `.loads` (`sepi cm load add` puts
 * them there), so the phone asks for `<load>/<file>`. Cisco's 88xx body is not public.
 *
 * Where the files come from is the caller's (a `LoadSource`): the enterprise phone asks its TFTP
 * server (HTTP 6970 first); a Multiplatform phone the folder of its `Upgrade_Rule` URL
 * (mpp/upgrade.ts).
 *
 * A load that carries its Node runtime (`node-linux-<target>.tgz`) has the runtime's binary
 * unpacked into the bank once every component is verified, before the switch (bank-runtime.ts),
 * so that bank-exec.ts can run the bank's firmware on the Node it was built for.
 */
import { createHash, X509Certificate, verify as cryptoVerify } from 'node:crypto';
import { parseSignedFile, verifySignedFile } from '../wire/tlv.ts';
import { parseLoadList } from '../wire/load-list.ts';
import { RUNTIME_NODE, runtimePackage } from './bank-runtime.ts';
import type { FlowContext } from './flows/flow.ts';
import { stepTimer } from './provisioning.ts';
import type { FetchResult } from './provisioning-fetcher.ts';

export type LoadOutcome = 'installed' | 'kept';

/** A load component: a bundle, a runtime (tens of MiB), never a provisioning file's 2 MiB. */
export const MAX_LOAD_FILE_BYTES = 256 * 1024 * 1024;

/** Where a load's files are fetched from: `server` (an address) names it in the events. */
export interface LoadSource {
  server: string;
  /** `name` is `<load>.loads` or `<load>/<file>`, relative to the source. */
  fetch(name: string, signal: AbortSignal): Promise<FetchResult>;
}

/** Registered: a load on trial is the good one now (banks.ts), and the event says so once. */
export function registeredOnTrial(ctx: FlowContext): void {
  if (!ctx.banks.onTrial) return;
  const load = ctx.model.activeLoad;
  void ctx.banks.registered().then((was) => was && ctx.report({ step: 'load', state: 'progress', ms: 0, message: `Load ${load} registered: it stays`, trial: 'passed', load, activeLoad: load }));
}

/** The phone's TFTP server (HTTP 6970 first, as for every file): the enterprise phone's source. */
export const fromServer = (ctx: FlowContext, server: string): LoadSource => ({ server, fetch: (name, signal) => ctx.loadFetcher.fetch(server, name, signal) });

export async function loadStep(ctx: FlowContext, wanted: string, source: LoadSource, signal: AbortSignal): Promise<LoadOutcome> {
  const server = source.server;
  const { banks } = ctx;
  const elapsed = stepTimer(ctx.clock);
  const active = banks.activeLoad;
  const keep = (reason: string): LoadOutcome => {
    ctx.report({ step: 'load', state: 'fail', ms: elapsed(), message: `Load ${wanted} not installed: ${reason}; keeping ${active}`, wantedLoad: wanted, activeLoad: active, reason });
    return 'kept';
  };
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(wanted)) return keep('that is not a load name');
  if (banks.hasFailed(wanted)) return keep('it failed its trial before');
  if (banks.onTrial) return keep(`${active} is on trial until it registers (the other bank is its fallback)`);
  if (!ctx.firmwareCert) return keep('this phone has no firmware signer to check a load with');
  ctx.report({ step: 'load', state: 'start', ms: 0, message: `Downloading load ${wanted}`, wantedLoad: wanted, activeLoad: active, server });
  const list = await source.fetch(`${wanted}.loads`, signal);
  if (list.kind !== 'found') return keep(`${wanted}.loads: ${list.detail}`);
  const parsed = parseSignedFile(list.data);
  if (!parsed.ok) return keep(`${wanted}.loads unreadable (${parsed.error.message})`);
  const signer = new X509Certificate(ctx.firmwareCert);
  if (parsed.value.header.filename !== `${wanted}.loads`) return keep(`its header names ${parsed.value.header.filename}`);
  if (!verifySignedFile(list.data, parsed.value.header, (d, data, sig) => cryptoVerify(d, data, signer.publicKey, sig))) return keep(`${wanted}.loads is not signed by ${signer.subject.replace(/\n/g, ', ')}`);
  const listed = parseLoadList(parsed.value.body);
  if (typeof listed === 'string') return keep(`${wanted}.loads: ${listed}`);
  const pkg = runtimePackage(listed);
  const runtimeDir = RUNTIME_NODE.split('/')[0]!;
  // The runtime is unpacked there: a listed file of that name would be written over.
  if (pkg && listed.some((c) => c.file === runtimeDir || c.file.startsWith(`${runtimeDir}/`))) return keep(`its list names files under ${runtimeDir}/, where its Node runtime goes`);
  const bank = await banks.beginInstall();
  for (const c of listed) {
    if (signal.aborted) throw signal.reason;
    const r = await source.fetch(`${wanted}/${c.file}`, signal);
    if (r.kind !== 'found') return keep(`${wanted}/${c.file}: ${r.detail}`);
    if (r.data.length !== c.size || createHash('sha256').update(r.data).digest('hex') !== c.sha256) return keep(`${c.file} is not the file the signed list names (size or SHA-256)`);
    try {
      await banks.writeComponent(bank, c.file, r.data);
    } catch (e) {
      return keep(`${c.file} not written to bank ${bank}: ${(e as Error).message}`);
    }
    ctx.report({ step: 'load', state: 'progress', ms: elapsed(), message: `${c.file}: ${r.data.length} bytes, verified`, file: c.file, bytes: r.data.length });
  }
  if (signal.aborted) throw signal.reason;
  let unpacked: Awaited<ReturnType<typeof banks.unpackRuntime>>;
  if (pkg) {
    try {
      unpacked = await banks.unpackRuntime(bank, pkg.file, signal);
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      return keep(`its Node runtime ${pkg.file} not unpacked: ${(e as Error).message}`);
    }
    if (unpacked) ctx.report({ step: 'load', state: 'progress', ms: elapsed(), message: `${pkg.file}: Node for ${pkg.target} unpacked, ${unpacked.size} bytes`, file: unpacked.file, bytes: unpacked.size });
  }
  const target = bank;
  await banks.finishInstall(wanted, unpacked ? [...listed, unpacked] : listed, unpacked && pkg ? { target: pkg.target, package: pkg.file } : undefined);
  ctx.report({ step: 'load', state: 'done', ms: elapsed(), message: `Load ${wanted} installed in bank ${target}; rebooting on trial`, load: wanted, bank: target, files: listed.length });
  return 'installed';
}
