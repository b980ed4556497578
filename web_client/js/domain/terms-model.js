/**
 * The terms of use and privacy notice (server/consent/terms.py), as the views
 * need them:
 *
 *   sign-up screen ─loadRules()─▶ rules (mode, countries, version to accept)
 *   "Read the terms" ─read()─▶ reading (texts loaded) ─closeReading()─▶
 *   signed in ─check()─▶ status ── must_accept ─▶ the re-accept dialog
 *                                   ─accept()─▶ accepted (dialog closes)
 *                                   ─sign out─▶ reset()
 *
 * Only an account that accepted an earlier version is stopped by the dialog
 * (the server's `must_accept`); the API itself refuses nothing meanwhile.
 */
import { errorCode } from './session.js';
import { Observable } from './observable.js';

export class TermsModel extends Observable {
  /** @type {import('./consent-api.js').SignupRules|null} */ rules = null;
  /** @type {import('./consent-api.js').TermsTexts|null} */ texts = null;
  /** @type {import('./consent-api.js').TermsStatus|null} */ status = null;
  reading = false;
  busy = false;
  /** @type {string|null} */ error = null;

  /** @param {{api: import('./consent-api.js').ConsentApi}} deps */
  constructor({ api }) {
    super();
    this.api = api;
  }

  /** The version a sign-up accepts (null until the rules are loaded). */
  get version() {
    return this.rules?.terms_version ?? this.texts?.version ?? null;
  }

  get mustAccept() {
    return Boolean(this.status?.must_accept);
  }

  async loadRules() {
    try {
      this.rules = await this.api.signupRules();
    } catch {
      this.rules = null; // the form still works: the server says what is missing
    }
    this.emitChange();
  }

  async read() {
    this.reading = true;
    this.emitChange();
    await this.#loadTexts();
  }

  closeReading() {
    this.reading = false;
    this.emitChange();
  }

  /** After sign-in: has the account accepted the current version? */
  async check() {
    try {
      this.status = await this.api.termsStatus();
    } catch {
      this.status = null;
    }
    if (this.mustAccept) await this.#loadTexts();
    this.emitChange();
  }

  async accept() {
    const version = this.status?.version ?? this.texts?.version;
    if (this.busy || !version) return;
    this.busy = true;
    this.error = null;
    this.emitChange();
    try {
      this.status = await this.api.acceptTerms(version);
    } catch (err) {
      if (errorCode(err) === 'terms_changed') await this.check();
      this.error = err instanceof Error && err.message ? err.message : 'Could not record your answer. Try again.';
    }
    this.busy = false;
    this.emitChange();
  }

  /** Signed out: forget the account's answer. */
  reset() {
    this.status = null;
    this.error = null;
    this.busy = false;
    this.emitChange();
  }

  async #loadTexts() {
    if (this.texts) return;
    try {
      this.texts = await this.api.terms();
      this.error = null;
    } catch {
      this.error = 'Could not load the terms. Check your connection and try again.';
    }
    this.emitChange();
  }

  snapshot() {
    return {
      rules: this.rules, texts: this.texts, status: this.status, version: this.version,
      mustAccept: this.mustAccept, reading: this.reading, busy: this.busy, error: this.error,
    };
  }
}
