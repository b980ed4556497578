/**
 * Reconnect delay policy: exponential growth with jitter, so a server restart
 * is not met by every tab reconnecting in the same second.
 *
 * The delay for attempt n (0-based) is uniform in [BASE, min(CAP, BASE·2ⁿ)]:
 * never sooner than 1 s (no hammering), never later than 30 s (no long stalls).
 */

export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_CAP_MS = 30_000;

/**
 * @param {number} attempt consecutive failures so far, 0 for the first retry
 * @param {number} random a number in [0, 1), injected for testability
 * @returns {number} milliseconds to wait
 */
export function backoffDelay(attempt, random) {
  const n = Math.max(0, Math.min(attempt, 30)); // 2**30 already dwarfs the cap
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** n);
  const r = Math.min(Math.max(random, 0), 1);
  return Math.round(BACKOFF_BASE_MS + r * (ceiling - BACKOFF_BASE_MS));
}
