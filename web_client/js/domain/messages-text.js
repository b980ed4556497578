/**
 * Error codes → words for people. Some server refusals already carry a
 * sentence written for users (password policy, phone format); those are
 * shown as sent. Everything else gets a fixed sentence here.
 */
import { errorCode } from './session.js';

const WORDS = {
  network_error: 'Can’t reach the server. Check your connection.',
  rate_limited: 'Too many attempts. Wait a minute, then try again.',
  invalid_code: 'That code is wrong or has expired.',
  wrong_password: 'Your current password is not right.',
  unauthenticated: 'Your session has ended. Please sign in again.',
  device_limit: 'This account has as many phones as allowed. Remove one first.',
};
/** Codes whose server message is already written for the user. */
const SERVER_WORDED = new Set(['invalid_number', 'weak_password', 'invalid_email', 'invalid_display_name', 'invalid_name']);

/**
 * @param {unknown} err an ApiError, or anything thrown
 * @param {string} [fallback]
 * @param {Record<string, string>} [overrides] per-screen wording for some codes
 */
export function userMessage(err, fallback = 'Something went wrong. Please try again.', overrides = {}) {
  const code = errorCode(err);
  if (code in overrides) return overrides[code];
  if (SERVER_WORDED.has(code) && err instanceof Error && err.message) return err.message;
  return WORDS[/** @type {keyof WORDS} */ (code)] ?? fallback;
}

/** @param {unknown} err @returns {number|null} seconds from Retry-After */
export function retryAfter(err) {
  const value = err && typeof err === 'object' && 'retryAfter' in err ? err.retryAfter : null;
  return typeof value === 'number' && value > 0 ? value : null;
}
