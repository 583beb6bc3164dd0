/**
 * The provisioning server for Multiplatform phones (ours; docs/protocols/edos.md §7): flat
 * profiles generated from the database on every request, on HTTP 6970 next to the enterprise
 * files, as `mpp/<psn>/<mac>.xml` (what `Profile_Rule` `http://<companion>:6970/mpp/$PSN/$MA.xml`
 * asks for) or `mpp/<mac>.xml`.
 *
 * - A phone the database knows (device `SEP<MAC>`): its line 1 — `Proxy_1_` and `SIP_Port_1_`
 *   the first call manager of the group (this companion by default), `SIP_Transport_1_` TCP
 *   (the registrar's only transport), `User_ID_1_` and `Auth_ID_1_` its DN (the name the
 *   registrar's digest challenge expects), `Password_1_` only when it has one, `Display_Name_1_`,
 *   `Line_Enable_1_` Yes — and `Resync_Periodic`.
 * - A MAC it does not know: only where to register (`Proxy_1_`, `SIP_Port_1_`,
 *   `SIP_Transport_1_`) and `Resync_Periodic`, so the phone comes back for its line once the
 *   registrar has autoregistered it; with autoregistration off, 404. A phone waiting for its
 *   activation code is treated as unknown (its line is not its own yet).
 * - A profile the admin uploaded for the MAC is merged over that: its parameters win.
 * - With a key set, the file is served as `openssl enc -aes-256-cbc -md sha256 -k KEY` writes it
 *   (the phone's rule then says `[--key KEY] http://…`).
 *
 * Secrets (the line password, the key, `--key`/`--pwd` in rules) never reach the log; `show`
 * masks them.
 */
import { type FlatParam, encryptOpensslCompatible, parseFlatProfile, writeFlatProfile } from '../../wire/flat-profile.ts';
import type { ActivationStore } from '../activation/store.ts';
import type { CompanionConfig } from '../config.ts';
import type { CompanionDb } from '../db.ts';
import type { FileSource } from '../file-services.ts';
import type { FileAnswer } from '../provisioning-files.ts';
import type { MppStore } from './store.ts';
import { LoadStore } from '../loads.ts';

export const MPP_PREFIX = 'mpp/';
/** `mpp/8841/0022905c1a2b.xml` or `mpp/0022905c1a2b.xml` (after the leading slash). */
const MPP_NAME = /^mpp\/(?:([A-Za-z0-9._-]{1,32})\/)?([0-9a-f]{12})\.xml$/i;
export const MASK = '********';

/** A parameter whose value is a secret, by its name. */
export const isSecretParam = (name: string) => /passw|secret|(^|_)key(_|$)|(^|_)pin(_|$)|^GPP_S[A-D]$/i.test(name);

/** `[--key X]`, `--pwd X` and a URL's `user:password@` masked, for a log or a page. */
export const maskRule = (rule: string): string =>
  rule.replace(/(--(?:key|pwd)\s+)("[^"]*"|[^\s\]]+)/g, `$1${MASK}`).replace(/(\/\/[^/:@\s]*:)[^@/\s]*@/g, `$1${MASK}@`);

/** A value fit to show: secret parameters masked, rules with their options masked. */
export const shownValue = (name: string, value: string): string => (isSecretParam(name) ? (value ? MASK : '') : /_Rule(_[B-D])?$/.test(name) ? maskRule(value) : value);

export interface MppProfile {
  mac: string;
  /** `SEP<MAC>` when the database knows the phone. */
  deviceName: string | undefined;
  params: Map<string, FlatParam>;
  /** An admin upload was merged in. */
  uploaded: boolean;
  /** The served file is encrypted with the stored key. */
  encrypted: boolean;
}

export interface MppProfilesDeps {
  db: CompanionDb;
  store: MppStore;
  /** As served: the ports the kernel chose filled in (endpoints.ts). */
  config: CompanionConfig;
  /** Activation-code onboarding: a phone waiting for its code has no line yet. */
  onboarding?: ActivationStore | undefined;
  /** Where a load's `.loads` is served (HTTP 6970, bound after the profiles are made); undefined without HTTP. */
  loadUrl?: (load: string) => string | undefined;
  log: (line: string) => void;
}

export class MppProfiles {
  private readonly d: MppProfilesDeps;
  private readonly warnedInClear = new Set<string>();
  private readonly loads: LoadStore;

  constructor(deps: MppProfilesDeps) {
    this.d = deps;
    this.loads = new LoadStore(deps.db, deps.config.loadInformation);
  }

  /** Where phones register: the group's first member (this companion unless configured otherwise). */
  private proxy(): { host: string; port: number } {
    const first = [...this.d.config.callManagers].sort((a, b) => a.priority - b.priority)[0];
    return first ? { host: first.host, port: first.sipPort } : { host: this.d.config.address, port: this.d.config.sip.port };
  }

  /** The profile for a MAC (12 hex digits, any case); undefined when it gets none (404). */
  build(macHex: string): MppProfile | undefined {
    const { db, store, config } = this.d;
    const mac = macHex.toLowerCase();
    const deviceName = `SEP${mac.toUpperCase()}`;
    const found = db.phone(deviceName);
    const phone = found && !this.d.onboarding?.phoneOnboarding(deviceName)?.requiresCode ? found : undefined;
    const stored = store.profile(mac);
    const uploaded = stored?.profile ? parseFlatProfile(Buffer.from(stored.profile, 'utf8')) : undefined;
    if (!phone && !config.autoRegistration.enabled && !stored) return undefined;
    const { host, port } = this.proxy();
    const params = new Map<string, FlatParam>();
    const set = (name: string, value: string, ua?: FlatParam['ua']) => params.set(name, ua ? { value, ua } : { value });
    set('Proxy_1_', host);
    set('SIP_Port_1_', String(port));
    set('SIP_Transport_1_', 'TCP');
    if (phone) {
      set('User_ID_1_', phone.dn);
      set('Auth_ID_1_', phone.dn);
      if (phone.password) set('Password_1_', phone.password, 'na');
      set('Display_Name_1_', phone.description || phone.dn);
      set('Line_Enable_1_', 'Yes');
    }
    set('Resync_Periodic', String(config.mpp.resyncPeriodicSecs));
    // The load the phone should run (its own, else its model's Device Defaults), as an enterprise
    // phone's cnf.xml names it: the list on HTTP 6970, its components in the folder beside it.
    const load = phone ? this.loads.forPhone(phone) : '';
    const loadUrl = load ? this.d.loadUrl?.(load) : undefined;
    if (loadUrl) set('Upgrade_Rule', loadUrl);
    // Stored only after it parsed (operations.ts); one that no longer does is left out, and said.
    if (uploaded && !uploaded.ok) this.d.log(`mpp ${mac}: the uploaded profile does not read any more (${uploaded.error.message}); served without it`);
    if (uploaded?.ok) for (const [name, p] of uploaded.value.params) params.set(name, p);
    return { mac, deviceName: phone?.deviceName, params, uploaded: !!uploaded?.ok, encrypted: !!stored?.key };
  }

  /** The file as a phone gets it: the profile, encrypted when a key is set. */
  serve(macHex: string, requested: string): FileAnswer {
    const p = this.build(macHex);
    if (!p) return { kind: 'absent' };
    const plain = writeFlatProfile(p.params);
    if (p.encrypted) return { kind: 'file', data: encryptOpensslCompatible(plain, this.d.store.profile(p.mac)!.key, 'sha256'), contentType: 'application/octet-stream' };
    if (p.params.get('Password_1_')?.value && !this.warnedInClear.has(p.mac)) {
      this.warnedInClear.add(p.mac);
      this.d.log(`mpp ${p.mac}: line password served in the clear in ${requested} (encrypt it: sepi cm profile set --mac ${p.mac} --key SECRET, and [--key SECRET] in the phone's Profile_Rule)`);
    }
    return { kind: 'file', data: plain, contentType: 'text/xml' };
  }
}

/** Parameters as shown to an admin: secrets masked. */
export const shownParams = (params: Map<string, FlatParam>): Map<string, FlatParam> =>
  new Map([...params].map(([name, p]) => [name, { ...p, value: shownValue(name, p.value) }]));

/** HTTP 6970's files: `mpp/…` answered here, every other name by the enterprise files. */
export class MppFileSource implements FileSource {
  private readonly inner: FileSource;
  private readonly profiles: MppProfiles;

  constructor(inner: FileSource, profiles: MppProfiles) {
    this.inner = inner;
    this.profiles = profiles;
  }

  lookup(name: string): FileAnswer {
    const bare = name.replace(/^\/+/, '');
    if (bare.slice(0, MPP_PREFIX.length).toLowerCase() !== MPP_PREFIX) return this.inner.lookup(name);
    const m = MPP_NAME.exec(bare);
    return m ? this.profiles.serve(m[2]!, bare) : { kind: 'absent' };
  }
}
