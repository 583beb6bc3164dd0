/**
 * A boot flow: what a phone does once it has an address. The persona picks it — `enterprise`
 * (a Unified CM phone: trust lists, configuration file, onboarding, firmware load,
 * registration) today, `mpp` (a Multiplatform phone: DHCP provisioning options, EDOS, profile,
 * registration) next. Firmware keeps power, the boot cycle, DHCP and the event bus, and hands a
 * flow everything else through this context.
 */
import type { MacAddress } from '../../wire/mac.ts';
import type { PhoneModel } from '../../wire/models.ts';
import type { Clock } from '../../common/clock.ts';
import type { RebootReason } from '../events.ts';
import type { Nvram } from '../nvram.ts';
import type { NetworkPort, UserPrompt } from '../ports.ts';
import type { ProvisioningFetcher } from '../provisioning-fetcher.ts';
import type { NetContext, Report } from '../provisioning.ts';
import type { TrustStore } from '../trust-store.ts';
import type { TvsClient } from '../tvs-client.ts';
import type { MicIssuer } from '../../factory/manufacturing-ca.ts';
import type { Banks } from '../banks.ts';
import type { SipLineFlow } from '../sip-registration.ts';

export type Persona = 'enterprise' | 'mpp';

export interface FlowContext {
  mac: MacAddress;
  model: PhoneModel;
  network: NetworkPort;
  clock: Clock;
  nvram: Nvram;
  trust: TrustStore;
  tvs: TvsClient;
  fetcher: ProvisioningFetcher;
  /** Asks the person at the phone (an activation code, a yes/no). */
  prompt: UserPrompt;
  /** The address this cycle has and where provisioning may come from. */
  net: NetContext;
  /** Why this cycle began: the first REGISTER says so. */
  reason: RebootReason;
  localAddress: string | undefined;
  /** Every retry wait lasts this many times its nominal length (a lab option; events say nominal). */
  waitScale: number;
  /** Makes the phone's MIC when it has none (the lab factory); absent when the phone cannot reach one. */
  micIssuer?: MicIssuer;
  /** The two firmware banks. */
  banks: Banks;
  /** The firmware signer a load must be signed by (PEM); without one no load is installed. */
  firmwareCert?: string;
  /** Fetches load components: the provisioning fetcher with a firmware-sized cap. */
  loadFetcher: ProvisioningFetcher;
  report: Report;
  /** Where a Multiplatform phone asks EDOS (`--edos URL`); the documented host unless said. */
  edosUrl?: string;
  /** The registered line (its user agent and connection to the call manager) for calls, undefined when it goes. */
  onSipLine?: (line: SipLineFlow | undefined) => void;
  /** Publishes a state change of the flow. */
  onTransition: (from: string, to: string) => void;
  /** A reset (from DHCP) or a restart (configuration again), asked for by the network. */
  reboot: (kind: 'reset' | 'restart', reason: RebootReason) => void;
}

export interface BootFlow {
  readonly persona: Persona;
  /** Runs until the cycle's signal aborts (rejecting with its reason); never returns otherwise. */
  run(ctx: FlowContext, signal: AbortSignal): Promise<never>;
  /** A resync now (Multiplatform: the web page's Resync); false when the flow has none or no cycle runs. */
  requestResync?(): boolean;
}
