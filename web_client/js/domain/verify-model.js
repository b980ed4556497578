/**
 * The "verify your number" screen. Three ways out, whichever comes first:
 * the user types the code, the paired bridge submits it by itself (we notice
 * by polling GET /me while the screen is open), or the user signs out.
 * "Send a new code" cools down for a minute after each send, as the server does.
 *
 * The screen says a code was sent only when the server says its SMS gateway
 * accepted it: "Send a new code" answers after the gateway did, and the code
 * the sign-up sent (whose answer cannot say) is reported on GET /me.
 *
 *   send: unknown ─resend()─▶ sending ─202─▶ sent
 *                                     └─sms_unavailable / sms_refused─▶ failed
 *         sending (after sign-up) ─GET /me─▶ sent | failed
 */
import { retryAfter, userMessage } from './messages-text.js';
import { Observable } from './observable.js';
import { errorCode } from './session.js';

export const POLL_MS = 4000;
/** While a send's outcome is unknown, ask sooner than the verified-yet poll. */
export const SEND_POLL_MS = 1000;
export const RESEND_COOLDOWN_S = 60;

/** @typedef {'unknown'|'sending'|'sent'|'failed'} SendState */

/** What a failed send means, and what to do; `{phone}` is the number. */
const SEND_FAILURES = {
  sms_unavailable: 'Ferry couldn’t text a code to {phone}: its text message service isn’t reachable right now. '
    + 'Send a new code in a minute. If it keeps failing, tell the person who runs this Ferry server.',
  sms_refused: 'The text message service refused to send a code to {phone}. Check that this number can receive '
    + 'texts; if it can, tell the person who runs this Ferry server.',
};
const SEND_FAILED = 'Ferry couldn’t text a code to {phone}. Send a new code in a minute.';

export class VerifyModel extends Observable {
  busy = false;
  /** @type {string|null} */ error = null;
  /** @type {SendState} */ sendState = 'unknown';
  /** @type {string|null} why the last send failed (a server code) */ sendError = null;
  /** epoch ms until which "resend" is disabled */
  cooldownUntil = 0;
  #running = false;
  /** @type {unknown} */ #pollTimer = null;
  /** @type {unknown} */ #tickTimer = null;
  /** Bumped by every send from here, so an older GET /me answer cannot overwrite it. */
  #sends = 0;

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

  /**
   * @param {number} [codeSentAt] epoch ms of a sign-up just made here: its code is on
   *   its way (or not), the server tells which, and resend cools down meanwhile
   */
  start(codeSentAt = 0) {
    if (this.#running) return;
    this.#running = true;
    this.error = null;
    this.sendError = null;
    const until = codeSentAt + RESEND_COOLDOWN_S * 1000;
    this.sendState = until > this.clock.now() ? 'sending' : 'unknown';
    if (until > this.clock.now()) this.#coolDown(until);
    this.#poll();
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
    if (this.cooldownLeft() > 0 || (this.sendState === 'sending' && this.#sends > 0)) return;
    const send = ++this.#sends;
    this.error = null;
    this.sendState = 'sending';
    this.sendError = null;
    this.emitChange();
    try {
      await this.api.resendCode();
      if (send !== this.#sends) return;
      this.sendState = 'sent';
      this.#coolDown(this.clock.now() + RESEND_COOLDOWN_S * 1000);
    } catch (err) {
      if (send !== this.#sends) return;
      const code = errorCode(err);
      this.sendState = 'unknown';
      if (code === 'already_verified') return this.#poll();
      if (code === 'unauthenticated') return this.onSessionGone();
      const wait = retryAfter(err);
      if (wait) this.#coolDown(this.clock.now() + wait * 1000);
      if (code in SEND_FAILURES || code === 'http_503' || code === 'http_502') {
        this.sendState = 'failed';
        this.sendError = code;
      } else {
        this.error = code === 'rate_limited' && wait
          ? 'Codes are limited to one a minute. Wait for the countdown, then send a new one.'
          : userMessage(err, 'Couldn’t send a new code. Please try again.');
      }
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
    const soon = this.sendState === 'sending' && this.#sends === 0;
    if (this.#running) this.#pollTimer = this.clock.setTimeout(() => this.#poll(), soon ? SEND_POLL_MS : POLL_MS);
  }

  async #poll() {
    const sends = this.#sends;
    try {
      const { account, codeSend } = await this.api.verificationStatus();
      if (!this.#running) return;
      if (account.phone_verified) return this.#verified(account);
      if (sends === this.#sends) this.#adoptServerReport(codeSend);
    } catch (err) {
      if (errorCode(err) === 'unauthenticated') return this.onSessionGone();
    }
    this.#schedulePoll();
  }

  /**
   * The server's word on the last send, unless a send from here is newer.
   * @param {import('../protocol/schema.js').CodeSend|null} report
   */
  #adoptServerReport(report) {
    if (report === null) {
      // Nothing known (a restart, or too long ago): stop saying "sending" once the
      // cooldown that came with it is over.
      if (this.sendState === 'sending' && this.cooldownLeft() === 0) this.sendState = 'unknown';
    } else {
      this.sendState = report.state;
      this.sendError = report.state === 'failed' ? report.error : null;
    }
    this.emitChange();
  }

  /** @param {import('../protocol/schema.js').Account} account */
  #verified(account) {
    this.stop();
    this.onVerified(account);
  }

  /** @param {string} phone the number being verified, for the sentences */
  snapshot(phone = 'your number') {
    return {
      busy: this.busy, error: this.error, cooldown: this.cooldownLeft(), sending: this.sendState === 'sending',
      sendState: this.sendState, notice: this.#sendNotice(phone), sendFailure: this.#sendFailure(phone),
    };
  }

  /** @param {string} phone @returns {string|null} */
  #sendNotice(phone) {
    if (this.sendState === 'sending') return `Sending a code to ${phone}…`;
    if (this.sendState === 'sent') return `Code sent to ${phone}. It can take a minute to arrive.`;
    return null;
  }

  /** @param {string} phone @returns {string|null} */
  #sendFailure(phone) {
    if (this.sendState !== 'failed') return null;
    const words = SEND_FAILURES[/** @type {keyof SEND_FAILURES} */ (this.sendError ?? '')] ?? SEND_FAILED;
    return words.replace('{phone}', phone);
  }
}
