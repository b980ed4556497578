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
const SERVER_WORDED = new Set(['invalid_number', 'weak_password', 'invalid_email', 'invalid_display_name', 'invalid_name',
  // sign-up refusals (server/auth/signup.py, the terms, the budget of verification texts)
  'signup_closed', 'invite_required', 'invite_invalid', 'country_not_allowed', 'terms_required', 'terms_changed',
  'sms_budget_spent']);

/**
 * @param {unknown} err an ApiError, or anything thrown
 * @param {string} [fallback]
 * @param {Record<string, string>} [overrides] per-screen wording for some codes
 */
export function userMessage(err, fallback = 'Something went wrong. Please try again.', overrides = {}) {
  const code = errorCode(err);
  if (code in overrides) return overrides[code];
  if (SERVER_WORDED.has(code) && err instanceof Error && err.message) return err.message;
  const wait = retryAfter(err);
  if (code === 'rate_limited' && wait) return `Too many attempts. Try again in ${waitWords(wait)}.`;
  return WORDS[/** @type {keyof WORDS} */ (code)] ?? fallback;
}

/**
 * A wait in words, never promising less than the truth: "14 minutes", "1 minute",
 * "less than a minute" (a countdown beside it gives the seconds).
 * @param {number} seconds
 */
export function waitWords(seconds) {
  if (seconds < 60) return 'less than a minute';
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 120) return minutes === 1 ? '1 minute' : `${minutes} minutes`;
  const hours = Math.ceil(minutes / 60);
  return `${hours} hours`;
}

/** @param {unknown} err @returns {number|null} seconds from Retry-After */
export function retryAfter(err) {
  const value = err && typeof err === 'object' && 'retryAfter' in err ? err.retryAfter : null;
  return typeof value === 'number' && value > 0 ? value : null;
}
