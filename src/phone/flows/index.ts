/** The boot flow of each persona. The Multiplatform (`mpp`) flow is the next to land here. */
import { EnterpriseFlow } from './enterprise.ts';
import type { BootFlow, Persona } from './flow.ts';

export function flowFor(persona: Persona): BootFlow {
  switch (persona) {
    case 'enterprise':
      return new EnterpriseFlow();
    case 'mpp':
      throw new RangeError('the Multiplatform (mpp) persona is not built yet');
  }
}
