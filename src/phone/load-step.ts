/**
 * The firmware-load step: the configuration names a load (`loadInformation`, or the model's
 * `loadInformationNNN` in the default file) other than the active one. The phone fetches
 * `<load>.loads` from its TFTP server (HTTP 6970 first, as for every file), checks its signature
 * against the firmware signer it trusts (on a real phone, a key in the image; here the
 * certificate `--firmware-cert` names), then every component the list names — size and SHA-256 —
 * writing each to the inactive bank. Only when all are there and verified does it switch banks
 * (on trial, banks.ts) and reboot into the new load. A failed, interrupted or forged download
 * leaves the active bank as it was.
 *
 * The list is ours (docs/firmware.md): `<file> <size> <sha256>` a line; Cisco's 88xx body is not
 * public.
 */
import { createHash, X509Certificate, verify as cryptoVerify } from 'node:crypto';
import { parseSignedFile, verifySignedFile } from '../wire/tlv.ts';
import type { FlowContext } from './flows/flow.ts';
import { stepTimer } from './provisioning.ts';

export type LoadOutcome = 'installed' | 'kept';

const MAX_COMPONENTS = 512;

interface Component {
  file: string;
  size: number;
  sha256: string;
}

function components(body: Uint8Array): Component[] | string {
  const lines = Buffer.from(body).toString('utf8').split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  if (lines.length === 0 || lines.length > MAX_COMPONENTS) return `${lines.length} components listed`;
  const out: Component[] = [];
  for (const l of lines) {
    const m = /^([A-Za-z0-9._/-]{1,255}) (\d{1,12}) ([0-9a-f]{64})$/.exec(l);
    if (!m || m[1]!.split('/').some((p) => p === '..' || p === '' || p === '.')) return `a line that is not "<file> <size> <sha256>": ${l.slice(0, 60)}`;
    out.push({ file: m[1]!, size: Number(m[2]), sha256: m[3]! });
  }
  return out;
}

export async function loadStep(ctx: FlowContext, wanted: string, server: string, signal: AbortSignal): Promise<LoadOutcome> {
  const { banks } = ctx;
  const elapsed = stepTimer(ctx.clock);
  const active = banks.activeLoad;
  const keep = (reason: string): LoadOutcome => {
    ctx.report({ step: 'load', state: 'fail', ms: elapsed(), message: `Load ${wanted} not installed: ${reason}; keeping ${active}`, wantedLoad: wanted, activeLoad: active, reason });
    return 'kept';
  };
  if (banks.hasFailed(wanted)) return keep('it failed its trial before');
  if (!ctx.firmwareCert) return keep('this phone has no firmware signer to check a load with');
  ctx.report({ step: 'load', state: 'start', ms: 0, message: `Downloading load ${wanted}`, wantedLoad: wanted, activeLoad: active, server });
  const list = await ctx.loadFetcher.fetch(server, `${wanted}.loads`, signal);
  if (list.kind !== 'found') return keep(`${wanted}.loads: ${list.detail}`);
  const parsed = parseSignedFile(list.data);
  if (!parsed.ok) return keep(`${wanted}.loads unreadable (${parsed.error.message})`);
  const signer = new X509Certificate(ctx.firmwareCert);
  if (parsed.value.header.filename !== `${wanted}.loads`) return keep(`its header names ${parsed.value.header.filename}`);
  if (!verifySignedFile(list.data, parsed.value.header, (d, data, sig) => cryptoVerify(d, data, signer.publicKey, sig))) return keep(`${wanted}.loads is not signed by ${signer.subject.replace(/\n/g, ', ')}`);
  const listed = components(parsed.value.body);
  if (typeof listed === 'string') return keep(`${wanted}.loads: ${listed}`);
  const bank = banks.inactiveBank;
  for (const c of listed) {
    if (signal.aborted) throw signal.reason;
    const r = await ctx.loadFetcher.fetch(server, c.file, signal);
    if (r.kind !== 'found') return keep(`${c.file}: ${r.detail}`);
    if (r.data.length !== c.size || createHash('sha256').update(r.data).digest('hex') !== c.sha256) return keep(`${c.file} is not the file the signed list names (size or SHA-256)`);
    await ctx.nvram.writeBytes(banks.componentName(bank, c.file), r.data);
    ctx.report({ step: 'load', state: 'progress', ms: elapsed(), message: `${c.file}: ${r.data.length} bytes, verified`, file: c.file, bytes: r.data.length });
  }
  if (signal.aborted) throw signal.reason;
  const target = banks.inactiveBank;
  await banks.switchTo(wanted);
  ctx.report({ step: 'load', state: 'done', ms: elapsed(), message: `Load ${wanted} installed in bank ${target}; rebooting on trial`, load: wanted, bank: target, files: listed.length });
  return 'installed';
}
