/**
 * The phone's retry ladders, by name. Each is one Backoff spec; the numbers are what a Cisco
 * phone does as far as its logs show, rounded to what a person watching the LCD can follow.
 */
import type { BackoffSpec } from '../common/backoff.ts';

/** No DHCP lease this round (every DISCOVER unanswered, or NAKs): 10 s doubling to 2 min. */
export const DHCP_RETRY: BackoffSpec = { name: 'dhcp-retry', firstSecs: 10, maxSecs: 120 };
/** No TFTP server answered, no configuration file found, TVS down: 5 s doubling to 2 min. */
export const CONFIG_RETRY: BackoffSpec = { name: 'config-retry', firstSecs: 5, maxSecs: 120 };
/** Every call manager refused the phone: read the configuration again after 5 s doubling to 1 min. */
export const REGISTER_RETRY: BackoffSpec = { name: 'register-retry', firstSecs: 5, maxSecs: 60 };
/** No call manager of the group answered at all: 5 s doubling to 2 min. */
export const CM_UNANSWERED_RETRY: BackoffSpec = { name: 'cm-unanswered-retry', firstSecs: 5, maxSecs: 120 };
