/**
 * Sending messages. Each send gets a `client_msg_id` once, and every retry of
 * that send reuses it, so the server stores (and the phone sends) at most one
 * SMS however often the request is repeated. Only transport failures are
 * retried automatically; a refusal (bad number, bad body) is shown as is.
 */
import { backoffDelay } from '../protocol/backoff.js';
import { errorCode } from './session.js';

const AUTO_ATTEMPTS = 3;
const REFUSALS = {
  invalid_number: 'Not sent: that phone number is not valid.',
  invalid_body: 'Not sent: the message is empty or too long.',
  phone_unverified: 'Not sent: your phone number is not verified yet.',
};

export class Outbox {
  /**
   * @param {object} deps
   * @param {import('./api.js').FerryApi} deps.api
   * @param {import('./store.js').ConversationStore} deps.store
   * @param {import('../platform/clock.js').Clock} deps.clock
   * @param {() => string} deps.uuid
   * @param {() => number} [deps.random]
   * @param {() => void} [deps.onSessionGone]
   */
  constructor({ api, store, clock, uuid, random = Math.random, onSessionGone = () => {} }) {
    Object.assign(this, { api, store, clock, uuid, random, onSessionGone });
  }

  /**
   * @param {string} to peer number
   * @param {string} body
   * @param {number|null} threadId when known, so the bubble shows in that thread at once
   * @param {number|null} [lineId] the line to send from; null lets the server choose
   * @returns {Promise<import('../protocol/schema.js').Message|null>} the stored message, or null
   */
  send(to, body, threadId, lineId = null) {
    const clientMsgId = this.uuid();
    this.store.putPending({
      id: null, thread_id: threadId, peer: to, line_id: lineId, direction: 'out', body, status: 'sending',
      timestamp: new Date(this.clock.now()).toISOString(), client_msg_id: clientMsgId,
      error: null, retryable: false, pending: true,
    });
    return this.#deliver(clientMsgId);
  }

  /** Try a failed send again, under the same client_msg_id. @param {string} clientMsgId */
  retry(clientMsgId) {
    const held = this.store.pending(clientMsgId);
    if (!held || held.status !== 'failed') return Promise.resolve(null);
    this.store.putPending({ ...held, status: 'sending', error: null, retryable: false });
    return this.#deliver(clientMsgId);
  }

  /** @param {string} clientMsgId */
  discard(clientMsgId) {
    this.store.dropPending(clientMsgId);
  }

  /** @param {string} clientMsgId */
  async #deliver(clientMsgId) {
    for (let attempt = 0; ; attempt++) {
      const held = this.store.pending(clientMsgId);
      if (!held) return null; // confirmed through the websocket meanwhile, or discarded
      try {
        const message = await this.api.send(held.peer, held.body, clientMsgId, held.line_id ?? null);
        this.store.applyChanges([message]);
        return message;
      } catch (err) {
        const code = errorCode(err);
        if (code === 'unauthenticated') this.onSessionGone();
        const transient = isTransient(err) && attempt + 1 < AUTO_ATTEMPTS;
        if (!transient) return this.#fail(clientMsgId, code, isTransient(err));
        await this.#sleep(backoffDelay(attempt, this.random()));
      }
    }
  }

  /** @param {string} clientMsgId @param {string} code @param {boolean} retryable */
  #fail(clientMsgId, code, retryable) {
    const held = this.store.pending(clientMsgId);
    if (!held) return null;
    const error = REFUSALS[/** @type {keyof REFUSALS} */ (code)]
      ?? (retryable ? 'Not sent. Check your connection and try again.' : 'Not sent.');
    this.store.putPending({ ...held, status: 'failed', error, retryable });
    return null;
  }

  /** @param {number} ms */
  #sleep(ms) {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }
}

/** Network trouble, server overload and 5xx may succeed later; 4xx will not. */
function isTransient(/** @type {any} */ err) {
  const status = typeof err?.status === 'number' ? err.status : -1;
  return status === 0 || status === 429 || status >= 500;
}
