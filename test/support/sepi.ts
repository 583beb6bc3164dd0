/**
 * Running sepi itself in a lab: the companion (`sepi cm serve`) and phones (`sepi phone`) as
 * real processes through the command line contract, exactly as a lab engineer would.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Lab } from './lab.ts';
import { checkPhoneLine } from './phone-schema.ts';
import type { Proc } from './proc.ts';

const run = promisify(execFile);
export const ROOT = join(import.meta.dirname, '..', '..');
export const SEPI = join(ROOT, 'bin', 'sepi');

export const tempDir = (label: string) => mkdtemp(join(tmpdir(), `sepi-${label}-`));

/** Temporary folders a suite makes and removes at the end. */
export class TempDirs {
  private readonly made: string[] = [];

  async make(label: string): Promise<string> {
    const d = await tempDir(label);
    this.made.push(d);
    return d;
  }

  async removeAll(): Promise<void> {
    for (const d of this.made.splice(0)) await rm(d, { recursive: true, force: true });
  }
}

export async function startCompanion(lab: Lab, data: string, config?: Record<string, unknown>, opts: { ns?: string; iface?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Proc> {
  const args = ['cm', 'serve', '--data', data];
  if (opts.iface !== '') args.push('--iface', opts.iface ?? 'br0');
  if (config) {
    const file = join(data, 'test-config.json');
    await writeFile(file, JSON.stringify(config, null, 2));
    args.push('--config', file);
  }
  const p = lab.spawn('companion', opts.ns ?? lab.server, SEPI, args, opts.env ?? {});
  await p.waitForLine(/companion serving/, 30_000);
  return p;
}

/** `sepi cm --data DIR …` from outside the namespace (the admin socket is a file). */
export async function cm(data: string, ...args: string[]): Promise<string> {
  try {
    const { stdout } = await run(SEPI, ['cm', '--data', data, ...args]);
    return stdout;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number };
    throw new Error(`sepi cm ${args.join(' ')} failed (${err.code}): ${err.stderr ?? ''}${err.stdout ?? ''}`);
  }
}

export async function cmJson<T>(data: string, ...args: string[]): Promise<T> {
  return JSON.parse(await cm(data, ...args, '--json')) as T;
}

export function startPhone(lab: Lab, ns: string, mac: string, nvram: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Proc {
  const args = ['phone', '--iface', 'eth0', '--mac', mac, '--model', '8841', '--nvram', nvram, '--json-events', '--json-screens', ...extra];
  const phone = lab.spawn(`phone-${mac.slice(-5)}`, ns, SEPI, args, env, extra.includes('--keys'));
  phone.lineCheck = checkPhoneLine;
  return phone;
}

export const isRegistered = (kind?: 'device' | 'default') => (e: Record<string, unknown>) =>
  e['step'] === 'register' && e['state'] === 'done' && (kind === undefined || e['configKind'] === kind);

/** A phone's call event of one kind (`dialing`, `connected`, `ended`, `prompt` …) in a JSON stream. */
export const isCall = (kind: string) => (e: Record<string, unknown>) => e['step'] === 'call' && e['call'] === kind;
