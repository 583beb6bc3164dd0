/**
 * The phone's call, as one state with guarded transitions (flows/state-machine.ts). One call at
 * a time: no hold, no transfer, no second line.
 *
 *   idle ──digit / NewCall──► dialing ──Dial / inter-digit timeout──► calling ──18x──► ringback
 *    │                          │ EndCall                               │  │              │
 *    │                          ▼                                       │  └──2xx─────────┼──► connected ──BYE either way──► ended
 *    │                        idle                                      └─final ≥ 300 ────┴──► ended          ▲
 *    └──INVITE──► ringing ──Answer (or --auto-answer)──► connected                                            │
 *                    └──EndCall (486) / caller's CANCEL / the line lost ──────────────────────────────────────┘
 *   ended ──3 s or a key──► idle        ended ──a new call──► dialing / calling / ringing
 *
 * A call still being set up or connected also ends when the registration that carries it is
 * lost (`line-lost`): its connection to the call manager went with it.
 */
import type { Edges } from '../flows/state-machine.ts';

export type CallState = 'idle' | 'dialing' | 'calling' | 'ringback' | 'ringing' | 'connected' | 'ended';

export const CALL_EDGES: Edges<CallState> = {
  idle: ['dialing', 'calling', 'ringing'],
  dialing: ['calling', 'idle'],
  calling: ['ringback', 'connected', 'ended'],
  ringback: ['connected', 'ended'],
  ringing: ['connected', 'ended'],
  connected: ['ended'],
  ended: ['idle', 'dialing', 'calling', 'ringing'],
};

/**
 * Why a call ended. `local-hangup` and `remote-hangup` end a connected call normally; the rest
 * are failures (`abandoned`: digits typed and never dialed, which no lab counts).
 */
export const CALL_END_REASONS = [
  'local-hangup', 'remote-hangup', 'rejected', 'cancelled', 'caller-cancelled', 'declined', 'no-answer', 'unsupported-media', 'failed', 'line-lost', 'abandoned',
] as const;
export type CallEndReason = (typeof CALL_END_REASONS)[number];

export const isNormalEnd = (r: CallEndReason): boolean => r === 'local-hangup' || r === 'remote-hangup';

/** What the ended screen says. */
export const END_TEXT: Readonly<Record<CallEndReason, string>> = {
  'local-hangup': 'Call ended',
  'remote-hangup': 'Far end hung up',
  'rejected': 'Call refused',
  'cancelled': 'Call cancelled',
  'caller-cancelled': 'Caller hung up',
  'declined': 'Call declined',
  'no-answer': 'No answer',
  'unsupported-media': 'No common codec',
  'failed': 'Call failed',
  'line-lost': 'Line lost',
  'abandoned': 'Not dialed',
};
