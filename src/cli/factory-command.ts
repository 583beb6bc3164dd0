/**
 * `sepi factory init [--dir DIR]` makes the lab's manufacturing CA (once; again is a no-op) and
 * `sepi factory export [--dir DIR]` prints its certificate, for `sepi cm trust
 * import-manufacturing` on a companion elsewhere, and `sepi factory mic --mac MAC --model 8841
 * --nvram DIR` gives a phone its MIC at flashing time, in the NVRAM folder the image carries
 * (docs/activation.md).
 */
import { SystemClock } from '../common/clock.ts';
import { CA_CERT_FILE, defaultFactoryDir } from '../factory/factory-files.ts';
import { ManufacturingCa } from '../factory/manufacturing-ca.ts';
import { X509Certificate } from 'node:crypto';
import { ensureMic, readMic } from '../phone/mic.ts';
import { FileNvram } from '../phone/nvram.ts';
import { MacAddress } from '../wire/mac.ts';
import { PHONE_MODELS, modelByName } from '../wire/models.ts';
import { UsageError, parse, required } from './args.ts';

export async function factoryCommand(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, { dir: { type: 'string' }, mac: { type: 'string' }, model: { type: 'string' }, nvram: { type: 'string' } }, true);
  const dir = v.dir ?? defaultFactoryDir();
  switch (p[0]) {
    case 'init': {
      const { ca, made } = await ManufacturingCa.open(dir, new SystemClock().now());
      const subject = new X509Certificate(ca.certPem).subject.replace(/\n/g, ', ');
      process.stdout.write(`${made ? 'made' : 'already there:'} ${subject} in ${dir}\nphones on this machine get their MIC from it; a companion elsewhere takes ${CA_CERT_FILE} with: sepi cm --data DIR trust import-manufacturing ${CA_CERT_FILE}\n`);
      return 0;
    }
    case 'mic': {
      const mac = MacAddress.parse(required(v.mac, '--mac'));
      if (!mac) throw new UsageError('--mac must be a MAC address');
      const model = modelByName(v.model ?? '8841');
      if (!model) throw new UsageError(`--model must be one of ${[...PHONE_MODELS.keys()].join(', ')}`);
      const { ca } = await ManufacturingCa.open(dir, Date.now());
      const nvram = new FileNvram(required(v.nvram, '--nvram'));
      const had = await readMic(nvram);
      const mic = await ensureMic(nvram, ca, { model: model.name, mac: mac.hex, now: Date.now() });
      const cert = new X509Certificate(mic!.certPem);
      process.stdout.write(`${had ? 'already has' : 'wrote'} a MIC in ${v.nvram}: ${cert.subject.replace(/\n/g, ', ')}\n`);
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
  throw new UsageError('sepi factory init|export [--dir DIR] | mic --mac MAC --model 8841 --nvram DIR');
}
