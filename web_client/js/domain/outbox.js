/**
 * Sending messages. Each send gets a `client_msg_id` once, and every retry of
 * that send reuses it, so the server stores (and the phone sends) at most one
 * SMS however often the request is repeated.
 *
 * A message typed here is never lost:
 * - it is kept in the browser (an `OutboxDb`, IndexedDB) with its client id
 *   until the server confirms it, so it survives a reload or a closed tab;
 * - transport failures (no network, server down, 5xx, 429) are retried a few
 *   times, then the message waits ("Waiting for the server") and goes out when
 *   the app's socket to the server is back (`flush()`), in the order written;
 * - a refusal (bad number, bad body) is shown as is and not retried; it stays
 *   until the user deletes it;
 * - a kept message older than a week does not go out by itself: the server
 *   forgets deleted messages' ids after a month, so an old copy whose first
 *   send did reach it could be sent twice. It waits for the user's "Send".
 *
 *   sending ─201─▶ (the server's copy replaces it)
 *      ├─transient × 3─▶ waiting ─flush() / retry()─▶ sending
 *      └─refused─▶ failed ─retry() if retryable─▶ sending
 */
import { createMemoryOutboxDb } from '../platform/outbox-db.js';
import { backoffDelay } from '../protocol/backoff.js';
import { errorCode } from './session.js';

const AUTO_ATTEMPTS = 3;
/** Kept messages older than this wait for the user instead of going out by themselves. */
const STALE_MS = 7 * 24 * 3600 * 1000;
const REFUSALS = {
  invalid_number: 'Not sent: that phone number is not valid.',
  invalid_body: 'Not sent: the message is empty or too long.',
  phone_unverified: 'Not sent: your phone number is not verified yet.',
};

/** @typedef {import('./store.js').PendingMessage} PendingMessage */

export class Outbox {
  /** @type {string|null} the signed-in account whose messages are kept */
  #account = null;
  /** client ids kept in the db, so their records go once the server confirms them */
  #kept = new Set();
  #flushing = false;

  /**
   * @param {object} deps
   * @param {import('./api.js').FerryApi} deps.api
   * @param {import('./store.js').ConversationStore} deps.store
   * @param {import('../platform/clock.js').Clock} deps.clock
   * @param {() => string} deps.uuid
   * @param {import('../platform/outbox-db.js').OutboxDb} [deps.db] the browser's copy
   * @param {() => number} [deps.random]
   * @param {() => void} [deps.onSessionGone]
   */
  constructor({ api, store, clock, uuid, db = createMemoryOutboxDb(), random = Math.random, onSessionGone = () => {} }) {
    Object.assign(this, { api, store, clock, uuid, db, random, onSessionGone });
    // Confirmed by a REST answer or by the websocket, whichever came first.
    store.subscribe(() => this.#forgetConfirmed());
  }

  /**
   * Load the account's unsent messages kept in this browser; they show as
   * waiting until `flush()`. Call once signed in (and verified).
   * @param {string|number} accountId
   * @returns {Promise<number>} how many were restored
   */
  async restore(accountId) {
    const account = String(accountId);
    this.#account = account;
    const records = await this.db.all(account);
    if (this.#account !== account) return 0; // signed out meanwhile
    let restored = 0;
    for (const r of records) {
      if (this.store.isConfirmed(r.client_msg_id) || this.store.pending(r.client_msg_id)) continue;
      this.#kept.add(r.client_msg_id);
      const stale = r.status !== 'failed' && this.clock.now() - Date.parse(r.timestamp) > STALE_MS;
      this.store.putPending({
        id: null, thread_id: r.thread_id, peer: r.peer, line_id: r.line_id, direction: 'out', body: r.body,
        // A send cut off by the reload may or may not have reached the server: same id again.
        status: r.status === 'failed' || stale ? 'failed' : 'waiting',
        timestamp: r.timestamp, client_msg_id: r.client_msg_id,
        error: stale ? 'Not sent: written over a week ago. Send it now if you still want to.'
          : r.status === 'failed' ? r.error : null,
        retryable: stale || r.retryable, pending: true,
      });
      restored++;
    }
    return restored;
  }

  /** Signed out on purpose: this browser no longer keeps that account's unsent messages. */
  async forget() {
    const account = this.#account;
    this.#account = null;
    this.#kept.clear();
    if (account !== null) await this.db.clear(account);
  }

  /** Messages of the signed-in account still waiting or refused here. */
  unsentCount() {
    let n = 0;
    for (const id of this.#kept) if (this.store.pending(id)) n++;
    return n;
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
    this.#hold({
      id: null, thread_id: threadId, peer: to, line_id: lineId, direction: 'out', body, status: 'sending',
      timestamp: new Date(this.clock.now()).toISOString(), client_msg_id: clientMsgId,
      error: null, retryable: false, pending: true,
    });
    return this.#deliver(clientMsgId);
  }

  /** Try a failed or waiting send again now, under the same client_msg_id. @param {string} clientMsgId */
  retry(clientMsgId) {
    const held = this.store.pending(clientMsgId);
    if (!held || held.status === 'sending' || (held.status === 'failed' && !held.retryable)) return Promise.resolve(null);
    this.#hold({ ...held, status: 'sending', error: null, retryable: false });
    return this.#deliver(clientMsgId);
  }

  /**
   * The server is reachable again (the app's socket reconnected): send every
   * waiting message, oldest first, one at a time so they leave in order.
   */
  async flush() {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      const waiting = () => this.store.allPending().filter((p) => p.status === 'waiting')
        .sort((a, b) => a.timestamp.localeCompare(b.timestamp));
      for (const held of waiting()) {
        await this.retry(held.client_msg_id);
        if (this.store.pending(held.client_msg_id)?.status === 'waiting') break; // down again
      }
    } finally {
      this.#flushing = false;
    }
  }

  /** @param {string} clientMsgId */
  discard(clientMsgId) {
    this.store.dropPending(clientMsgId);
    this.#kept.delete(clientMsgId);
    this.db.delete(clientMsgId);
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
        if (code === 'unauthenticated') {
          // Kept: it goes out once this account is signed in here again.
          this.#wait(clientMsgId);
          this.onSessionGone();
          return null;
        }
        if (!isTransient(err)) return this.#fail(clientMsgId, code, err);
        if (attempt + 1 >= AUTO_ATTEMPTS) return this.#wait(clientMsgId);
        await this.#sleep(backoffDelay(attempt, this.random()));
      }
    }
  }

  /** @param {string} clientMsgId @param {string} code @param {unknown} err */
  #fail(clientMsgId, code, err) {
    const held = this.store.pending(clientMsgId);
    if (!held) return null;
    // The server's own sentence says most (an example of the number's spelling, why a
    // name cannot be texted); ours when it has none.
    const said = err instanceof Error && err.message && err.message !== code ? err.message : null;
    const error = said ? `Not sent: ${said}`
      : REFUSALS[/** @type {keyof REFUSALS} */ (code)] ?? 'Not sent.';
    this.#hold({ ...held, status: 'failed', error, retryable: false });
    return null;
  }

  /** @param {string} clientMsgId */
  #wait(clientMsgId) {
    const held = this.store.pending(clientMsgId);
    if (held) this.#hold({ ...held, status: 'waiting', error: null, retryable: true });
    return null;
  }

  /** Show it and keep the browser's copy in step. @param {PendingMessage} message */
  #hold(message) {
    this.store.putPending(message);
    if (!this.store.pending(message.client_msg_id) || this.#account === null) return;
    this.#kept.add(message.client_msg_id);
    this.db.put({
      client_msg_id: message.client_msg_id, account: this.#account, peer: message.peer,
      line_id: message.line_id ?? null, thread_id: message.thread_id, body: message.body,
      timestamp: message.timestamp, status: message.status, error: message.error, retryable: message.retryable,
    });
  }

  #forgetConfirmed() {
    for (const id of this.#kept) {
      if (this.store.isConfirmed(id)) {
        this.#kept.delete(id);
        this.db.delete(id);
      }
    }
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
