/**
 * Owns what the user does to whole conversations: archive (with Undo), read /
 * unread, delete (hidden at once, the DELETE waits out the Undo period), mask
 * (irreversible: the view asks first; the masked messages arrive by the change feed).
 * Changes show optimistically and roll back with a toast when the server
 * refuses. Acting on the open conversation closes it.
 */

export class ConversationActions {
  /**
   * @param {object} deps
   * @param {import('./api.js').FerryApi} deps.api
   * @param {import('./store.js').ConversationStore} deps.store
   * @param {import('./selection.js').Selection} deps.selection
   * @param {import('./notices.js').Notices} deps.notices
   * @param {import('./undo-delete.js').UndoableDeletes} deps.deletes
   * @param {() => void} deps.closePane
   */
  constructor({ api, store, selection, notices, deletes, closePane }) {
    Object.assign(this, { api, store, selection, notices, deletes, closePane });
  }

  /** @param {number} threadId @param {boolean} archived */
  setArchived(threadId, archived) {
    this.store.patchThreadLocally(threadId, { archived });
    this.api.updateThread(threadId, { archived }).catch(() => {
      this.store.patchThreadLocally(threadId, { archived: !archived });
      this.notices.show('Couldn’t update the conversation.');
    });
    if (archived && this.selection.selectedId === threadId) this.closePane();
    this.notices.show(archived ? 'Conversation archived' : 'Conversation moved to the inbox',
      () => this.setArchived(threadId, !archived));
  }

  /** Leaves the conversation, or reading it would mark it read again. @param {number} threadId */
  markUnread(threadId) {
    const thread = this.store.threads.get(threadId);
    if (!thread) return;
    this.store.patchThreadLocally(threadId, { unread: Math.max(1, thread.unread) });
    this.selection.receiptInFlight(threadId).then(() => this.api.updateThread(threadId, { read: false }))
      .catch(() => this.notices.show('Couldn’t mark as unread.'));
    if (this.selection.selectedId === threadId) this.closePane();
  }

  /** @param {number} threadId */
  markRead(threadId) {
    this.store.markReadLocally(threadId);
    this.api.updateThread(threadId, { read: true }).catch(() => {});
  }

  /** @param {number} threadId */
  delete(threadId) {
    const thread = this.store.threads.get(threadId);
    if (!thread) return;
    if (this.selection.selectedId === threadId) this.closePane();
    this.notices.clear();
    this.deletes.delete(threadId, thread.title || thread.peer);
  }

  /** Destroy one message's content (asked first). @param {number} messageId */
  maskMessage(messageId) {
    this.api.maskMessage(messageId).then(
      () => this.notices.show('Message masked. Its text is gone for good.'),
      () => this.notices.show('Couldn’t mask the message.'));
  }

  /** Destroy the content of every message of the conversation (asked first). @param {number} threadId */
  mask(threadId) {
    this.api.maskThread(threadId).then(
      () => this.notices.show('Conversation masked. Its texts are gone for good.'),
      () => this.notices.show('Couldn’t mask the conversation.'));
  }
}
