/**
 * `sepi tlv show FILE [--json]` prints a signed file's header and, for trust lists, its records;
 * `sepi tlv verify FILE --cert PEM|DER` checks its signature (exit 0 only when valid);
 * `sepi tlv verify FILE --self` checks an ITL/CTL against its own signer record.
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { type SignedHeader, type TrustRecord, parseSignedFile, parseTrustList, roleName, sameSerial, verifySignedFile } from '../wire/tlv.ts';
import { certFacts, verifyWithCertificate } from '../wire/x509.ts';
import { UsageError, parse } from './args.ts';

const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : '');

function headerJson(h: SignedHeader) {
  return {
    version: h.version.join('.'), headerLength: h.headerLength, signerVersion: h.signerVersion?.join('.'),
    signer: { name: h.signerName, serial: hex(h.signerSerial), issuer: h.signerIssuer },
    digest: h.digest, signatureAlgorithm: h.signatureAlgorithm === 0 ? 'RSA PKCS#1 v1.5' : `unknown (${h.signatureAlgorithm})`,
    keyBits: h.modulusBytes * 8, signature: hex(h.signature), filename: h.filename,
    timestamp: h.timestamp === undefined ? undefined : new Date(h.timestamp * 1000).toISOString(),
    padding: h.padding, encryption: h.encryption.map((t) => ({ tag: t.tag, value: hex(t.value) })), unknownTags: h.unknown.map((t) => ({ tag: t.tag, at: t.at, value: hex(t.value) })),
  };
}

function recordJson(r: TrustRecord) {
  const facts = r.certificate ? certFacts(r.certificate) : undefined;
  return {
    role: r.role === undefined ? undefined : roleName(r.role), dnsName: r.dnsName, subject: r.subject, issuer: r.issuer, serial: hex(r.serial),
    certificateSha256: facts?.ok ? facts.value.sha256 : undefined, notAfter: facts?.ok ? facts.value.notAfter.toISOString() : undefined,
    certificateProblem: facts && !facts.ok ? facts.error.message : undefined,
    ip: r.ip?.length === 4 ? [...r.ip].join('.') : r.ip ? hex(r.ip) : undefined,
    unknownTags: r.unknown.map((t) => ({ tag: t.tag, value: hex(t.value) })),
  };
}

const isTrustList = (bytes: Buffer) => {
  const s = parseSignedFile(bytes);
  return s.ok && /\.tlv$/i.test(s.value.header.filename);
};

async function loadCert(path: string): Promise<Uint8Array> {
  const raw = await readFile(path);
  try {
    return new X509Certificate(raw).raw;
  } catch {
    throw new UsageError(`${path} is not a PEM or DER certificate`);
  }
}

export async function tlvCommand(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  const { values: v, positionals } = parse(rest, { json: { type: 'boolean' }, cert: { type: 'string' }, self: { type: 'boolean' } }, true);
  const file = positionals[0];
  if (!file || (verb !== 'show' && verb !== 'verify')) throw new UsageError('sepi tlv show FILE [--json] | sepi tlv verify FILE (--cert PEM | --self)');
  const bytes = await readFile(file);
  const list = isTrustList(bytes) ? parseTrustList(bytes) : undefined;
  const parsed = list ?? parseSignedFile(bytes);
  if (!parsed.ok) {
    process.stderr.write(`sepi tlv: ${file}: ${parsed.error.message}\n`);
    return 1;
  }
  const h = parsed.value.header;
  const records = list?.ok ? list.value.records : undefined;
  if (verb === 'show') {
    const out = { file, bytes: bytes.length, header: headerJson(h), records: records?.map(recordJson), bodyBytes: parsed.value.body.length };
    if (v.json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    else {
      const lines = [
        `file        ${h.filename} (${bytes.length} bytes, header ${h.headerLength}, version ${out.header.version}${h.signerVersion ? `, signer version ${out.header.signerVersion}` : ''})`,
        `signer      ${h.signerName}`,
        `            serial ${hex(h.signerSerial)}, issuer ${h.signerIssuer}`,
        `signature   ${out.header.signatureAlgorithm}, ${h.digest.toUpperCase()}, ${h.modulusBytes * 8}-bit key`,
        ...(out.header.timestamp ? [`timestamp   ${out.header.timestamp}`] : []),
        ...h.unknown.map((t) => `unknown tag ${t.tag} at ${t.at}: ${hex(t.value).slice(0, 64)}`),
      ];
      if (records) {
        lines.push(`records     ${records.length}`);
        records.forEach((r, i) => {
          const j = recordJson(r);
          lines.push(`  ${String(i + 1).padStart(2)} ${String(j.role ?? '-').padEnd(10)} ${j.subject ?? ''}`);
          lines.push(`     serial ${j.serial}${j.certificateSha256 ? `, sha256 ${j.certificateSha256}` : ''}${j.notAfter ? `, until ${j.notAfter.slice(0, 10)}` : ''}${j.dnsName ? `, ${j.dnsName}` : ''}`);
          for (const u of j.unknownTags) lines.push(`     unknown tag ${u.tag}: ${u.value.slice(0, 64)}`);
        });
      } else lines.push(`body        ${parsed.value.body.length} bytes`);
      process.stdout.write(lines.join('\n') + '\n');
    }
    return 0;
  }
  let cert: Uint8Array | undefined;
  if (v.cert) cert = await loadCert(v.cert);
  else if (v.self) {
    const signerRecord = records?.find((r) => r.role === 0 && sameSerial(r.serial, h.signerSerial));
    if (!signerRecord?.certificate) {
      process.stderr.write(`sepi tlv: ${file}: no SAST record with the signer's serial ${hex(h.signerSerial)}\n`);
      return 1;
    }
    cert = signerRecord.certificate;
  } else throw new UsageError('sepi tlv verify needs --cert PEM (or --self for a trust list)');
  const valid = verifySignedFile(bytes, h, (d, data, sig) => verifyWithCertificate(cert!, d, data, sig));
  const facts = certFacts(cert);
  const who = facts.ok ? facts.value.subject : 'the given certificate';
  process.stdout.write(valid ? `valid: ${h.filename} is signed by ${who} (${h.digest.toUpperCase()})\n` : `INVALID: ${h.filename} is not signed by ${who}\n`);
  return valid ? 0 : 1;
}
