/**
 * The phone's web page sees the phone through PhoneWebPort (web/port.ts); this is that port over
 * a Handset: the same status reducer and event bus the LCD is drawn from, the LCD's current
 * frame, and the firmware's own actions — so the page and the LCD cannot disagree.
 */
import { serialForMac } from '../factory/factory-files.ts';
import type { Handset } from './handset.ts';
import type { PhoneWebPort } from './web/port.ts';

export function handsetWebPort(h: Handset): PhoneWebPort {
  const fw = h.firmware;
  // Parameters live in NVRAM (read asynchronously); the page reads the copy kept current here.
  let params: Record<string, string> = {};
  const refresh = () => void fw.parameters().then((p) => (params = p)).catch(() => {});
  refresh();
  h.subscribe((e) => {
    if (e.type === 'event' && (e.step === 'profile' || e.step === 'customization' || e.step === 'power')) refresh();
  });
  return {
    persona: fw.persona,
    identity: () => {
      const s = fw.status;
      const mac = s.deviceName.slice(3);
      return { productName: fw.persona === 'mpp' ? `CP-${s.model}-3PCC` : `CP-${s.model}`, mac, serial: serialForMac(mac), softwareVersion: s.load };
    },
    status: () => fw.status,
    screen: () => {
      const f = h.frame();
      return { rows: f.rows, softkeys: f.softkeys };
    },
    subscribe: (fn) => h.subscribe(fn),
    parameters: () => params,
    configure: async (values, source) => {
      const r = await fw.configure(values, source);
      refresh();
      return r;
    },
    resync: () => void fw.resync(),
    factoryReset: () => fw.factoryReset(),
    waitScale: () => fw.waitScale,
    setWaitScale: (f) => {
      fw.waitScale = f;
    },
  };
}
