/**
 * The Cisco-specific parts of SIP registration (reference cisco-boot-protocol.md §9.1):
 * the Contact parameters that identify the device, the first-REGISTER Reason header carrying the
 * loads, the backup keep-alive marker, and the `service-control` NOTIFY body.
 */
import { MacAddress } from './mac.ts';
import { parseNameAddr, splitList } from './sip.ts';

export interface CiscoContact {
  uri: string;
  mac: MacAddress | undefined;
  deviceName: string | undefined;
  modelCode: number | undefined;
  /** `expires=0;cisco-keep-alive`: a keep-alive to a backup call manager, not a de-registration. */
  keepAlive: boolean;
  expires: number | undefined;
}

export function buildCiscoContact(p: { user: string; host: string; port: number; mac: MacAddress; modelCode: number; keepAlive?: boolean }): string {
  const keep = p.keepAlive ? ';expires=0;cisco-keep-alive' : '';
  return (
    `<sip:${p.user}@${p.host}:${p.port};transport=tcp>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-${p.mac.lower}>"` +
    `;+u.sip!devicename.ccm.cisco.com="${p.mac.deviceName}";+u.sip!model.ccm.cisco.com="${p.modelCode}"${keep}`
  );
}

export function parseCiscoContacts(value: string): CiscoContact[] {
  if (value.trim() === '*') return [];
  return splitList(value).flatMap((c): CiscoContact[] => {
    const na = parseNameAddr(c);
    if (!na) return [];
    const inst = /^<urn:uuid:00000000-0000-0000-0000-([0-9a-fA-F]{12})>$/.exec(na.params['+sip.instance'] ?? '');
    const dev = na.params['+u.sip!devicename.ccm.cisco.com'];
    const model = na.params['+u.sip!model.ccm.cisco.com'];
    const exp = na.params['expires'];
    return [{
      uri: na.uri,
      mac: inst ? MacAddress.parse(inst[1]!) : dev ? MacAddress.parse(dev) : undefined,
      deviceName: dev && /^SEP[0-9A-F]{12}$/i.test(dev) ? dev.toUpperCase() : undefined,
      modelCode: model && /^\d{1,6}$/.test(model) ? Number(model) : undefined,
      keepAlive: 'cisco-keep-alive' in na.params,
      expires: exp !== undefined && /^\d{1,10}$/.test(exp) ? Number(exp) : undefined,
    }];
  });
}

/** `Reason: SIP;cause=200;text="cisco-alarm:23 Name=SEP… ActiveLoad=… InactiveLoad=… Last=…"`. */
export function buildAlarmReason(p: { deviceName: string; activeLoad: string; inactiveLoad: string; last: string }): string {
  const inactive = p.inactiveLoad ? ` InactiveLoad=${p.inactiveLoad}` : '';
  return `SIP;cause=200;text="cisco-alarm:23 Name=${p.deviceName} ActiveLoad=${p.activeLoad}${inactive} Last=${p.last}"`;
}

export function parseAlarmReason(v: string): { name?: string; activeLoad?: string; inactiveLoad?: string; last?: string } | undefined {
  const m = /text="cisco-alarm:\d+ ([^"]*)"/.exec(v);
  if (!m) return undefined;
  const out: Record<string, string> = {};
  for (const kv of m[1]!.split(/\s+/)) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return { name: out['Name'], activeLoad: out['ActiveLoad'] ?? out['Load'], inactiveLoad: out['InactiveLoad'], last: out['Last'] };
}

export type ServiceAction = 'reset' | 'restart' | 'prt-report' | 'apply-config';

export interface ServiceControl {
  action: ServiceAction;
  registerCallId: string;
  configVersionStamp: string;
}

const ZERO_STAMP = '{00000000-0000-0000-0000-000000000000}';

export function buildServiceControl(s: ServiceControl): string {
  return [
    `action=${s.action}`,
    `RegisterCallId={${s.registerCallId}}`,
    `ConfigVersionStamp=${s.configVersionStamp || ZERO_STAMP}`,
    `DialplanVersionStamp=${ZERO_STAMP}`,
    `SoftkeyVersionStamp=${ZERO_STAMP}`,
    `FeatureControlVersionStamp=${ZERO_STAMP}`,
    '',
  ].join('\r\n');
}

export function parseServiceControl(body: string): ServiceControl | undefined {
  if (body.length > 4096) return undefined;
  const kv: Record<string, string> = {};
  for (const line of body.split(/\r?\n/)) {
    const i = line.indexOf('=');
    if (i > 0) kv[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  const action = kv['action'];
  if (action !== 'reset' && action !== 'restart' && action !== 'prt-report' && action !== 'apply-config') return undefined;
  const callId = /^\{(.*)\}$/.exec(kv['RegisterCallId'] ?? '');
  return { action, registerCallId: callId ? callId[1]! : (kv['RegisterCallId'] ?? ''), configVersionStamp: kv['ConfigVersionStamp'] ?? '' };
}
