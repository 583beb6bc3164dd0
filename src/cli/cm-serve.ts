/** `sepi cm serve`: flags and the configuration file in, the companion run until a signal. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { LineBatch } from '../common/line-batch.ts';
import { printable } from '../common/printable.ts';
import { expectOk } from '../cm/admin/outcome.ts';
import { Companion } from '../cm/companion.ts';
import { ConfigError, buildConfig, interfaceAddress } from '../cm/config.ts';
import { UsageError, parse, required } from './args.ts';

export async function serve(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, { data: { type: 'string' }, iface: { type: 'string' }, config: { type: 'string' }, 'web-port': { type: 'string' } });
  const data = resolve(required(v.data, '--data'));
  let raw: unknown = {};
  if (v.config) {
    try {
      raw = JSON.parse(await readFile(v.config, 'utf8'));
    } catch (e) {
      throw new UsageError(`--config ${v.config}: ${(e as Error).message}`);
    }
  }
  if (v['web-port'] !== undefined) {
    const port = Number(v['web-port']);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--web-port must be a port number');
    const r = raw as Record<string, unknown>;
    raw = { ...r, web: { ...(r['web'] as object | undefined), port } };
  }
  let config;
  try {
    const iface = v.iface ? interfaceAddress(v.iface) : undefined;
    if (!iface && !(raw as { address?: string }).address) throw new UsageError('--iface is required (or an address in the config file)');
    config = buildConfig(raw, iface ?? { address: (raw as { address: string }).address, prefix: Number((raw as { prefix?: number }).prefix ?? 24) });
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`config: ${e.message}`);
    throw e;
  }
  const stamp = () => new Date().toISOString().slice(11, 23);
  const out = new LineBatch((text) => process.stdout.write(text));
  process.once('exit', () => out.flush());
  const companion = new Companion({ dataDir: data, config, iface: v.iface, log: (line) => out.line(`${stamp()} ${printable(line)}`) });
  await companion.start();
  const s = expectOk(companion.status.get());
  out.line(`${stamp()} companion serving ${config.address}: ${Object.entries(s.services).filter(([, x]) => x).map(([k]) => k).join(', ')}; admin API at ${data}/admin.sock`);
  return new Promise<number>((resolveExit) => {
    const stop = (code: number) => () => {
      void companion.stop().finally(() => resolveExit(code));
    };
    process.once('SIGINT', stop(0));
    process.once('SIGTERM', stop(0));
  });
}
