/**
 * Errors are values at the edges: every decoder returns a Result whose error names what was
 * wrong and where (byte offset or XML element). Only WireError is ever caught by a decoder;
 * any other exception is a bug and is left to crash loudly.
 */
export type Result<T, E = WireError> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });
export const err = <E>(error: E): { ok: false; error: E } => ({ ok: false, error });

/** A malformed, truncated, oversized or hostile input, with a stable code for callers. */
export class WireError extends Error {
  readonly format: string;
  readonly code: string;
  /** Byte offset (binary formats) or element path (XML), when known. */
  readonly at: number | string | undefined;

  constructor(format: string, code: string, message: string, at?: number | string) {
    super(at === undefined ? `${format}: ${message}` : `${format}: ${message} (at ${at})`);
    this.name = 'WireError';
    this.format = format;
    this.code = code;
    this.at = at;
  }
}

/** Runs a decoder that throws WireError internally and turns that into a Result. */
export function catchWire<T>(decode: () => T): Result<T> {
  try {
    return ok(decode());
  } catch (e) {
    if (e instanceof WireError) return err(e);
    throw e;
  }
}
