/**
 * What the companion's TFTP server decides about a read request before any socket is opened:
 * whether the name is one it will look up, what the RFC 2347 options come to, and the bytes a
 * netascii client gets. Pure functions, so every rule is tested without a network.
 *
 * Options (each ignored, never refused, when its value is out of range: RFC 2347 lets a server
 * leave out of its OACK any option it does not accept, and ERROR 8 would cost a client that
 * falls back to RFC 1350 a round trip for nothing):
 *   blksize    RFC 2348, 8..65464: answered min(asked, maxBlksize); larger asks are lowered too.
 *   tsize      RFC 2349: answered with the size of what will be sent.
 *   timeout    RFC 2349, 1..255 seconds: echoed, and used as the retransmission interval.
 *   windowsize RFC 7440, 1..65535: answered min(asked, maxWindowsize).
 */
import { TFTP_DEFAULT_BLOCK, TFTP_MAX_BLOCK, TFTP_MIN_BLOCK, type TftpOptions } from '../../wire/tftp.ts';

export interface OptionCaps {
  /** The largest block answered: see DEFAULT_MAX_BLKSIZE. */
  maxBlksize: number;
  /** The largest window answered. */
  maxWindowsize: number;
  /** The retransmission interval when the client asked no timeout. */
  retransmitMs: number;
}

/**
 * 1468 = Ethernet's 1500-byte MTU - 20 (IPv4) - 8 (UDP) - 4 (TFTP header): the largest DATA that
 * crosses the LAN in one frame. A larger block is sent as IP fragments, and one lost fragment
 * loses the whole block, so more than this only helps on loopback; windowsize is the way to go
 * faster. (A phone asks 1428 and tftpd-hpa's default cap is 65464; this is the useful maximum.)
 */
export const DEFAULT_MAX_BLKSIZE = 1468;
/** 64 blocks of 1468 bytes are 94 KB in flight: below Linux's default 208 KB socket buffers. */
export const DEFAULT_MAX_WINDOWSIZE = 64;
/** tftpd-hpa's default retransmission interval. */
export const DEFAULT_RETRANSMIT_MS = 1000;
/** RFC 1350 names are NUL-terminated strings; 255 bytes is what a file system would take. */
export const MAX_NAME_BYTES = 255;

/** How one transfer runs, once the options are settled. */
export interface TransferParams {
  blksize: number;
  windowsize: number;
  retransmitMs: number;
}

export interface Negotiated {
  params: TransferParams;
  /** The OACK's options, or undefined when no option was accepted (then DATA 1 answers the RRQ). */
  oack: TftpOptions | undefined;
}

/** A decimal option value; anything else ("0x10", " 8", "") is not a number in RFC 2347's sense. */
function decimal(v: string | undefined): number | undefined {
  return v !== undefined && /^\d{1,10}$/.test(v) ? Number(v) : undefined;
}

export function negotiate(asked: TftpOptions, size: number, caps: OptionCaps): Negotiated {
  const params: TransferParams = { blksize: TFTP_DEFAULT_BLOCK, windowsize: 1, retransmitMs: caps.retransmitMs };
  const oack: TftpOptions = {};
  // In the order the client asked: some clients read the OACK in their own order.
  for (const name of Object.keys(asked)) {
    const v = decimal(asked[name]);
    if (v === undefined) continue;
    switch (name) {
      case 'blksize':
        if (v < TFTP_MIN_BLOCK) break;
        params.blksize = Math.min(v, caps.maxBlksize, TFTP_MAX_BLOCK);
        oack[name] = String(params.blksize);
        break;
      case 'tsize':
        oack[name] = String(size);
        break;
      case 'timeout':
        if (v < 1 || v > 255) break;
        params.retransmitMs = v * 1000;
        oack[name] = String(v);
        break;
      case 'windowsize':
        if (v < 1 || v > 65535) break;
        params.windowsize = Math.min(v, caps.maxWindowsize);
        oack[name] = String(params.windowsize);
        break;
      default:
      // Unknown options (rollover, multicast, utimeout…) are left out of the OACK: RFC 2347.
    }
  }
  return { params, oack: Object.keys(oack).length > 0 ? oack : undefined };
}

/**
 * Why a requested name is refused before it is looked up, or undefined. FileSource is not a
 * file system, but a `..` segment or a name longer than any real one is a probe, not a phone,
 * and is logged as such ('refused', ERROR 2), like HttpFileService does.
 */
export function refusedName(name: string): string | undefined {
  // The codec decodes names as latin1: one character per byte.
  if (name.length > MAX_NAME_BYTES) return `name longer than ${MAX_NAME_BYTES} bytes`;
  if (name.split(/[/\\]/).includes('..')) return 'a ".." path segment';
  return undefined;
}

/**
 * netascii (RFC 1350, after RFC 764's NVT): LF is sent as CR LF and a bare CR as CR NUL, as
 * tftpd-hpa does. The files served are LF-terminated XML and binary trust lists; a client that
 * asks netascii converts CR LF back, so converting is the mode's contract, not serving the bytes
 * as they are. The whole file is in memory anyway, so tsize can be the converted size exactly
 * (tftpd-hpa cannot know it and leaves tsize out in netascii).
 */
export function toNetascii(data: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === 0x0a || data[i] === 0x0d) extra++;
  if (extra === 0) return data;
  const out = Buffer.allocUnsafe(data.length + extra);
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data[i]!;
    if (c === 0x0a) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    } else if (c === 0x0d) {
      out[o++] = 0x0d;
      out[o++] = 0x00;
    } else out[o++] = c;
  }
  return out;
}
