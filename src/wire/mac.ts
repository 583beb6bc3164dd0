/**
 * A phone's MAC address and the names derived from it. Cisco writes the device name with the MAC
 * in upper case (`SEPC80084AA8743`, also in file names) and SIP headers with it in lower case
 * (`+sip.instance`, Call-ID); see reference cisco-boot-protocol.md §3.2 and §9.1.
 */
export class MacAddress {
  /** 12 upper-case hex digits, no separators. */
  readonly hex: string;

  private constructor(hex: string) {
    this.hex = hex;
  }

  /** Accepts `001122334455`, `00:11:22:33:44:55`, `00-11-22-33-44-55`, `0011.2233.4455`, or `SEP…`. */
  static parse(input: string): MacAddress | undefined {
    let s = input.trim();
    if (/^sep/i.test(s)) s = s.slice(3);
    const hex = s.replace(/[:.\-]/g, '');
    if (!/^[0-9a-fA-F]{12}$/.test(hex)) return undefined;
    return new MacAddress(hex.toUpperCase());
  }

  static fromBytes(b: Uint8Array): MacAddress {
    if (b.length !== 6) throw new RangeError('MAC address needs 6 bytes');
    return new MacAddress(Buffer.from(b).toString('hex').toUpperCase());
  }

  get bytes(): Uint8Array {
    return Uint8Array.from(Buffer.from(this.hex, 'hex'));
  }

  get lower(): string {
    return this.hex.toLowerCase();
  }

  /** `SEP` + upper-case MAC: the device name and the stem of its files. */
  get deviceName(): string {
    return `SEP${this.hex}`;
  }

  get colons(): string {
    return this.hex.match(/../g)!.join(':').toLowerCase();
  }

  equals(other: MacAddress): boolean {
    return other.hex === this.hex;
  }

  toString(): string {
    return this.hex;
  }
}
