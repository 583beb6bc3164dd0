/**
 * The usecallmanager.nz peers in test/peers/usecallmanager: capfd (a CAPF server), capfc (a CAPF
 * client, the phone's side) and enccnf (builds and opens TFTP Encrypted Config files), unmodified
 * third-party programs (GPL-2, see the README there) that the tests run as separate processes to
 * hold our wire formats against an implementation nobody here wrote. Never imported by sepi.
 *
 * They always run on Debian's /usr/bin/python3 with its python3-cryptography and python3-lxml
 * ("make peers" installs them), in isolated mode (-I): a pyenv python3 first on PATH, PYTHONPATH
 * or ~/.local packages cannot change what they run on. A non-zero exit is a result, not an error.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Proc } from './proc.ts';

export const PYTHON = '/usr/bin/python3';
export const UCM_PEERS_DIR = join(import.meta.dirname, '..', 'peers', 'usecallmanager');
const script = (name: 'capfd' | 'capfc' | 'enccnf') => join(UCM_PEERS_DIR, name);

let missing: { message: string | undefined } | undefined;

/** Undefined when Debian's python3 can run the peers, else what to install (checked once). */
export function ucmPeersMissing(): string | undefined {
  if (!missing) {
    const r = spawnSync(PYTHON, ['-I', '-c', 'import cryptography, lxml'], { encoding: 'utf8', timeout: 30_000 });
    const why = r.error ? `${PYTHON}: ${r.error.message}` : r.status !== 0 ? (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`) : undefined;
    missing = { message: why && `the usecallmanager peers need Debian's ${PYTHON} with python3-cryptography and python3-lxml (${why}): run "make peers" as root, or apt-get install python3 python3-cryptography python3-lxml` };
  }
  return missing.message;
}

export interface PeerResult {
  /** The exit code; null when killed at the deadline (stderr then says so), -1 when it could not start. */
  code: number | null;
  stdout: string;
  stderr: string;
}

function runPeer(name: 'capfc' | 'enccnf', args: string[], cwd: string | undefined, deadlineMs: number): Promise<PeerResult> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, ['-I', '-u', script(name), ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: deadlineMs, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', (e) => resolve({ code: -1, stdout, stderr: `${stderr}spawn failed: ${e.message}\n` }));
    child.on('close', (code, signal) => resolve({ code, stdout, stderr: signal ? `${stderr}${name} killed (${signal}) after ${deadlineMs / 1000} s\n` : stderr }));
  });
}

// ---- capfd's database ----

export type CapfdOperation = 'install' | 'fetch' | 'delete' | 'none';
/**
 * capfd checks the password for 'password' and the LSC (signed with it, issued by the issuer or a
 * --verify certificate) for 'certificate'; any other value, capfctl's default 'no password' among
 * them, lets the device in with nothing (the null string).
 */
export type CapfdAuthentication = 'password' | 'certificate' | 'no password';
export type CapfdCurve = 'secp256r1' | 'secp384r1' | 'secp521r1';

export interface CapfdDevice {
  deviceName: string;
  operation: CapfdOperation;
  /** Default 'no password', as capfctl. */
  authentication?: CapfdAuthentication;
  password?: string;
  /** RSA key size for install; default 2048 unless curveName is set (capfctl's rule). */
  keySize?: number;
  curveName?: CapfdCurve;
}

/** capfctl's table, as capfctl creates it. */
const CREATE_DEVICES =
  'CREATE TABLE devices (device_name TEXT PRIMARY KEY, operation TEXT NOT NULL, ' +
  'authentication TEXT, password TEXT, key_size INTEGER, curve_name TEXT, certificate TEXT, ' +
  'serial_number TEXT, not_valid_before TEXT, not_valid_after TEXT) WITHOUT ROWID';

/**
 * Creates (or adds to) capfd's sqlite database `dir`/capfd.sqlite3 with capfctl's schema, one row
 * a device as capfctl would schedule it (a device already there is overwritten); returns its path.
 */
export async function capfdDatabase(dir: string, devices: CapfdDevice[]): Promise<string> {
  const path = join(dir, 'capfd.sqlite3');
  const db = new DatabaseSync(path);
  try {
    if (!db.prepare('SELECT name FROM sqlite_master WHERE name = ?').get('devices')) db.exec(CREATE_DEVICES);
    const put = db.prepare(
      'INSERT INTO devices (device_name, operation, authentication, password, key_size, curve_name) VALUES (?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (device_name) DO UPDATE SET operation = excluded.operation, authentication = excluded.authentication, ' +
        'password = excluded.password, key_size = excluded.key_size, curve_name = excluded.curve_name',
    );
    for (const d of devices) {
      // With neither a key size nor a curve capfd's install asks for no key and hangs: capfctl never writes that.
      const keySize = d.curveName ? (d.keySize ?? null) : (d.keySize ?? 2048);
      put.run(d.deviceName, d.operation, d.authentication ?? 'no password', d.password ?? null, keySize, d.curveName ?? null);
    }
  } finally {
    db.close();
  }
  return path;
}

export interface CapfdRow {
  deviceName: string;
  operation: string;
  authentication: string | null;
  /** The PEM capfd stored after an install or a fetch (it writes the column as bytes). */
  certificate: string | null;
  serialNumber: string | null;
  notValidBefore: string | null;
  notValidAfter: string | null;
}

/** The devices table as capfd left it (after an install or fetch: operation 'none' and the certificate). */
export function capfdDevices(dbPath: string): CapfdRow[] {
  const db = new DatabaseSync(dbPath, { readOnly: true });
  try {
    const rows = db.prepare('SELECT device_name, operation, authentication, certificate, serial_number, not_valid_before, not_valid_after FROM devices ORDER BY device_name').all();
    const text = (v: unknown) => (v == null ? null : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : String(v));
    return rows.map((r) => ({
      deviceName: String(r['device_name']),
      operation: String(r['operation']),
      authentication: text(r['authentication']),
      certificate: text(r['certificate']),
      serialNumber: text(r['serial_number']),
      notValidBefore: text(r['not_valid_before']),
      notValidAfter: text(r['not_valid_after']),
    }));
  } finally {
    db.close();
  }
}

// ---- capfd ----

export interface CapfdOptions {
  dbPath: string;
  /** Where capfd writes DEVICE-NAME.pem for each certificate it issues or fetches. */
  certsDir: string;
  /** capfd's TLS certificate and key, one PEM file (-A); also the issuer unless issuerPem is given. */
  capfPem: string;
  /** TCP port; capfd always binds 0.0.0.0. */
  port: number;
  /** Certificate and key that sign the LSCs (-i). */
  issuerPem?: string;
  /** More certificates an LSC presented for 'certificate' authentication may be issued by (-v each). */
  verifyPems?: string[];
  /** Validity of issued certificates (-d, default 365). */
  days?: number;
  /** Socket timeout in seconds (-t, default 10). */
  timeoutSecs?: number;
}

export interface Capfd {
  /** SIGTERM (capfd exits 0), SIGKILL after 5 s. */
  stop(): Promise<void>;
  /** Everything capfd logged so far, one line each ("THREAD message"). */
  output(): string;
  /** Waits for a log line, e.g. /Result: Installed certificate/ (logged before capfc is told). */
  waitForLine(re: RegExp, deadlineMs?: number): Promise<string>;
  proc: Proc;
}

/** Starts capfd and waits until it listens ("CAPF Listening Port: N"); rejects with its output if it exits first. */
export async function startCapfd(o: CapfdOptions): Promise<Capfd> {
  const args = ['-p', String(o.port), '-A', o.capfPem];
  if (o.issuerPem) args.push('-i', o.issuerPem);
  for (const v of o.verifyPems ?? []) args.push('-v', v);
  if (o.days !== undefined) args.push('-d', String(o.days));
  if (o.timeoutSecs !== undefined) args.push('-t', String(o.timeoutSecs));
  args.push(o.dbPath, o.certsDir);
  const proc = new Proc('capfd', PYTHON, ['-I', '-u', script('capfd'), ...args]);
  try {
    await proc.waitForLine(new RegExp(`Listening Port: ${o.port}\\b`), 30_000);
  } catch (e) {
    await proc.kill();
    throw e;
  }
  return {
    stop: () => proc.stop(),
    output: () => [...proc.lines, ...proc.errLines].join('\n'),
    waitForLine: (re, deadlineMs) => proc.waitForLine(re, deadlineMs),
    proc,
  };
}

// ---- capfc ----

export interface CapfcOptions {
  /** Host name or IPv4 address (capfc's check allows letters, digits, '-' and dots). */
  host: string;
  port: number;
  /** The certificate (or a directory of hashed certificates) the server's TLS certificate must verify against (-A). */
  capfCertPem: string;
  /** SEP and 12 upper-case hex digits; capfc refuses anything else. */
  deviceName: string;
  /** 4 to 16 digits (-p); without it capfc sends the empty string. */
  password?: string;
  /** The phone's current LSC, certificate and key in one PEM (-l), for 'certificate' authentication. */
  lscPem?: string;
  /** A SUDI (MIC) certificate and RSA key (-s); default lscPem. */
  sudiPem?: string;
  /**
   * The device's certificate file (-c): install writes the issued certificate then its PKCS#8 key
   * there; fetch sends the certificate in it; delete deletes it.
   */
  outPem: string;
  /** capfc's socket timeout (-t, default 10); the process is killed 20 s after it. */
  timeoutSecs?: number;
  cwd?: string;
}

/**
 * Runs capfc to the end of its session. It prints "Wrote FILE" (install), "Stored FILE" (fetch),
 * "Deleted FILE", "No scheduled operation", "Unknown device: NAME" or "Server ended session: N"
 * on stdout (all exit 0), and its errors on stderr (exit 1).
 */
export function runCapfc(o: CapfcOptions): Promise<PeerResult> {
  const timeout = o.timeoutSecs ?? 10;
  const args = ['-h', `${o.host}:${o.port}`, '-A', o.capfCertPem, '-c', o.outPem, '-t', String(timeout)];
  if (o.password !== undefined) args.push('-p', o.password);
  if (o.lscPem) args.push('-l', o.lscPem);
  if (o.sudiPem) args.push('-s', o.sudiPem);
  args.push(o.deviceName);
  return runPeer('capfc', args, o.cwd, (timeout + 20) * 1000);
}

// ---- enccnf ----

/**
 * Runs enccnf with `args`, e.g. ['--build', '--tftp', tftpPem, '--certificate', lscCertPem, 'SEP….cnf.xml']
 * or ['--remove', '--key', lscKeyPem, 'SEP….cnf.xml.enc.sgn'] or ['--parse', '--tftp', tftpPem, FILE].
 */
export function enccnf(args: string[], cwd?: string): Promise<PeerResult> {
  return runPeer('enccnf', args, cwd, 60_000);
}
