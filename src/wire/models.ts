/**
 * The phone models sepi can be. The device-type code is what CUCM calls the product code: the
 * phone sends it as `+u.sip!model.ccm.cisco.com` and XMLDefault keys `loadInformationNNN` by it
 * (reference cisco-boot-protocol.md §4.3; only codes seen in public traces are listed).
 */
export interface PhoneModel {
  /** Model number as printed on the phone and used in `CP-<model>`. */
  name: string;
  code: number;
  /** Firmware load the emulated phone runs, as reported in the REGISTER Reason header. */
  activeLoad: string;
  inactiveLoad: string;
  /** 78xx/88xx fetch over HTTP 6970 first; 79xx firmware asks TFTP only (reference §3.1). */
  httpFirst: boolean;
  /** Default-configuration names asked for, in order, when SEP<MAC>.cnf.xml is absent. */
  defaultConfigNames: readonly string[];
  /** Version printed in User-Agent: Cisco-CP<model>/<version>. */
  uaVersion: string;
}

const MODERN_DEFAULTS = ['XMLDefault.cnf.xml', 'SEPDEFAULT.cnf'] as const;

const table: PhoneModel[] = [
  { name: '7821', code: 621, activeLoad: 'sip78xx.14-2-1-0001-14', inactiveLoad: 'sip78xx.12-8-1-0001-455', httpFirst: true, defaultConfigNames: MODERN_DEFAULTS, uaVersion: '14.2.1' },
  { name: '7841', code: 622, activeLoad: 'sip78xx.14-2-1-0001-14', inactiveLoad: 'sip78xx.12-8-1-0001-455', httpFirst: true, defaultConfigNames: MODERN_DEFAULTS, uaVersion: '14.2.1' },
  { name: '7861', code: 623, activeLoad: 'sip78xx.14-2-1-0001-14', inactiveLoad: 'sip78xx.12-8-1-0001-455', httpFirst: true, defaultConfigNames: MODERN_DEFAULTS, uaVersion: '14.2.1' },
  { name: '8811', code: 36217, activeLoad: 'sip88xx.14-2-1-0001-14', inactiveLoad: 'sip88xx.12-8-1-0001-455', httpFirst: true, defaultConfigNames: MODERN_DEFAULTS, uaVersion: '14.2.1' },
  { name: '8841', code: 683, activeLoad: 'sip88xx.14-2-1-0001-14', inactiveLoad: 'sip88xx.12-8-1-0001-455', httpFirst: true, defaultConfigNames: MODERN_DEFAULTS, uaVersion: '14.2.1' },
  { name: '8851', code: 684, activeLoad: 'sip88xx.14-2-1-0001-14', inactiveLoad: 'sip88xx.12-8-1-0001-455', httpFirst: true, defaultConfigNames: MODERN_DEFAULTS, uaVersion: '14.2.1' },
  { name: '8861', code: 685, activeLoad: 'sip88xx.14-2-1-0001-14', inactiveLoad: 'sip88xx.12-8-1-0001-455', httpFirst: true, defaultConfigNames: MODERN_DEFAULTS, uaVersion: '14.2.1' },
  // 79xx Java phones: TFTP only, and SEPDEFAULT.cnf is the name the older guides give first.
  { name: '7970', code: 30006, activeLoad: 'SIP70.9-4-2SR3-1S', inactiveLoad: '', httpFirst: false, defaultConfigNames: ['SEPDEFAULT.cnf', 'XMLDefault.cnf.xml'], uaVersion: '9.4.2' },
  { name: '7975', code: 437, activeLoad: 'SIP75.9-4-2SR3-1S', inactiveLoad: '', httpFirst: false, defaultConfigNames: ['SEPDEFAULT.cnf', 'XMLDefault.cnf.xml'], uaVersion: '9.4.2' },
];

export const PHONE_MODELS: ReadonlyMap<string, PhoneModel> = new Map(table.map((m) => [m.name, m]));

export const modelByName = (name: string): PhoneModel | undefined => PHONE_MODELS.get(name.replace(/^CP-/i, ''));
export const modelByCode = (code: number): PhoneModel | undefined => table.find((m) => m.code === code);

/** DHCP option 60 as Cisco phones send it (reference §2.1). */
export const vendorClassFor = (m: PhoneModel): string => `Cisco Systems, Inc. IP Phone CP-${m.name}`;
