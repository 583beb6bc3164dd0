/**
 * Where the companion's services listen once started. A port configured as 0 is the kernel's
 * choice, known only after binding; everything the companion tells others about itself (the
 * call manager and TVS ports in generated files, the status) must carry the bound port.
 */
import type { CompanionConfig } from './config.ts';

/** Bound ports of the running services; a service that does not run has none. */
export interface Endpoints {
  http?: number;
  tftp?: number;
  sip?: number;
  tvs?: number;
  capf?: number;
  activation?: number;
  web?: number;
  edos?: number;
}

/**
 * The configuration as served: ports configured as 0 replaced by the bound ones. A call manager
 * member with sipPort 0 can only be the default member, this companion itself.
 */
export function withBoundPorts(c: CompanionConfig, e: Endpoints): CompanionConfig {
  const sipPort = c.sip.port || e.sip || 0;
  return {
    ...c,
    http: { ...c.http, port: c.http.port || e.http || 0 },
    tftp: { ...c.tftp, port: c.tftp.port || e.tftp || 0 },
    sip: { ...c.sip, port: sipPort },
    callManagers: c.callManagers.map((m) => (m.sipPort === 0 ? { ...m, sipPort } : m)),
    security: { ...c.security, tvsPort: c.security.tvsPort || e.tvs || 0, capfPort: c.security.capfPort || e.capf || 0 },
    activation: { ...c.activation, port: c.activation.port || e.activation || 0 },
    web: { ...c.web, port: c.web.port || e.web || 0 },
    edos: { ...c.edos, port: c.edos.port || e.edos || 0 },
  };
}
