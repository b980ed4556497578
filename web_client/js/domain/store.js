/**
 * The client's copy of the account's conversations.
 *
 * Everything the server sends is upserted by id, and a record only replaces
 * the one we hold if its `seq` is not older. That makes merging order-free:
 * a REST page, a websocket backlog replayed after a reconnect, and a live
 * change may arrive in any order and overlap, and each message still shows
 * exactly once, in its newest state.
 *
 * Tombstones (`deleted: true`) remove a thread or message; a tombstoned
 * thread stays gone until a newer record of it (a revived conversation)
 * arrives.
 *
 * Messages being sent live here too, keyed by `client_msg_id` until the
 * server's copy (which carries the same `client_msg_id`) takes their place.
 */
import { Observable } from './observable.js';

/** @typedef {import('../protocol/schema.js').Message} Message */
/** @typedef {import('../protocol/schema.js').Thread} Thread */

/**
 * A message the server has not confirmed yet. `status` is local:
 * 'sending' while a request is in flight, 'waiting' until the server can be
 * reached again, 'failed' when the server refused it.
 * @typedef {object} PendingMessage
 * @property {null} id
 * @property {number|null} thread_id null until the server names the thread
 * @property {string} peer
 * @property {number|null} [line_id] the line chosen to send from, if any
 * @property {'out'} direction
 * @property {string} body
 * @property {'sending'|'waiting'|'failed'} status
 * @property {string} timestamp
 * @property {string} client_msg_id
 * @property {string|null} error
 * @property {boolean} retryable
 * @property {true} pending
 */

/** @typedef {Message | PendingMessage} AnyMessage */

export class ConversationStore extends Observable {
  /** @type {Map<number, Thread>} */
  threads = new Map();
  /** Bumped whenever cached message pages are dropped, so open threads know to reload. */
  epoch = 0;
  /** @type {Map<number, Map<number, Message>>} thread id → message id → message */
  #messages = new Map();
  /** @type {Map<string, PendingMessage>} */
  #pending = new Map();
  /** client_msg_ids the server has confirmed, so a late pending update cannot resurrect one */
  #confirmed = new Set();
  /** @type {Map<number, number>} deleted thread id → seq of its tombstone */
  #tombstones = new Map();

  /**
   * Apply a batch from the server: a websocket `changes` frame or a REST page.
   * @param {readonly Message[]} messages @param {readonly Thread[]} [threads]
   * @returns {Message[]} messages not held before (for notifications)
   */
  applyChanges(messages, threads = []) {
    let changed = false;
    /** @type {Message[]} */
    const added = [];
    for (const thread of threads) changed = this.#upsertThread(thread) || changed;
    for (const message of messages) {
      const isNew = !message.deleted && !this.#messages.get(message.thread_id)?.has(message.id);
      if (this.#upsertMessage(message)) {
        changed = true;
        if (isNew) added.push(message);
      }
    }
    if (changed) this.emitChange();
    return added;
  }

  /**
   * Start over from a full thread list (first load, or after `resync`).
   * Cached message pages may have gaps now, so they are dropped; views reload.
   * @param {readonly Thread[]} threads
   */
  replaceThreads(threads) {
    this.threads = new Map(threads.filter((t) => !t.deleted).map((t) => [t.id, t]));
    this.#tombstones.clear();
    this.#messages.clear();
    this.epoch++;
    this.emitChange();
  }

  clear() {
    this.threads = new Map();
    this.#messages.clear();
    this.#pending.clear();
    this.#confirmed.clear();
    this.#tombstones.clear();
    this.epoch++;
    this.emitChange();
  }

  /**
   * Optimistic flags (archived, unread) until the server's record arrives;
   * the held seq is kept so that record wins.
   * @param {number} threadId @param {Partial<Pick<Thread, 'archived'|'unread'>>} fields
   */
  patchThreadLocally(threadId, fields) {
    const thread = this.threads.get(threadId);
    if (!thread) return;
    this.threads.set(threadId, { ...thread, ...fields });
    this.emitChange();
  }

  /** @param {number} threadId */
  markReadLocally(threadId) {
    const thread = this.threads.get(threadId);
    if (!thread || thread.unread === 0) return;
    this.threads.set(threadId, { ...thread, unread: 0 });
    this.emitChange();
  }

  /** Deleted here (the server agreed); its own tombstone follows. @param {number} threadId */
  bury(threadId) {
    const thread = this.threads.get(threadId);
    if (thread && this.#upsertThread({ ...thread, deleted: true })) this.emitChange();
  }

  /**
   * @param {string} peer @param {number|null} [lineId] only that line's thread; any line when null
   * @returns {Thread|undefined}
   */
  threadForPeer(peer, lineId = null) {
    for (const thread of this.threads.values()) {
      if (thread.peer === peer && (lineId === null || thread.line_id === lineId)) return thread;
    }
    return undefined;
  }

  /**
   * Messages of a thread, oldest first, pending ones after the confirmed ones.
   * @param {number} threadId @returns {AnyMessage[]}
   */
  messagesFor(threadId) {
    const confirmed = [...(this.#messages.get(threadId)?.values() ?? [])].sort(byTimeThenId);
    const peer = this.threads.get(threadId)?.peer;
    const pending = [...this.#pending.values()].filter(
      (p) => p.thread_id === threadId || (p.thread_id === null && p.peer === peer),
    );
    return [...confirmed, ...pending];
  }

  /** Sends to a number that has no thread yet. @param {string} peer @returns {PendingMessage[]} */
  pendingForPeer(peer) {
    return [...this.#pending.values()].filter((p) => p.thread_id === null && p.peer === peer);
  }

  /** @param {string} clientMsgId */
  pending(clientMsgId) {
    return this.#pending.get(clientMsgId);
  }

  /** @returns {PendingMessage[]} */
  allPending() {
    return [...this.#pending.values()];
  }

  /** Whether the server's copy of this send has arrived. @param {string} clientMsgId */
  isConfirmed(clientMsgId) {
    return this.#confirmed.has(clientMsgId);
  }

  /** @param {PendingMessage} message */
  putPending(message) {
    if (this.#confirmed.has(message.client_msg_id)) return;
    this.#pending.set(message.client_msg_id, message);
    this.emitChange();
  }

  /** @param {string} clientMsgId */
  dropPending(clientMsgId) {
    if (this.#pending.delete(clientMsgId)) this.emitChange();
  }

  /** @param {Thread} thread @returns {boolean} changed */
  #upsertThread(thread) {
    const held = this.threads.get(thread.id);
    if (held && held.seq > thread.seq) return false;
    const buried = this.#tombstones.get(thread.id);
    if (buried !== undefined && buried >= thread.seq) return false;
    if (thread.deleted) {
      this.#tombstones.set(thread.id, thread.seq);
      this.#messages.delete(thread.id);
      return this.threads.delete(thread.id);
    }
    this.#tombstones.delete(thread.id);
    this.threads.set(thread.id, thread);
    return true;
  }

  /** @param {Message} message @returns {boolean} changed */
  #upsertMessage(message) {
    let byId = this.#messages.get(message.thread_id);
    if (!byId) this.#messages.set(message.thread_id, (byId = new Map()));
    const held = byId.get(message.id);
    if (held && held.seq > message.seq) return false;
    if (message.deleted) return this.#removeMessage(byId, message);
    if (this.#tombstones.has(message.thread_id)) return false;
    byId.set(message.id, message);
    if (message.client_msg_id) {
      this.#confirmed.add(message.client_msg_id);
      this.#pending.delete(message.client_msg_id);
    }
    this.#touchThread(message);
    return true;
  }

  /** @param {Map<number, Message>} byId @param {Message} tombstone @returns {boolean} changed */
  #removeMessage(byId, tombstone) {
    const had = byId.delete(tombstone.id);
    const thread = this.threads.get(tombstone.thread_id);
    if (thread?.last_message?.id === tombstone.id) {
      const rest = [...byId.values()].sort(byTimeThenId);
      this.threads.set(thread.id, { ...thread, last_message: rest[rest.length - 1] ?? null });
      return true;
    }
    return had;
  }

  /**
   * Keep the list's preview current even if the server sends a message before
   * (or without) its thread. A thread we have never seen gets a stand-in that
   * any real thread record replaces, since real records have seq ≥ 0.
   * @param {Message} message
   */
  #touchThread(message) {
    const thread = this.threads.get(message.thread_id);
    if (!thread) {
      this.threads.set(message.thread_id, {
        id: message.thread_id, peer: message.peer, title: message.peer, last_message: message,
        last_activity: message.timestamp, unread: 0, seq: -1,
        line_id: null, line: null, archived: false, deleted: false,
      });
      return;
    }
    const last = thread.last_message;
    if (last && last.id !== message.id && byTimeThenId(last, message) > 0) return;
    if (last && last.id === message.id && last.seq > message.seq) return;
    const activity = Date.parse(message.timestamp) > Date.parse(thread.last_activity)
      ? message.timestamp : thread.last_activity;
    this.threads.set(thread.id, { ...thread, last_message: message, last_activity: activity });
  }
}

/** @param {{timestamp: string, id: number}} a @param {{timestamp: string, id: number}} b */
function byTimeThenId(a, b) {
  return Date.parse(a.timestamp) - Date.parse(b.timestamp) || a.id - b.id;
}
