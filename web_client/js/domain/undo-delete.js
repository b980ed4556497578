/**
 * Deleting a conversation with "Undo": the conversation disappears at once,
 * the DELETE goes out only after a grace period, and Undo within it cancels
 * the request entirely. Leaving the page sends pending deletes right away.
 *
 *   delete() ──▶ pending (hidden, toast) ──delay──▶ DELETE sent
 *                    └──undo()──▶ shown again, nothing sent
 */
import { Observable } from './observable.js';

export const UNDO_MS = 5000;

export class UndoableDeletes extends Observable {
  /** @type {Map<number, unknown>} thread id → timer */
  #pending = new Map();
  /** @type {{threadId: number, text: string}|null} the toast on screen */
  toast = null;

  /**
   * @param {object} deps
   * @param {import('./api.js').FerryApi} deps.api
   * @param {import('../platform/clock.js').Clock} deps.clock
   * @param {(threadId: number) => void} [deps.onDeleted] the server agreed
   * @param {(threadId: number) => void} [deps.onFailed]
   * @param {number} [deps.delayMs]
   */
  constructor({ api, clock, onDeleted = () => {}, onFailed = () => {}, delayMs = UNDO_MS }) {
    super();
    Object.assign(this, { api, clock, onDeleted, onFailed, delayMs });
  }

  /** @param {number} threadId */
  isHidden(threadId) {
    return this.#pending.has(threadId);
  }

  /** @param {number} threadId @param {string} title */
  delete(threadId, title) {
    if (this.#pending.has(threadId)) return;
    this.#pending.set(threadId, this.clock.setTimeout(() => this.#commit(threadId), this.delayMs));
    this.toast = { threadId, text: `Conversation with ${title} deleted` };
    this.emitChange();
  }

  /** @param {number} threadId */
  undo(threadId) {
    if (!this.#pending.has(threadId)) return;
    this.clock.clearTimeout(this.#pending.get(threadId));
    this.#pending.delete(threadId);
    if (this.toast?.threadId === threadId) this.toast = null;
    this.emitChange();
  }

  dismissToast() {
    this.toast = null;
    this.emitChange();
  }

  /** The page is going away: send what is pending now, surviving the unload. */
  flush() {
    for (const threadId of [...this.#pending.keys()]) this.#commit(threadId, true);
  }

  /** Signed out: forget everything without sending. */
  clear() {
    for (const timer of this.#pending.values()) this.clock.clearTimeout(timer);
    this.#pending.clear();
    this.toast = null;
  }

  /** @param {number} threadId @param {boolean} [keepalive] */
  async #commit(threadId, keepalive = false) {
    this.clock.clearTimeout(this.#pending.get(threadId));
    if (this.toast?.threadId === threadId) this.toast = null;
    this.emitChange();
    try {
      await this.api.deleteThread(threadId, { keepalive });
      this.onDeleted(threadId);
    } catch {
      this.onFailed(threadId);
    } finally {
      this.#pending.delete(threadId);
      this.emitChange();
    }
  }
}
