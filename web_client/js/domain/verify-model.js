/**
 * The "verify your number" screen. Three ways out, whichever comes first:
 * the user types the code, the paired bridge submits it by itself (we notice
 * by polling GET /me while the screen is open), or the user signs out.
 * "Send a new code" cools down for a minute after each send, as the server does.
 */
import { retryAfter, userMessage } from './messages-text.js';
import { Observable } from './observable.js';
import { errorCode } from './session.js';

export const POLL_MS = 4000;
export const RESEND_COOLDOWN_S = 60;

export class VerifyModel extends Observable {
  busy = false;
  /** @type {string|null} */ error = null;
  /** @type {string|null} */ notice = null;
  /** epoch ms until which "resend" is disabled */
  cooldownUntil = 0;
  #running = false;
  /** @type {unknown} */ #pollTimer = null;
  /** @type {unknown} */ #tickTimer = null;

  /**
   * @param {object} deps
   * @param {import('./api.js').FerryApi} deps.api
   * @param {import('../platform/clock.js').Clock} deps.clock
   * @param {(account: import('../protocol/schema.js').Account) => void} deps.onVerified
   * @param {() => void} deps.onSessionGone
   */
  constructor({ api, clock, onVerified, onSessionGone }) {
    super();
    Object.assign(this, { api, clock, onVerified, onSessionGone });
  }

  /** @param {number} [codeSentAt] epoch ms of a send just made, to start the cooldown */
  start(codeSentAt = 0) {
    if (this.#running) return;
    this.#running = true;
    this.error = null;
    this.notice = null;
    const until = codeSentAt + RESEND_COOLDOWN_S * 1000;
    if (until > this.clock.now()) this.#coolDown(until);
    this.#schedulePoll();
  }

  stop() {
    this.#running = false;
    this.clock.clearTimeout(this.#pollTimer);
    this.clock.clearTimeout(this.#tickTimer);
  }

  /** @param {string} code */
  async submit(code) {
    if (this.busy) return;
    if (!/^[0-9]{6}$/.test(code)) {
      this.error = 'Enter all 6 digits of the code.';
      this.emitChange();
      return;
    }
    this.busy = true;
    this.error = null;
    this.emitChange();
    try {
      const account = await this.api.verifyPhone(code);
      this.busy = false;
      this.#verified(account);
    } catch (err) {
      this.busy = false;
      if (errorCode(err) === 'unauthenticated') return this.onSessionGone();
      this.error = userMessage(err, 'Verification failed. Please try again.');
      this.emitChange();
    }
  }

  async resend() {
    if (this.cooldownLeft() > 0 || this.busy) return;
    this.error = null;
    this.notice = null;
    try {
      await this.api.resendCode();
      this.notice = 'A new code is on its way.';
      this.#coolDown(this.clock.now() + RESEND_COOLDOWN_S * 1000);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'already_verified') return this.#poll();
      if (code === 'unauthenticated') return this.onSessionGone();
      const wait = retryAfter(err);
      if (wait) this.#coolDown(this.clock.now() + wait * 1000);
      this.error = code === 'rate_limited' && wait ? 'Codes are limited to one a minute. Wait a moment.' : userMessage(err);
    }
    this.emitChange();
  }

  /** Seconds until "resend" works again. */
  cooldownLeft() {
    return Math.max(0, Math.ceil((this.cooldownUntil - this.clock.now()) / 1000));
  }

  /** @param {number} until */
  #coolDown(until) {
    this.cooldownUntil = until;
    this.clock.clearTimeout(this.#tickTimer);
    const tick = () => {
      this.emitChange();
      if (this.#running && this.cooldownLeft() > 0) this.#tickTimer = this.clock.setTimeout(tick, 1000);
    };
    this.#tickTimer = this.clock.setTimeout(tick, 1000);
  }

  #schedulePoll() {
    this.clock.clearTimeout(this.#pollTimer);
    if (this.#running) this.#pollTimer = this.clock.setTimeout(() => this.#poll(), POLL_MS);
  }

  async #poll() {
    try {
      const account = await this.api.me();
      if (!this.#running) return;
      if (account.phone_verified) return this.#verified(account);
    } catch (err) {
      if (errorCode(err) === 'unauthenticated') return this.onSessionGone();
    }
    this.#schedulePoll();
  }

  /** @param {import('../protocol/schema.js').Account} account */
  #verified(account) {
    this.stop();
    this.onVerified(account);
  }

  snapshot() {
    return { busy: this.busy, error: this.error, notice: this.notice, cooldown: this.cooldownLeft() };
  }
}
