/** The onboarding subject's parts over one database, as the companion (and a test) assembles them. */
import { join } from 'node:path';
import type { Clock } from '../../common/clock.ts';
import { OnboardingOperations } from '../admin/onboarding.ts';
import type { CompanionConfig } from '../config.ts';
import type { CompanionDb } from '../db.ts';
import { DeviceActivation } from './device-activation.ts';
import { ManufacturingTrust } from './manufacturing-trust.ts';
import { ActivationStore } from './store.ts';

export interface OnboardingParts {
  store: ActivationStore;
  activation: DeviceActivation;
  manufacturing: ManufacturingTrust;
  operations: OnboardingOperations;
}

export async function openOnboarding(o: { db: CompanionDb; config: CompanionConfig; clock: Clock; log: (line: string) => void; dataDir: string }): Promise<OnboardingParts> {
  const store = new ActivationStore(o.db);
  const activation = new DeviceActivation({ db: o.db, store, clock: o.clock, ttlHours: o.config.activation.ttlHours, log: o.log });
  const manufacturing = await ManufacturingTrust.open(join(o.dataDir, 'pki'), o.config.activation.manufacturingCaFiles, o.log);
  const operations = new OnboardingOperations({ db: o.db, store, activation, trust: manufacturing, clock: o.clock, log: o.log });
  await operations.ensureAdmin(o.dataDir);
  return { store, activation, manufacturing, operations };
}
