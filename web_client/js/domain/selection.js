/**
 * Owns what is open: the pane (empty | thread | new | settings), the selected
 * conversation and its ThreadModel, which list shows (inbox or archived), and
 * the read receipts that follow from a conversation being on screen.
 *
 * A conversation only counts as read while the page is visible; a receipt in
 * flight is remembered so that "mark as unread" can wait for it instead of
 * being overtaken.
 */
import { Observable } from './observable.js';
import { ThreadModel } from './thread-model.js';

/** @typedef {'empty'|'thread'|'new'|'settings'|'privacy'} Pane */

export class Selection extends Observable {
  /** @type {number|null} */ selectedId = null;
  /** @type {Pane} */ pane = 'empty';
  /** @type {'inbox'|'archived'} */ listMode = 'inbox';
  /** @type {ThreadModel|null} */ thread = null;
  visible = true;
  /** @type {Map<number, Promise<unknown>>} read receipts in flight */
  #markingRead = new Map();

  /**
   * @param {{api: import('./api.js').FerryApi, store: import('./store.js').ConversationStore}} deps
   */
  constructor({ api, store }) {
    super();
    this.api = api;
    this.store = store;
  }

  /** @param {number} threadId @param {number|null} [revealMessageId] a search hit to scroll to */
  openThread(threadId, revealMessageId = null) {
    if (!(this.pane === 'thread' && this.selectedId === threadId)) {
      this.selectedId = threadId;
      this.pane = 'thread';
      this.thread = new ThreadModel({ api: this.api, store: this.store, threadId });
      this.thread.subscribe(() => this.emitChange());
      this.thread.ensureLoaded();
      const thread = this.store.threads.get(threadId);
      if (thread) this.listMode = thread.archived ? 'archived' : 'inbox';
    }
    if (revealMessageId !== null) this.thread?.reveal(revealMessageId);
    this.markReadIfSeen();
    this.emitChange();
  }

  /** Leave any conversation and show another pane. @param {Exclude<Pane, 'thread'>} pane */
  show(pane) {
    this.thread = null;
    this.selectedId = null;
    this.pane = pane;
    this.emitChange();
  }

  /** @param {'inbox'|'archived'} mode */
  showList(mode) {
    this.listMode = mode;
    this.emitChange();
  }

  /** The open conversation's record, if a conversation is open and still exists. */
  get selectedThread() {
    return this.selectedId === null ? null : this.store.threads.get(this.selectedId) ?? null;
  }

  /** @param {boolean} visible page visibility */
  setVisible(visible) {
    this.visible = visible;
    this.markReadIfSeen();
  }

  /** @param {number} threadId @returns {Promise<unknown>} the read receipt in flight, if any */
  receiptInFlight(threadId) {
    return this.#markingRead.get(threadId) ?? Promise.resolve();
  }

  markReadIfSeen() {
    const thread = this.selectedThread;
    if (!thread || thread.unread === 0 || !this.visible || this.#markingRead.has(thread.id)) return;
    this.store.markReadLocally(thread.id);
    this.#markingRead.set(thread.id,
      this.api.markRead(thread.id).catch(() => {}).finally(() => this.#markingRead.delete(thread.id)));
  }

  reset() {
    this.thread = null;
    this.selectedId = null;
    this.pane = 'empty';
    this.listMode = 'inbox';
  }
}
