/**
 * A Multiplatform phone's provisioning parameters: the flat-profile names it knows
 * (`Profile_Rule`, `Resync_Periodic`, `Proxy_1_` …), their documented defaults (reference
 * onboarding-protocol.md §3.1), and what profiles and people have set. A profile is a partial
 * update — a name it does not mention keeps its value — and a name the phone does not know is
 * ignored, as the guides say. Kept in NVRAM (only what differs from the defaults), written
 * before the phone acts on it, wiped by a factory reset.
 */
import type { FlatProfile, UserAccess } from '../../wire/flat-profile.ts';
import { parseProfileRule } from '../../wire/profile-rule.ts';
import type { Nvram } from '../nvram.ts';

const DOC = 'mpp-params';
export const MAX_LINES = 10;
const MAX_VALUE_CHARS = 4096;

/** The resync parameters' documented defaults. */
const RESYNC_DEFAULTS: Record<string, string> = {
  Provision_Enable: 'Yes',
  Resync_On_Reset: 'Yes',
  Resync_Periodic: '3600',
  Resync_Error_Retry_Delay: '60,120,240,480,960,1920,3840,7680,15360,30720,61440,86400',
  Resync_Fails_On_FNF: 'Yes',
  Profile_Rule: '/$PSN.xml',
  Profile_Rule_B: '',
  Profile_Rule_C: '',
  Profile_Rule_D: '',
  DHCP_Option_To_Use: '66,160,159,150,60,43,125',
  Station_Name: '',
  // Firmware upgrade (mpp/upgrade.ts): a rule naming a load's `.loads`, same syntax as Profile_Rule.
  Upgrade_Enable: 'Yes',
  Upgrade_Rule: '',
};

/** Per-line names, `Proxy_1_` … `Proxy_10_`, with their defaults. */
const LINE_DEFAULTS: Record<string, string> = {
  Line_Enable: 'Yes',
  Proxy: '',
  SIP_Port: '5060',
  SIP_Transport: 'UDP',
  Display_Name: '',
  User_ID: '',
  Auth_ID: '',
  Password: '',
};

const GPP = 'ABCDEFGHIJKLMNOP'.split('');
const GPP_SECRET = ['SA', 'SB', 'SC', 'SD'];

function buildDefaults(): Map<string, string> {
  const d = new Map(Object.entries(RESYNC_DEFAULTS));
  for (let n = 1; n <= MAX_LINES; n++) for (const [k, v] of Object.entries(LINE_DEFAULTS)) d.set(`${k}_${n}_`, v);
  for (const l of [...GPP, ...GPP_SECRET]) d.set(`GPP_${l}`, '');
  return d;
}

export const DEFAULTS: ReadonlyMap<string, string> = buildDefaults();

/** Values never shown: on the web page, in events, in logs. */
export const isSecretParam = (name: string): boolean => /^Password_\d+_$/.test(name) || /^GPP_S[A-D]$/.test(name);

/** Set by hand while customization is in progress, these make it Aborted (the guides' rule). */
export const isProvisioningParam = (name: string): boolean => /^Profile_Rule(_[BCD])?$/.test(name) || /^Proxy_\d+_$/.test(name);

export interface SipLineParams {
  index: number;
  proxy: string;
  port: number;
  transport: string;
  userId: string;
  authId: string;
  password: string;
  displayName: string;
}

interface Stored {
  values: Record<string, string>;
  ua: Record<string, UserAccess>;
}

const isStored = (v: unknown): v is Stored =>
  typeof v === 'object' && v !== null && typeof (v as Stored).values === 'object' && typeof (v as Stored).ua === 'object';

/** Why a value cannot be taken; undefined when it can. */
export function checkParam(name: string, value: string): string | undefined {
  if (!DEFAULTS.has(name)) return `${name} is not a parameter this phone knows`;
  if (value.length > MAX_VALUE_CHARS) return `${name}: ${value.length} characters, at most ${MAX_VALUE_CHARS}`;
  if (/^Profile_Rule/.test(name) && value.trim() !== '') {
    const r = parseProfileRule(value);
    if (!r.ok) return `${name}: ${r.error.message}`;
  }
  if ((name === 'Resync_Periodic' || /^SIP_Port_/.test(name)) && value.trim() !== '' && !/^\d{1,6}([,+]\d{1,6})*$/.test(value.trim())) return `${name}: "${value}" is not a number of seconds or a port`;
  if (name === 'Resync_Error_Retry_Delay' && !/^\d{1,6}(,\d{1,6})*$/.test(value.trim())) return `${name}: "${value}" is not a list of seconds`;
  return undefined;
}

export class MppParameters {
  private readonly nvram: Nvram;
  private values: Map<string, string>;
  private ua: Map<string, UserAccess>;

  private constructor(nvram: Nvram, stored: Stored | undefined) {
    this.nvram = nvram;
    this.values = new Map(Object.entries(stored?.values ?? {}).filter(([k]) => DEFAULTS.has(k)));
    this.ua = new Map(Object.entries(stored?.ua ?? {}));
  }

  static async load(nvram: Nvram): Promise<MppParameters> {
    return new MppParameters(nvram, await nvram.read(DOC, isStored));
  }

  get(name: string): string {
    return this.values.get(name) ?? DEFAULTS.get(name) ?? '';
  }

  /** Every known parameter with its value; secrets masked unless asked for. */
  all(o: { secrets?: boolean } = {}): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of DEFAULTS.keys()) {
      const v = this.get(name);
      out[name] = !o.secrets && isSecretParam(name) && v !== '' ? '********' : v;
    }
    return out;
  }

  /** Takes what a downloaded profile says about known names; the names that changed. */
  async apply(profile: FlatProfile): Promise<string[]> {
    const changed: string[] = [];
    for (const [name, p] of profile.params) {
      if (!DEFAULTS.has(name) || checkParam(name, p.value) !== undefined) continue;
      if (this.get(name) !== p.value) changed.push(name);
      this.values.set(name, p.value);
      if (p.ua) this.ua.set(name, p.ua);
    }
    await this.save();
    return changed;
  }

  /** Values set by hand (keypad, web, command); all checked first, none taken if one is bad. */
  async set(values: Record<string, string>): Promise<{ ok: true } | { ok: false; error: string }> {
    for (const [k, v] of Object.entries(values)) {
      const bad = checkParam(k, v);
      if (bad) return { ok: false, error: bad };
    }
    for (const [k, v] of Object.entries(values)) this.values.set(k, v);
    await this.save();
    return { ok: true };
  }

  private async save(): Promise<void> {
    const values: Record<string, string> = {};
    for (const [k, v] of this.values) if (v !== DEFAULTS.get(k)) values[k] = v;
    await this.nvram.write(DOC, { values, ua: Object.fromEntries(this.ua) });
  }

  /** The rules a resync evaluates, in order: `Profile_Rule`, `_B`, `_C`, `_D` (empty ones skipped). */
  rules(): Array<{ name: string; text: string }> {
    return ['Profile_Rule', 'Profile_Rule_B', 'Profile_Rule_C', 'Profile_Rule_D'].map((name) => ({ name, text: this.get(name).trim() })).filter((r) => r.text !== '');
  }

  yes(name: string): boolean {
    return /^(yes|true|1|on)$/i.test(this.get(name).trim());
  }

  /**
   * Resync_Periodic in seconds; 0 means never. A list (`a,b,c`) or range (`n+r`) takes its first
   * number: the phone resyncs at least that often (lists and randomness are not modelled).
   */
  periodicSecs(): number {
    const first = /^\d+/.exec(this.get('Resync_Periodic').trim());
    return first ? Number(first[0]) : 3600;
  }

  /** The wait after the n-th consecutive error (0-based), from Resync_Error_Retry_Delay; the last repeats. */
  errorRetrySecs(n: number): number {
    const list = this.get('Resync_Error_Retry_Delay').split(',').map((s) => Number(s.trim())).filter((x) => Number.isFinite(x) && x > 0);
    if (list.length === 0) return 3600;
    return list[Math.min(Math.max(0, n), list.length - 1)]!;
  }

  /** DHCP_Option_To_Use as option codes, in the order the phone tries them. */
  dhcpOptionsToUse(): number[] {
    return this.get('DHCP_Option_To_Use').split(',').map((s) => Number(s.trim())).filter((x) => Number.isInteger(x) && x > 0 && x < 255);
  }

  /** Lines that are enabled and name a proxy, in order. */
  lines(): SipLineParams[] {
    const out: SipLineParams[] = [];
    for (let n = 1; n <= MAX_LINES; n++) {
      const proxy = this.get(`Proxy_${n}_`).trim();
      if (!proxy || !/^(yes|true|1)$/i.test(this.get(`Line_Enable_${n}_`).trim())) continue;
      const userId = this.get(`User_ID_${n}_`).trim();
      out.push({
        index: n, proxy, port: Number(this.get(`SIP_Port_${n}_`)) || 5060, transport: this.get(`SIP_Transport_${n}_`).trim().toUpperCase() || 'UDP',
        userId, authId: this.get(`Auth_ID_${n}_`).trim() || userId, password: this.get(`Password_${n}_`), displayName: this.get(`Display_Name_${n}_`),
      });
    }
    return out;
  }

  /** `$A`…`$P` and `$SA`…`$SD` for macro expansion. */
  gppValues(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const l of [...GPP, ...GPP_SECRET]) out[`GPP_${l}`] = this.get(`GPP_${l}`);
    return out;
  }
}
