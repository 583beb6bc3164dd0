/**
 * `sepi factory init [--dir DIR]` makes the lab's manufacturing CA (once; again is a no-op) and
 * `sepi factory export [--dir DIR]` prints its certificate, for `sepi cm trust
 * import-manufacturing` on a companion elsewhere (docs/activation.md).
 */
import { SystemClock } from '../common/clock.ts';
import { CA_CERT_FILE, defaultFactoryDir } from '../factory/factory-files.ts';
import { ManufacturingCa } from '../factory/manufacturing-ca.ts';
import { UsageError, parse } from './args.ts';

export async function factoryCommand(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, { dir: { type: 'string' } }, true);
  const dir = v.dir ?? defaultFactoryDir();
  switch (p[0]) {
    case 'init': {
      const { ca, made } = await ManufacturingCa.open(dir, new SystemClock().now());
      const subject = ca.certPem && new (await import('node:crypto')).X509Certificate(ca.certPem).subject.replace(/\n/g, ', ');
      process.stdout.write(`${made ? 'made' : 'already there:'} ${subject} in ${dir}\nphones on this machine get their MIC from it; a companion elsewhere takes ${CA_CERT_FILE} with: sepi cm --data DIR trust import-manufacturing ${CA_CERT_FILE}\n`);
      return 0;
    }
    case 'export': {
      const ca = await ManufacturingCa.load(dir);
      if (!ca) {
        process.stderr.write(`sepi factory: no factory in ${dir} (sepi factory init)\n`);
        return 1;
      }
      process.stdout.write(ca.certPem);
      return 0;
    }
  }
  throw new UsageError('sepi factory init|export [--dir DIR]');
}
