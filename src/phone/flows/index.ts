/** The boot flow of each persona. */
import { EnterpriseFlow } from './enterprise.ts';
import type { BootFlow, Persona } from './flow.ts';
import { MppFlow } from './mpp.ts';

export function flowFor(persona: Persona): BootFlow {
  switch (persona) {
    case 'enterprise':
      return new EnterpriseFlow();
    case 'mpp':
      return new MppFlow();
  }
}
