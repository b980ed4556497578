/**
 * Who is signed in. Knows nothing about conversations; the app model reacts
 * to `state` changes by starting or stopping sync.
 *
 *   unknown ──restore()──▶ signed-in | signed-out
 *   signed-out ──signIn() ok──▶ signed-in        (busy while the request runs)
 *   signed-in ──signOut() / expire()──▶ signed-out
 *
 * A 429 on sign-in locks that number for the server's real wait (Retry-After):
 * the error says how long in words, `lockedFor()` counts it down by the second.
 * Another number may be tried meanwhile (the server counts per account, and
 * per address only past a limit sized for a whole office).
 */
import { retryAfter, waitWords } from './messages-text.js';
import { Observable } from './observable.js';

/** @typedef {import('../protocol/schema.js').Account} Account */
/** @typedef {'unknown'|'signed-out'|'signed-in'} SessionState */

const SIGN_IN_ERRORS = {
  invalid_credentials: 'That phone number and password don’t match.',
  rate_limited: 'Too many sign-in attempts. Wait a minute, then try again.',
  network_error: 'Can’t reach the server. Check your connection.',
};
const LOCKED = (/** @type {number} */ seconds) => `Too many sign-in attempts. Try again in ${waitWords(seconds)}.`;

export class Session extends Observable {
  /** @type {SessionState} */
  state = 'unknown';
  /** @type {Account|null} */
  account = null;
  busy = false;
  /** @type {string|null} shown on the sign-in form */
  error = null;
  /** @type {string|null} why we are signed out, when the user did not ask for it */
  notice = null;
  /** epoch ms until which the server refuses sign-ins for `lockedPhone` (429) */
  lockedUntil = 0;
  lockedPhone = '';
  /** @type {unknown} */ #tick = null;

  /**
   * @param {import('./api.js').FerryApi} api
   * @param {import('../platform/clock.js').Clock} clock
   */
  constructor(api, clock) {
    super();
    this.api = api;
    this.clock = clock;
  }

  /** Seconds until the server takes a sign-in again; 0 when it does now. */
  lockedFor() {
    return Math.max(0, Math.ceil((this.lockedUntil - this.clock.now()) / 1000));
  }

  async restore() {
    try {
      this.#signedIn(await this.api.me());
    } catch (err) {
      // A server that is down should not look like "signed out" forever; the
      // form shows why and signing in retries.
      if (errorCode(err) === 'network_error') this.error = SIGN_IN_ERRORS.network_error;
      this.#signedOut(null);
    }
  }

  /** @param {string} phone @param {string} password */
  async signIn(phone, password) {
    if (this.busy || (this.lockedFor() > 0 && phone.trim() === this.lockedPhone)) return;
    if (!phone.trim() || !password) {
      this.error = 'Enter your phone number and password.';
      this.emitChange();
      return;
    }
    this.busy = true;
    this.error = null;
    this.notice = null;
    this.emitChange();
    try {
      this.#signedIn(await this.api.signIn(phone.trim(), password));
    } catch (err) {
      const code = errorCode(err);
      this.error = SIGN_IN_ERRORS[/** @type {keyof SIGN_IN_ERRORS} */ (code)] ?? 'Sign-in failed. Please try again.';
      const wait = code === 'rate_limited' ? retryAfter(err) : null;
      if (wait) this.#lock(phone.trim(), wait);
      this.busy = false;
      this.emitChange();
    }
  }

  /**
   * Count the lock down; its sentence changes with the minute, not every second.
   * @param {string} phone @param {number} seconds
   */
  #lock(phone, seconds) {
    this.lockedPhone = phone;
    this.lockedUntil = this.clock.now() + seconds * 1000;
    this.error = LOCKED(seconds);
    this.clock.clearTimeout(this.#tick);
    const tick = () => {
      const left = this.lockedFor();
      if (left > 0) {
        this.error = LOCKED(left);
        this.#tick = this.clock.setTimeout(tick, 1000);
      } else if (this.error?.startsWith('Too many sign-in attempts')) this.error = null;
      this.emitChange();
    };
    this.#tick = this.clock.setTimeout(tick, 1000);
  }

  async signOut() {
    try {
      await this.api.signOut();
    } catch {
      // The cookie may already be gone; locally we are signed out either way.
    }
    this.#signedOut(null);
  }

  /** A request that signs in by itself (password reset) or refreshes the account. @param {Account} account */
  adopt(account) {
    this.#signedIn(account);
  }

  /** The server told us the session is gone (401, websocket close 4401). */
  expire() {
    if (this.state !== 'signed-in') return;
    this.#signedOut('Your session has ended. Please sign in again.');
  }

  /** The account is gone (deleted by its user): signed out, saying so. @param {string} notice */
  ended(notice) {
    // The account's sockets close as it goes, and may have signed the page out first:
    // the reason given here replaces "your session has ended".
    this.#signedOut(notice);
  }

  /** @param {Account} account */
  #signedIn(account) {
    this.clock.clearTimeout(this.#tick);
    this.lockedUntil = 0;
    this.lockedPhone = '';
    this.account = account;
    this.state = 'signed-in';
    this.busy = false;
    this.error = null;
    this.emitChange();
  }

  /** @param {string|null} notice */
  #signedOut(notice) {
    this.account = null;
    this.state = 'signed-out';
    this.busy = false;
    this.notice = notice;
    this.emitChange();
  }
}

/** @param {unknown} err */
export function errorCode(err) {
  return err && typeof err === 'object' && 'code' in err ? String(err.code) : 'unexpected';
}
