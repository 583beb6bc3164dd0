/**
 * Who a Multiplatform phone says it is: product name `CP-8841-3PCC`, product series `8841`, its
 * serial, its software version, and the HTTP User-Agent `Cisco-CP-8841-3PCC/12.0.1 (<mac>)`
 * (reference onboarding-protocol.md §3.1; the parentheses hold the MAC in the public example),
 * and the macro values a profile rule is expanded with.
 */
import { serialForMac } from '../../factory/factory-files.ts';
import type { MacAddress } from '../../wire/mac.ts';
import type { PhoneModel } from '../../wire/models.ts';

/** Multiplatform firmware versions of the emulated phones (what the Info page and $SWVER show). */
const MPP_VERSION = { dotted: '12.0.1', load: '12-0-1MPP0001-29' } as const;

export interface MppIdentity {
  /** `$PN`: CP-8841-3PCC. */
  productName: string;
  /** `$PSN`: 8841. */
  productSeries: string;
  mac: MacAddress;
  /** `$SN`, as the factory printed it (and put in the client certificate's L=). */
  serial: string;
  /** `$SWVER`: the load, e.g. sip88xx.12-0-1MPP0001-29. */
  softwareVersion: string;
  hardwareVersion: string;
  userAgent: string;
}

/** A model only runs Multiplatform firmware if a 3PCC load exists for it: 78xx and 88xx. */
export const hasMppFirmware = (m: PhoneModel): boolean => /^sip(78|88)xx\./.test(m.activeLoad);

/** The model as flashed with Multiplatform firmware: the same hardware, MPP loads in both banks. */
export function asMppModel(m: PhoneModel): PhoneModel {
  const family = m.activeLoad.split('.')[0];
  return { ...m, activeLoad: `${family}.${MPP_VERSION.load}`, inactiveLoad: `${family}.11-3-7MPP0001-609`, uaVersion: MPP_VERSION.dotted };
}

export function mppIdentity(model: PhoneModel, mac: MacAddress): MppIdentity {
  const productName = `CP-${model.name}-3PCC`;
  return {
    productName,
    productSeries: model.name,
    mac,
    serial: serialForMac(mac.hex),
    softwareVersion: model.activeLoad,
    hardwareVersion: '1',
    userAgent: `Cisco-${productName}/${model.uaVersion} (${mac.hex.toLowerCase()})`,
  };
}

/** What changes between resyncs: the phone's address, whether it is customized, why it resyncs. */
export interface MacroContext {
  ip: string;
  customized: boolean;
  /** `$PRVST`: -1 explicit, 0 power-up, 1 periodic, 2 retry. */
  provisioningState: -1 | 0 | 1 | 2;
  clientCertificate: boolean;
  /** Seconds since the last provisioning attempt (`$PRVTMR`). */
  secondsSinceResync: number;
  userIds: string[];
}

/** The macro values of reference §3.1, for expandMacros and evaluateCondition. */
export function macroValues(id: MppIdentity, c: MacroContext, gpp: Record<string, string>): Record<string, string> {
  const hex = id.mac.hex.toLowerCase();
  const v: Record<string, string> = {
    ...gpp,
    MA: hex,
    MAU: hex.toUpperCase(),
    MAC: hex.match(/../g)!.join(':'),
    PN: id.productName,
    PSN: id.productSeries,
    SN: id.serial,
    SWVER: id.softwareVersion,
    HWVER: id.hardwareVersion,
    IP: c.ip,
    EXTIP: '',
    CCERT: c.clientCertificate ? 'Installed' : 'Not Installed',
    ISCUST: c.customized ? '1' : '0',
    PRVST: String(c.provisioningState),
    PRVTMR: String(Math.max(0, Math.round(c.secondsSinceResync))),
  };
  c.userIds.forEach((u, n) => (v[`UID${n + 1}`] = u));
  return v;
}
