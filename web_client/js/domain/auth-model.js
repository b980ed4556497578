/**
 * The signed-out screens other than sign-in: creating an account and
 * resetting a forgotten password. Signing in itself stays in Session.
 *
 *   signin ──"Create account"──▶ signup ──202, then sign in──▶ (verify screen)
 *   signin ──"Forgot password"──▶ reset/request ──202──▶ reset/confirm ──ok──▶ signed in
 *
 * The confirm step survives a reload (the code is in a text message the user is
 * reading, maybe on the same phone): the number and when the code was asked for
 * are kept in tab storage for the code's life (10 minutes), never the code.
 */
import { normalizePhone } from '../protocol/phone.js';
import { userMessage } from './messages-text.js';
import { Observable } from './observable.js';

/** @typedef {'signin'|'signup'|'reset'} AuthView */

export const MIN_PASSWORD = 8;
/** A reset code lives 10 minutes on the server (server/auth/codes.py CODE_TTL). */
export const RESET_CODE_MS = 10 * 60 * 1000;
const RESET_KEY = 'reset';
const NO_TERMS = 'Read and accept the terms of use and privacy notice to create an account.';
const BAD_PHONE = 'Enter your phone number with its country code, e.g. +1 555 010 0001.';

export class AuthModel extends Observable {
  /** @type {AuthView} */ view = 'signin';
  /** @type {'request'|'confirm'} */ resetStep = 'request';
  busy = false;
  /** @type {string|null} */ error = null;
  /** @type {string|null} */ notice = null;
  resetPhone = '';
  /** Set when a verification code was sent moments ago (resend cools down). */
  codeSentAt = 0;

  /**
   * @param {{api: import('./api.js').FerryApi, session: import('./session.js').Session,
   *   clock: import('../platform/clock.js').Clock, storage?: import('../platform/storage.js').KeyValueStore}} deps
   */
  constructor({ api, session, clock, storage = undefined }) {
    super();
    Object.assign(this, { api, session, clock, storage });
    if (this.#pendingReset()) this.#showConfirm();
  }

  /** @param {AuthView} view */
  show(view) {
    this.view = view;
    this.resetStep = 'request';
    this.error = null;
    this.notice = null;
    this.session.error = null;
    if (view === 'reset' && this.#pendingReset()) this.#showConfirm();
    this.emitChange();
  }

  /** "Send a new code" / "Use another number" on the confirm step: back to asking. */
  restartReset() {
    this.storage?.remove(RESET_KEY);
    this.resetStep = 'request';
    this.error = null;
    this.notice = null;
    this.emitChange();
  }

  /** @returns {{phone: string, at: number}|null} a reset asked for here, while its code may live */
  #pendingReset() {
    const saved = this.storage?.get(RESET_KEY);
    if (!saved || typeof saved.phone !== 'string' || typeof saved.at !== 'number') return null;
    const age = this.clock.now() - saved.at;
    if (age < 0 || age >= RESET_CODE_MS) {
      this.storage?.remove(RESET_KEY);
      return null;
    }
    return saved;
  }

  #showConfirm() {
    const saved = /** @type {{phone: string, at: number}} */ (this.#pendingReset());
    this.view = 'reset';
    this.resetStep = 'confirm';
    this.resetPhone = saved.phone;
    this.notice = `If ${saved.phone} has a Ferry account, a text with a 6-digit code is on its way.`;
  }

  /**
   * @param {string} phone @param {string} password
   * @param {{accept_terms?: string|null, invite?: string|null}} [extra] the terms version ticked, an invite code
   */
  async signUp(phone, password, extra = {}) {
    const number = normalizePhone(phone);
    if (!number) return this.#fail(BAD_PHONE);
    if (password.length < MIN_PASSWORD) return this.#fail(`Choose a password of at least ${MIN_PASSWORD} characters.`);
    if (!extra.accept_terms) return this.#fail(NO_TERMS);
    if (!this.#begin()) return;
    try {
      await this.api.signUp(number, password, extra);
    } catch (err) {
      return this.#fail(userMessage(err, 'Sign-up failed. Please try again.'));
    }
    this.codeSentAt = this.clock.now();
    this.busy = false;
    await this.session.signIn(number, password);
    if (this.session.state !== 'signed-in') {
      // The number already had a verified account, with another password.
      this.session.error = null;
      this.#fail('This number already has a Ferry account. Sign in, or reset your password.');
    } else this.emitChange();
  }

  /** @param {string} phone */
  async requestReset(phone) {
    const number = normalizePhone(phone);
    if (!number) return this.#fail(BAD_PHONE);
    if (!this.#begin()) return;
    try {
      await this.api.requestReset(number);
    } catch (err) {
      return this.#fail(userMessage(err));
    }
    this.storage?.set(RESET_KEY, { phone: number, at: this.clock.now() });
    this.#showConfirm();
    this.busy = false;
    this.emitChange();
  }

  /** @param {string} code @param {string} password */
  async confirmReset(code, password) {
    if (!/^[0-9]{6}$/.test(code)) return this.#fail('Enter the 6-digit code from the text message.');
    if (password.length < MIN_PASSWORD) return this.#fail(`Choose a password of at least ${MIN_PASSWORD} characters.`);
    if (!this.#begin()) return;
    try {
      const account = await this.api.confirmReset(this.resetPhone, code, password);
      this.storage?.remove(RESET_KEY);
      this.busy = false;
      this.view = 'signin';
      this.notice = null;
      this.session.adopt(account);
    } catch (err) {
      this.#fail(userMessage(err, 'Reset failed. Please try again.'));
    }
  }

  #begin() {
    if (this.busy) return false;
    this.busy = true;
    this.error = null;
    this.emitChange();
    return true;
  }

  /** @param {string} message */
  #fail(message) {
    this.busy = false;
    this.error = message;
    this.emitChange();
  }

  snapshot() {
    return {
      view: this.view, resetStep: this.resetStep, busy: this.busy, error: this.error,
      notice: this.notice, resetPhone: this.resetPhone,
    };
  }
}
