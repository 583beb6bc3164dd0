/**
 * TFTP packet codec: RFC 1350 (RRQ, WRQ, DATA, ACK, ERROR) and RFC 2347 option negotiation
 * (OACK), with the option values of RFC 2348 (blksize), RFC 2349 (timeout in *seconds*, tsize)
 * and RFC 7440 (windowsize). Pure: bytes <-> TftpPacket.
 *
 *   RRQ/WRQ  | 01/02 | filename | 0 | mode | 0 | opt1 | 0 | value1 | 0 | ...
 *   DATA     | 03 | block u16 | data (0..blksize)
 *   ACK      | 04 | block u16
 *   ERROR    | 05 | code u16 | message | 0
 *   OACK     | 06 | opt1 | 0 | value1 | 0 | ...
 */
import { ByteReader, ByteWriter, ascii, text } from './bytes.ts';
import { type Result, WireError, catchWire } from './result.ts';

export const TFTP_PORT = 69;
export const TFTP_DEFAULT_BLOCK = 512;
/** RFC 2348 bounds for blksize. */
export const TFTP_MIN_BLOCK = 8;
export const TFTP_MAX_BLOCK = 65464;
/** RFC 2347: a request packet with options must fit in 512 bytes. */
export const TFTP_MAX_REQUEST = 512;

export const TftpErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

export type TftpOptions = Record<string, string>;

export type TftpPacket =
  | { op: 'RRQ' | 'WRQ'; filename: string; mode: string; options: TftpOptions }
  | { op: 'DATA'; block: number; data: Uint8Array }
  | { op: 'ACK'; block: number }
  | { op: 'ERROR'; code: number; message: string }
  | { op: 'OACK'; options: TftpOptions };

const OPCODES = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

function readString(r: ByteReader, what: string): string {
  const nul = r.buf.indexOf(0, r.offset);
  if (nul < 0) r.fail('truncated', `${what} is not NUL-terminated`);
  const s = text(r.bytes(nul - r.offset, what));
  r.offset++; // the NUL
  return s;
}

function readOptionPairs(r: ByteReader): TftpOptions {
  const options: TftpOptions = {};
  while (r.remaining > 0) {
    const at = r.offset;
    const name = readString(r, 'option name').toLowerCase();
    if (name === '') r.fail('bad-option', 'empty option name', at);
    const value = readString(r, `value of option ${name}`);
    if (Object.hasOwn(options, name)) r.fail('bad-option', `option ${name} given twice`, at);
    options[name] = value;
  }
  return options;
}

export function decodeTftp(buf: Uint8Array, maxBlock = TFTP_MAX_BLOCK): Result<TftpPacket> {
  return catchWire(() => {
    const r = new ByteReader('tftp', buf);
    if (buf.length > 4 + maxBlock) r.fail('oversized', `packet of ${buf.length} bytes exceeds block size ${maxBlock}`, 0);
    const op = r.u16('opcode');
    switch (op) {
      case OPCODES.RRQ:
      case OPCODES.WRQ: {
        if (buf.length > TFTP_MAX_REQUEST) r.fail('oversized', `request of ${buf.length} bytes exceeds ${TFTP_MAX_REQUEST}`, 0);
        const filename = readString(r, 'filename');
        if (filename === '') r.fail('bad-request', 'empty filename', 2);
        const mode = readString(r, 'mode').toLowerCase();
        if (mode !== 'octet' && mode !== 'netascii' && mode !== 'mail') r.fail('bad-request', `unknown mode "${mode}"`);
        return { op: op === 1 ? 'RRQ' : 'WRQ', filename, mode, options: readOptionPairs(r) };
      }
      case OPCODES.DATA:
        return { op: 'DATA', block: r.u16('block number'), data: Uint8Array.from(r.bytes(r.remaining)) };
      case OPCODES.ACK: {
        const block = r.u16('block number');
        if (r.remaining !== 0) r.fail('bad-ack', `${r.remaining} trailing bytes after ACK`);
        return { op: 'ACK', block };
      }
      case OPCODES.ERROR: {
        const code = r.u16('error code');
        // Some servers omit the final NUL; accept the message to the end of the packet then.
        const nul = buf.indexOf(0, r.offset);
        const message = text(r.bytes((nul < 0 ? buf.length : nul) - r.offset)).replace(/[\x00-\x1f\x7f]/g, ' ');
        return { op: 'ERROR', code, message };
      }
      case OPCODES.OACK:
        return { op: 'OACK', options: readOptionPairs(r) };
      default:
        throw new WireError('tftp', 'bad-opcode', `unknown opcode ${op}`, 0);
    }
  });
}

export function encodeTftp(p: TftpPacket): Buffer {
  const w = new ByteWriter();
  const str = (s: string) => w.bytes(ascii(s)).u8(0);
  switch (p.op) {
    case 'RRQ':
    case 'WRQ':
      w.u16(OPCODES[p.op]);
      str(p.filename);
      str(p.mode);
      for (const [k, v] of Object.entries(p.options)) str(k).bytes(ascii(v)).u8(0);
      break;
    case 'DATA':
      w.u16(3).u16(p.block).bytes(p.data);
      break;
    case 'ACK':
      w.u16(4).u16(p.block);
      break;
    case 'ERROR':
      w.u16(5).u16(p.code);
      str(p.message);
      break;
    case 'OACK':
      w.u16(6);
      for (const [k, v] of Object.entries(p.options)) str(k).bytes(ascii(v)).u8(0);
      break;
  }
  return w.finish();
}

/**
 * Reads a negotiated numeric option value from an OACK. The server may only lower blksize and
 * windowsize and must echo timeout exactly (RFC 2348/2349/7440); anything else is refused.
 */
export function negotiatedValue(name: string, sent: number | undefined, answer: string | undefined): number | WireError | undefined {
  if (answer === undefined) return undefined;
  if (!/^\d{1,10}$/.test(answer)) return new WireError('tftp', 'bad-oack', `option ${name} value "${answer}" is not a number`);
  const v = Number(answer);
  if (sent === undefined) return new WireError('tftp', 'bad-oack', `server acknowledged option ${name} that was not requested`);
  switch (name) {
    case 'blksize':
      if (v < TFTP_MIN_BLOCK || v > sent) return new WireError('tftp', 'bad-oack', `blksize ${v} outside ${TFTP_MIN_BLOCK}..${sent}`);
      return v;
    case 'windowsize':
      if (v < 1 || v > sent) return new WireError('tftp', 'bad-oack', `windowsize ${v} outside 1..${sent}`);
      return v;
    case 'timeout':
      if (v !== sent) return new WireError('tftp', 'bad-oack', `timeout ${v} differs from the requested ${sent}`);
      return v;
    case 'tsize':
      return v;
    default:
      return v;
  }
}
