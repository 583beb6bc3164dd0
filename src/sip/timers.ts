/**
 * The transaction timers (RFC 3261 §17 and Appendix A, RFC 6026 §8 for L and M), all derived
 * from T1 (round-trip estimate, 500 ms), T2 (longest retransmit interval for non-INVITE requests
 * and INVITE responses, 4 s) and T4 (longest a message stays in the network, 5 s). A lab may
 * set them; every value below follows, so a shorter T1 shortens Timer B with it.
 */

export interface SipTimerSettings {
  t1: number;
  t2: number;
  t4: number;
}

export const DEFAULT_TIMER_SETTINGS: Readonly<SipTimerSettings> = { t1: 500, t2: 4000, t4: 5000 };

export interface SipTimerValues extends SipTimerSettings {
  /** INVITE retransmit, first interval; doubles every time with no cap (§17.1.1.2). */
  A: number;
  /** INVITE transaction timeout. */
  B: number;
  /** Wait in Completed for retransmitted final responses (UDP; 0 over TCP/TLS). At least 32 s. */
  D: number;
  /** Non-INVITE retransmit, first interval; doubles up to T2, and is T2 once a provisional came (§17.1.2.2). */
  E: number;
  /** Non-INVITE transaction timeout. */
  F: number;
  /** INVITE final-response retransmit, first interval; doubles up to T2 (§17.2.1). */
  G: number;
  /** Wait for the ACK of a non-2xx final response. */
  H: number;
  /** Wait in Confirmed for ACK retransmissions (UDP; 0 over TCP/TLS). */
  I: number;
  /** Wait in a server non-INVITE Completed state for request retransmissions (UDP; 0 over TCP/TLS). */
  J: number;
  /** Wait in a client non-INVITE Completed state for response retransmissions (UDP; 0 over TCP/TLS). */
  K: number;
  /** RFC 6026: server INVITE Accepted state (2xx sent, its retransmissions the TU's). */
  L: number;
  /** RFC 6026: client INVITE Accepted state (2xx received, more 2xx forwarded to the TU). */
  M: number;
  /** §17.2.1: a server INVITE transaction sends 100 Trying when the TU has said nothing for this long. */
  trying: number;
}

export function timerValues(s: Partial<SipTimerSettings> = {}): SipTimerValues {
  const { t1, t2, t4 } = { ...DEFAULT_TIMER_SETTINGS, ...s };
  if (!(t1 > 0 && t2 >= t1 && t4 > 0)) throw new RangeError(`SIP timers need 0 < T1 <= T2 and T4 > 0 (got ${t1}/${t2}/${t4})`);
  const t64 = 64 * t1;
  return { t1, t2, t4, A: t1, B: t64, D: Math.max(32_000, t64), E: t1, F: t64, G: t1, H: t64, I: t4, J: t64, K: t4, L: t64, M: t64, trying: 200 };
}
