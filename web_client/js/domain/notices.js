/**
 * Owns what tells the user about things outside the pane they look at: the
 * toast (with its optional Undo; a pending delete's toast wins), desktop
 * notifications for incoming messages, and the document title.
 *
 * Notifications skip a conversation the user is looking at right now
 * (page visible, window focused, that thread open).
 */
import { Observable } from './observable.js';

const TOAST_MS = 6000;

/**
 * @typedef {{text: string, undo: boolean, kind: 'delete'|'notice', threadId: number|null}} ToastView
 */

export class Notices extends Observable {
  /** @type {{text: string, undo: (() => void)|null}|null} */ toast = null;
  focused = true;
  /** @type {unknown} */ #timer = null;

  /**
   * @param {object} deps
   * @param {import('../platform/clock.js').Clock} deps.clock
   * @param {import('./undo-delete.js').UndoableDeletes} deps.deletes
   * @param {import('../platform/notifier.js').Notifier} [deps.notifier]
   */
  constructor({ clock, deletes, notifier }) {
    super();
    Object.assign(this, { clock, deletes, notifier });
  }

  /** @param {string} text @param {(() => void)|null} [undo] */
  show(text, undo = null) {
    this.toast = { text, undo };
    this.clock.clearTimeout(this.#timer);
    this.#timer = this.clock.setTimeout(() => {
      this.toast = null;
      this.emitChange();
    }, TOAST_MS);
    this.emitChange();
  }

  /** Run the current toast's undo. */
  undo() {
    if (this.deletes.toast) {
      this.deletes.undo(this.deletes.toast.threadId);
      return;
    }
    const undo = this.toast?.undo;
    this.toast = null;
    undo?.();
    this.emitChange();
  }

  dismiss() {
    this.toast = null;
    this.deletes.dismissToast();
    this.emitChange();
  }

  /** A delete's own toast replaces whatever notice was showing. */
  clear() {
    this.toast = null;
  }

  /** @returns {ToastView|null} */
  view() {
    if (this.deletes.toast) {
      return { text: this.deletes.toast.text, undo: true, kind: 'delete', threadId: this.deletes.toast.threadId };
    }
    return this.toast ? { text: this.toast.text, undo: Boolean(this.toast.undo), kind: 'notice', threadId: null } : null;
  }

  /**
   * Desktop notifications for messages new to the store.
   * @param {import('../protocol/schema.js').Message[]} added
   * @param {object} ctx
   * @param {(threadId: number) => boolean} ctx.onScreen whether that thread is open in a visible page
   * @param {(threadId: number) => string} ctx.titleOf
   * @param {(threadId: number) => void} ctx.open
   */
  notify(added, { onScreen, titleOf, open }) {
    if (!this.notifier || this.notifier.permission() !== 'granted') return;
    for (const m of added) {
      if (m.direction !== 'in' || m.deleted) continue;
      if (this.focused && onScreen(m.thread_id)) continue;
      this.notifier.show({
        title: titleOf(m.thread_id) || m.peer, body: m.refused ? 'A message could not be stored.' : m.body, tag: `ferry-thread-${m.thread_id}`,
        onClick: () => open(m.thread_id),
      });
    }
  }

  reset() {
    this.toast = null;
  }
}

/** @param {string} screen @param {number} unreadTotal */
export function documentTitle(screen, unreadTotal) {
  return screen === 'main' && unreadTotal ? `(${unreadTotal}) Ferry` : 'Ferry';
}
