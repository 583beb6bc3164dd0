/**
 * Text from a peer made safe to print on a terminal or in a log: control characters (C0, DEL,
 * C1), the Unicode line and paragraph separators and the bidirectional overrides are written
 * as escapes. Without this a DHCP vendor class or a request path with "\n" forges a log line,
 * and an ESC sequence in a SIP Warning repaints the terminal showing the phone's LCD.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const n = c.codePointAt(0)!;
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
  });
}
