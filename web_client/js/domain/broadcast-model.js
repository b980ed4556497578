/**
 * Broadcasts and the consent records they depend on (server/storage/broadcasts.py):
 * who agreed to receive the user's messages, who replied STOP, and one message
 * to a list with a status per recipient. The server decides who is skipped and
 * paces the sends; this model only asks and shows. While the panel is open it
 * refreshes every few seconds so statuses move as the phone reports them.
 */
import { Observable } from './observable.js';

export const REFRESH_MS = 5000;
/** What each recipient status means, in words. */
export const STATUS_WORDS = {
  queued: 'Waiting', sending: 'Sending', sent: 'Sent', delivered: 'Delivered', failed: 'Failed',
  unknown: 'May not have been sent', deleted: 'Deleted', cancelled: 'Cancelled',
  skipped_no_consent: 'Skipped: no consent recorded', skipped_opted_out: 'Skipped: replied STOP',
};

/** Numbers typed one per line, or separated by commas or semicolons. @param {string} text */
export function splitNumbers(text) {
  return [...new Set(text.split(/[\n,;]+/).map((n) => n.trim()).filter(Boolean))];
}

/** @param {unknown} err @param {string} fallback */
function said(err, fallback) {
  const e = /** @type {any} */ (err);
  return e && typeof e.message === 'string' && e.message && e.message !== e.code && e.status >= 400 && e.status < 500
    ? e.message : fallback;
}

export class BroadcastModel extends Observable {
  open = false;
  busy = false;
  /** @type {string|null} */ error = null;
  /** @type {string|null} */ notice = null;
  /** @type {import('./consent-api.js').ConsentRecord[]} */ consents = [];
  /** @type {import('./consent-api.js').OptOut[]} */ optOuts = [];
  /** @type {import('./consent-api.js').Broadcast[]} */ broadcasts = [];
  /** @type {unknown} */ #timer = null;

  /**
   * @param {{api: import('./consent-api.js').ConsentApi, uuid: () => string,
   *   clock: import('../platform/clock.js').Clock}} deps
   */
  constructor({ api, uuid, clock }) {
    super();
    Object.assign(this, { api, uuid, clock });
  }

  async show() {
    this.open = true;
    this.error = null;
    this.notice = null;
    this.emitChange();
    await this.refresh();
    this.#schedule();
  }

  close() {
    this.open = false;
    if (this.#timer !== null) this.clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.emitChange();
  }

  async refresh() {
    try {
      [this.consents, this.optOuts, this.broadcasts] = await Promise.all([
        this.api.consents(), this.api.optOuts(), this.api.broadcasts()]);
    } catch (err) {
      this.error = said(err, 'Could not load broadcasts. Check your connection.');
    }
    this.emitChange();
  }

  /** @param {string} number @param {string} note @param {string} givenOn yyyy-mm-dd, or '' for now */
  async recordConsent(number, note, givenOn) {
    const givenAt = givenOn ? `${givenOn}T12:00:00Z` : null;
    await this.#act(() => this.api.recordConsent(number.trim(), note.trim(), givenAt), 'Consent recorded.');
  }

  /** @param {number} id */
  async withdraw(id) {
    await this.#act(() => this.api.withdrawConsent(id), 'Consent withdrawn: broadcasts no longer go to this number.');
  }

  /** @param {string} body @param {string} numbersText */
  async send(body, numbersText) {
    const numbers = splitNumbers(numbersText);
    if (!body.trim()) return this.#fail('Write the message first.');
    if (!numbers.length) return this.#fail('Add at least one number.');
    const clientId = this.uuid();
    await this.#act(() => this.api.createBroadcast(body, numbers, clientId),
      'Broadcast started. Numbers without consent, or that replied STOP, are skipped.');
  }

  /** @param {number} id */
  async cancel(id) {
    await this.#act(() => this.api.cancelBroadcast(id), 'Cancelled: numbers not yet sent to are skipped.');
  }

  /** @param {() => Promise<unknown>} call @param {string} done */
  async #act(call, done) {
    if (this.busy) return;
    this.busy = true;
    this.error = null;
    this.notice = null;
    this.emitChange();
    try {
      await call();
      this.notice = done;
    } catch (err) {
      this.error = said(err, 'That did not work. Try again.');
    }
    this.busy = false;
    await this.refresh();
  }

  /** @param {string} message */
  #fail(message) {
    this.error = message;
    this.notice = null;
    this.emitChange();
  }

  #schedule() {
    if (!this.open) return;
    this.#timer = this.clock.setTimeout(async () => {
      this.#timer = null;
      if (!this.open) return;
      await this.refresh();
      this.#schedule();
    }, REFRESH_MS);
  }

  snapshot() {
    return {
      open: this.open, busy: this.busy, error: this.error, notice: this.notice,
      consents: this.consents, optOuts: this.optOuts, broadcasts: this.broadcasts,
    };
  }
}
