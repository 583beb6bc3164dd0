/**
 * Typed readers and writers for the phone configuration files a Cisco call manager serves:
 * `SEP<MAC>.cnf.xml` (root `<device>`) and the default file `XMLDefault.cnf.xml` /
 * `SEPDEFAULT.cnf` (root `<Default>`). Element names follow reference
 * cisco-boot-protocol.md §4. Real files carry many more elements; unknown ones are ignored,
 * but every element we read must be well-formed or the whole file is refused with an error
 * naming the element (a phone must never run on half a configuration).
 */
import { type XmlElement, type XmlNode, at, child, children, el, parseXml, textOf, xmlDocument } from './xml.ts';
import { isIpv4 } from './ipv4.ts';
import { type Result, WireError, catchWire } from './result.ts';

export const USECALLMANAGER = 'USECALLMANAGER';
const MAX_MEMBERS = 5;
const MAX_LINES = 64;

export interface CallManagerMember {
  priority: number;
  /** processNodeName: an IPv4 address or a DNS name. */
  host: string;
  sipPort: number;
  securedSipPort: number;
  ethernetPhonePort: number;
}

export interface TvsMember {
  priority: number;
  address: string;
  port: number;
}

export interface SipLine {
  button: number;
  /** The directory number (`<name>`). */
  dn: string;
  displayName: string;
  label: string;
  /** `USECALLMANAGER` or a host. */
  proxy: string;
  port: number;
  authName: string;
  authPassword: string;
  contact: string;
}

/**
 * A speed-dial button: in CUCM's files a `<line>` of `sipLines` with `featureID` 2 and a
 * `speedDialNumber` instead of a directory number (the phone dials it when the button is pressed).
 */
export interface SpeedDialButton {
  button: number;
  number: string;
  label: string;
}

/** `featureID` of a speed-dial button among the `sipLines`; a line is 9. */
const SPEED_DIAL_FEATURE = '2';

/** A CAPF server the phone enrols its certificate with (`<capfList><capf>`). */
export interface CapfMember {
  host: string;
  port: number;
}

/**
 * What a configuration file says about certificates: `capfAuthMode` asks the phone to run a
 * CAPF session (0 none, 1 authentication string, 2 null string, 3 LSC, 4 MIC — reference §4.1);
 * `encrConfig` says the full file is in `<name>.enc.sgn`, encrypted for the certificate whose
 * MD5 is `certHash`.
 */
export interface DeviceSecurity {
  capfAuthMode: number;
  capf: CapfMember[];
  certHash: string;
  encrConfig: boolean;
}

export const NO_DEVICE_SECURITY: DeviceSecurity = { capfAuthMode: 0, capf: [], certHash: '', encrConfig: false };

export interface SipStack {
  timerRegisterExpires: number;
  timerRegisterDelta: number;
  timerKeepAliveExpires: number;
  timerT1: number;
  timerT2: number;
}

export interface DeviceConfig {
  kind: 'device';
  fullConfig: boolean;
  deviceProtocol: 'SIP' | 'SCCP';
  devicePoolName: string;
  callManagers: CallManagerMember[];
  tvs: TvsMember[];
  registerWithProxy: boolean;
  sipStack: SipStack;
  lines: SipLine[];
  /** Present when the file has any (universal device templates give them, templates/apply.ts). */
  speedDials?: SpeedDialButton[];
  loadInformation: string;
  inactiveLoadInformation: string;
  versionStamp: string;
  deviceSecurityMode: number;
  transportLayerProtocol: number;
  userLocale: string;
  networkLocale: string;
  security: DeviceSecurity;
}

export interface DefaultLoad {
  /** Device-type code from the element name `loadInformationNNN`. */
  code: number;
  model: string;
  load: string;
}

/**
 * How phones of a model onboard when they have no file of their own: `<emuOnboarding
 * model="Cisco 8841" method="activationCode" service="https://…/emu-act/v1/"/>`. The element is
 * ours (EMU-ACT/1, docs/protocols/activation.md): Cisco's phones "detect" activation-code
 * onboarding in XMLDefault.cnf.xml by means that are not public; a real phone ignores it.
 */
export interface DefaultOnboarding {
  model: string;
  method: 'activationCode' | 'autoRegistration';
  /** The Device Activation Service's base URL (HTTPS), for `activationCode`. */
  service: string;
}

export interface XmlDefaultConfig {
  kind: 'default';
  callManagers: CallManagerMember[];
  tvs: TvsMember[];
  loads: DefaultLoad[];
  onboarding?: DefaultOnboarding[];
}

export type PhoneConfig = DeviceConfig | XmlDefaultConfig;

export const DEFAULT_SIP_STACK: SipStack = {
  timerRegisterExpires: 3600,
  timerRegisterDelta: 5,
  timerKeepAliveExpires: 120,
  timerT1: 500,
  timerT2: 4000,
};

// ---- reading --------------------------------------------------------------------------------

const FORMAT = 'cnf.xml';
const bad = (e: XmlElement | string, message: string): never => {
  throw new WireError(FORMAT, 'bad-element', message, typeof e === 'string' ? e : e.path);
};

function int(e: XmlElement | undefined, fallback: number, min: number, max: number): number {
  const s = textOf(e);
  if (s === undefined || s === '') return fallback;
  if (!/^-?\d{1,10}$/.test(s)) bad(e!, `"${s}" is not an integer`);
  const v = Number(s);
  if (v < min || v > max) bad(e!, `${v} is outside ${min}..${max}`);
  return v;
}

function bool(e: XmlElement | undefined, fallback: boolean): boolean {
  const s = textOf(e);
  if (s === undefined || s === '') return fallback;
  if (s === 'true') return true;
  if (s === 'false') return false;
  return bad(e!, `"${s}" is not true or false`);
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function host(e: XmlElement | undefined, where: XmlElement, what: string): string {
  const s = textOf(e);
  if (!s) return bad(e ?? where, `${what} is missing`);
  if (!isIpv4(s) && (!HOSTNAME.test(s) || /^[\d.]+$/.test(s))) bad(e!, `"${s}" is not an IPv4 address or host name`);
  return s;
}

function str(e: XmlElement | undefined, max = 256): string {
  const s = textOf(e) ?? '';
  if (s.length > max) bad(e!, `text longer than ${max} characters`);
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(s)) bad(e!, 'control characters in text');
  return s;
}

function readCallManagerGroup(group: XmlElement | undefined, where: XmlElement): CallManagerMember[] {
  if (!group) return bad(where, 'callManagerGroup is missing');
  const members = at(group, 'members');
  if (!members) return bad(group, 'members is missing');
  const list = children(members, 'member');
  if (list.length === 0) bad(members, 'no member');
  if (list.length > MAX_MEMBERS) bad(members, `${list.length} members, at most ${MAX_MEMBERS}`);
  const out = list.map((m, i): CallManagerMember => {
    const p = m.attrs['priority'];
    if (p !== undefined && !/^\d{1,2}$/.test(p)) bad(m, `priority "${p}" is not a small integer`);
    const cm = child(m, 'callManager');
    if (!cm) return bad(m, 'callManager is missing');
    const ports = child(cm, 'ports');
    return {
      priority: p === undefined ? i : Number(p),
      host: host(child(cm, 'processNodeName'), cm, 'processNodeName'),
      sipPort: int(ports && child(ports, 'sipPort'), 5060, 1, 65535),
      securedSipPort: int(ports && child(ports, 'securedSipPort'), 5061, 1, 65535),
      ethernetPhonePort: int(ports && child(ports, 'ethernetPhonePort'), 2000, 1, 65535),
    };
  });
  // Lower priority value is tried first; equal priorities keep file order (stable sort).
  return out.sort((a, b) => a.priority - b.priority);
}

function readTvs(root: XmlElement): TvsMember[] {
  const members = at(root, 'TVS', 'members');
  if (!members) return [];
  const list = children(members, 'member');
  if (list.length > MAX_MEMBERS) bad(members, `${list.length} TVS members, at most ${MAX_MEMBERS}`);
  return list
    .map((m, i): TvsMember => {
      const p = m.attrs['priority'];
      if (p !== undefined && !/^\d{1,2}$/.test(p)) bad(m, `priority "${p}" is not a small integer`);
      return { priority: p === undefined ? i : Number(p), address: host(child(m, 'address'), m, 'address'), port: int(child(m, 'port'), 2445, 1, 65535) };
    })
    .sort((a, b) => a.priority - b.priority);
}

const isSpeedDial = (l: XmlElement) => str(child(l, 'featureID')) === SPEED_DIAL_FEATURE;

function lineElements(profile: XmlElement | undefined): XmlElement[] {
  const sipLines = profile && child(profile, 'sipLines');
  if (!sipLines) return [];
  const list = children(sipLines, 'line');
  if (list.length > MAX_LINES) bad(sipLines, `${list.length} lines, at most ${MAX_LINES}`);
  return list;
}

function readSpeedDials(profile: XmlElement | undefined): SpeedDialButton[] {
  return lineElements(profile).filter(isSpeedDial).map((l, i): SpeedDialButton => {
    const button = l.attrs['button'];
    if (button !== undefined && !/^\d{1,3}$/.test(button)) bad(l, `button "${button}" is not a number`);
    const number = str(child(l, 'speedDialNumber'), 64);
    if (!/^[0-9*#+]{1,64}$/.test(number)) bad(child(l, 'speedDialNumber') ?? l, `speed dial "${number}" is not a number a phone can dial`);
    return { button: button === undefined ? i + 2 : Number(button), number, label: str(child(l, 'featureLabel')) };
  });
}

function readLines(profile: XmlElement | undefined): SipLine[] {
  // Speed-dial buttons share sipLines with the lines; they are read apart (readSpeedDials).
  return lineElements(profile).filter((l) => !isSpeedDial(l)).map((l, i): SipLine => {
    const button = l.attrs['button'];
    if (button !== undefined && !/^\d{1,3}$/.test(button)) bad(l, `button "${button}" is not a number`);
    const dn = str(child(l, 'name'), 64);
    if (dn && !/^[A-Za-z0-9+*#._\-]+$/.test(dn)) bad(child(l, 'name')!, `"${dn}" is not a valid directory number`);
    const proxyText = str(child(l, 'proxy'), 253) || USECALLMANAGER;
    const proxy = proxyText === USECALLMANAGER ? proxyText : host(child(l, 'proxy'), l, 'proxy');
    return {
      button: button === undefined ? i + 1 : Number(button),
      dn,
      displayName: str(child(l, 'displayName')),
      label: str(child(l, 'featureLabel')),
      proxy,
      port: int(child(l, 'port'), 5060, 1, 65535),
      authName: str(child(l, 'authName')),
      authPassword: str(child(l, 'authPassword')),
      contact: str(child(l, 'contact')),
    };
  });
}

function speedDialsOf(profile: XmlElement | undefined): { speedDials?: SpeedDialButton[] } {
  const speedDials = readSpeedDials(profile);
  return speedDials.length ? { speedDials } : {};
}

function readSipStack(profile: XmlElement | undefined): SipStack {
  const s = profile && child(profile, 'sipStack');
  const d = DEFAULT_SIP_STACK;
  return {
    timerRegisterExpires: int(s && child(s, 'timerRegisterExpires'), d.timerRegisterExpires, 1, 86400 * 7),
    timerRegisterDelta: int(s && child(s, 'timerRegisterDelta'), d.timerRegisterDelta, 0, 3600),
    timerKeepAliveExpires: int(s && child(s, 'timerKeepAliveExpires'), d.timerKeepAliveExpires, 1, 86400),
    timerT1: int(s && child(s, 'timerT1'), d.timerT1, 1, 60000),
    timerT2: int(s && child(s, 'timerT2'), d.timerT2, 1, 600000),
  };
}

function readSecurity(root: XmlElement): DeviceSecurity {
  const list = at(root, 'capfList');
  const capf = list ? children(list, 'capf') : [];
  if (capf.length > MAX_MEMBERS) bad(list!, `${capf.length} CAPF servers, at most ${MAX_MEMBERS}`);
  const certHash = str(child(root, 'certHash'), 128).toLowerCase();
  if (certHash && !/^[0-9a-f]{32,128}$/.test(certHash)) bad(child(root, 'certHash')!, `"${certHash.slice(0, 40)}" is not a hex certificate hash`);
  return {
    capfAuthMode: int(child(root, 'capfAuthMode'), 0, 0, 4),
    capf: capf.map((c) => ({ host: host(child(c, 'processNodeName'), c, 'processNodeName'), port: int(child(c, 'phonePort'), 3804, 1, 65535) })),
    certHash,
    encrConfig: bool(child(root, 'encrConfig'), false),
  };
}

function readDevice(root: XmlElement): DeviceConfig {
  const fullConfig = bool(child(root, 'fullConfig'), true);
  const pool = child(root, 'devicePool');
  // The short file that goes with an encrypted one has no device pool: everything is in the other.
  if (!pool && !fullConfig) return readShortDevice(root);
  if (!pool) bad(root, 'devicePool is missing');
  const protocol = str(child(root, 'deviceProtocol')) || 'SIP';
  if (protocol !== 'SIP' && protocol !== 'SCCP') bad(child(root, 'deviceProtocol')!, `unknown deviceProtocol "${protocol}"`);
  const profile = child(root, 'sipProfile');
  return {
    kind: 'device',
    fullConfig,
    deviceProtocol: protocol as 'SIP' | 'SCCP',
    devicePoolName: str(child(pool!, 'name')),
    callManagers: readCallManagerGroup(child(pool!, 'callManagerGroup'), pool!),
    tvs: readTvs(root),
    registerWithProxy: bool(profile && at(profile, 'sipProxies', 'registerWithProxy'), true),
    sipStack: readSipStack(profile),
    lines: readLines(profile),
    ...speedDialsOf(profile),
    loadInformation: str(child(root, 'loadInformation'), 128),
    inactiveLoadInformation: str(child(root, 'inactiveLoadInformation'), 128),
    versionStamp: str(child(root, 'versionStamp'), 128),
    deviceSecurityMode: int(child(root, 'deviceSecurityMode'), 1, 1, 4),
    transportLayerProtocol: int(child(root, 'transportLayerProtocol'), 1, 1, 4),
    userLocale: str(at(root, 'userLocale', 'name')),
    networkLocale: str(child(root, 'networkLocale')),
    security: readSecurity(root),
  };
}

function readShortDevice(root: XmlElement): DeviceConfig {
  const protocol = str(child(root, 'deviceProtocol')) || 'SIP';
  if (protocol !== 'SIP' && protocol !== 'SCCP') bad(child(root, 'deviceProtocol')!, `unknown deviceProtocol "${protocol}"`);
  return {
    kind: 'device', fullConfig: false, deviceProtocol: protocol as 'SIP' | 'SCCP', devicePoolName: '', callManagers: [], tvs: [],
    registerWithProxy: true, sipStack: DEFAULT_SIP_STACK, lines: [],
    loadInformation: str(child(root, 'loadInformation'), 128), inactiveLoadInformation: '', versionStamp: '',
    deviceSecurityMode: 1, transportLayerProtocol: 1, userLocale: '', networkLocale: '',
    security: readSecurity(root),
  };
}

function readDefault(root: XmlElement): XmlDefaultConfig {
  const loads: DefaultLoad[] = [];
  for (const c of root.children) {
    const m = /^loadInformation(\d{1,6})$/.exec(c.name);
    if (!m) continue;
    loads.push({ code: Number(m[1]), model: c.attrs['model'] ?? '', load: str(c, 128) });
  }
  // CUCM's XMLDefault puts callManagerGroup at the root; some generators wrap it in devicePool.
  const group = child(root, 'callManagerGroup') ?? at(root, 'devicePool', 'callManagerGroup');
  const onboarding = children(root, 'emuOnboarding').map((o): DefaultOnboarding => {
    const method = o.attrs['method'];
    if (method !== 'activationCode' && method !== 'autoRegistration') return bad(o, `method "${(method ?? '').slice(0, 32)}" is not activationCode or autoRegistration`);
    const service = o.attrs['service'] ?? '';
    if (method === 'activationCode' && !/^https:\/\/[A-Za-z0-9.-]{1,253}(:\d{1,5})?\/[\x21-\x7e]{0,200}$/.test(service)) bad(o, 'service must be an https URL');
    const model = o.attrs['model'] ?? '';
    if (!/^[\x20-\x7e]{1,64}$/.test(model)) bad(o, 'model is missing');
    return { model, method, service };
  });
  if (onboarding.length > 256) bad(root, `${onboarding.length} emuOnboarding elements, at most 256`);
  return { kind: 'default', callManagers: readCallManagerGroup(group, root), tvs: readTvs(root), loads, ...(onboarding.length ? { onboarding } : {}) };
}

/** Parses either configuration file; the root element says which it is. */
export function parsePhoneConfig(bytes: Uint8Array | string): Result<PhoneConfig> {
  const doc = parseXml(bytes, FORMAT);
  if (!doc.ok) return doc;
  return catchWire(() => {
    const root = doc.value;
    if (root.name === 'device') return readDevice(root);
    if (root.name === 'Default') return readDefault(root);
    return bad(root, `root element <${root.name}> is neither <device> nor <Default>`);
  });
}

// ---- writing (the companion builds files with these; the phone reads them back) -------------

const memberNodes = (members: readonly CallManagerMember[]): XmlNode =>
  el('callManagerGroup', [
    el(
      'members',
      members.map((m) =>
        el(
          'member',
          [
            el('callManager', [
              el('ports', [el('ethernetPhonePort', m.ethernetPhonePort), el('sipPort', m.sipPort), el('securedSipPort', m.securedSipPort)]),
              el('processNodeName', m.host),
            ]),
          ],
          { priority: m.priority },
        ),
      ),
    ),
  ]);

const tvsNode = (tvs: readonly TvsMember[]): XmlNode[] =>
  tvs.length ? [el('TVS', [el('members', tvs.map((t) => el('member', [el('port', t.port), el('address', t.address)], { priority: t.priority })))])] : [];

const capfNodes = (s: DeviceSecurity): XmlNode[] => [
  el('capfAuthMode', s.capfAuthMode),
  ...(s.capf.length ? [el('capfList', s.capf.map((c) => el('capf', [el('phonePort', c.port), el('processNodeName', c.host)])))] : []),
];

const securityNodes = (s: DeviceSecurity): XmlNode[] => [...capfNodes(s), el('certHash', s.certHash), el('encrConfig', s.encrConfig)];

/**
 * The file served in the clear when the full one is encrypted: what the phone needs before it
 * can decrypt — which load, CAPF, which certificate the other file is for — and no secret.
 */
export function writeShortConfig(c: { loadInformation: string; security: DeviceSecurity }): string {
  return xmlDocument(el('device', [el('fullConfig', false), el('ipAddressMode', 0), el('loadInformation', c.loadInformation), ...securityNodes(c.security)]));
}

export function writeDeviceConfig(c: Omit<DeviceConfig, 'kind' | 'security'> & { security?: DeviceSecurity }): string {
  return xmlDocument(
    el('device', [
      el('fullConfig', c.fullConfig),
      el('deviceProtocol', c.deviceProtocol),
      el('ipAddressMode', 0),
      el('devicePool', [el('name', c.devicePoolName), memberNodes(c.callManagers)]),
      ...tvsNode(c.tvs),
      el('sipProfile', [
        el('sipProxies', [el('registerWithProxy', c.registerWithProxy)]),
        el('sipStack', [
          el('timerRegisterExpires', c.sipStack.timerRegisterExpires),
          el('timerRegisterDelta', c.sipStack.timerRegisterDelta),
          el('timerKeepAliveExpires', c.sipStack.timerKeepAliveExpires),
          el('timerT1', c.sipStack.timerT1),
          el('timerT2', c.sipStack.timerT2),
        ]),
        el(
          'sipLines',
          c.lines.map((l) =>
            el(
              'line',
              [
                el('featureID', 9),
                el('featureLabel', l.label),
                el('proxy', l.proxy),
                el('port', l.port),
                el('name', l.dn),
                el('displayName', l.displayName),
                el('authName', l.authName),
                el('authPassword', l.authPassword),
                el('contact', l.contact),
              ],
              { button: l.button, lineIndex: l.button },
            ),
          ).concat(
            (c.speedDials ?? []).map((d) =>
              el('line', [el('featureID', Number(SPEED_DIAL_FEATURE)), el('featureLabel', d.label), el('speedDialNumber', d.number)], { button: d.button, lineIndex: 0 }),
            ),
          ),
        ),
      ]),
      el('loadInformation', c.loadInformation),
      el('inactiveLoadInformation', c.inactiveLoadInformation),
      el('versionStamp', c.versionStamp),
      el('userLocale', [el('name', c.userLocale), el('langCode', 'en_US')]),
      el('networkLocale', c.networkLocale),
      el('deviceSecurityMode', c.deviceSecurityMode),
      el('transportLayerProtocol', c.transportLayerProtocol),
      ...securityNodes(c.security ?? NO_DEVICE_SECURITY),
    ]),
  );
}

export function writeXmlDefault(c: Omit<XmlDefaultConfig, 'kind'>): string {
  return xmlDocument(
    el('Default', [
      memberNodes(c.callManagers),
      ...tvsNode(c.tvs),
      ...c.loads.map((l) => el(`loadInformation${l.code}`, l.load, l.model ? { model: l.model } : undefined)),
      ...(c.onboarding ?? []).map((o) => el('emuOnboarding', '', { model: o.model, method: o.method, ...(o.service ? { service: o.service } : {}) })),
    ]),
  );
}
