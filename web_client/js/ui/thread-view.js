/**
 * An open conversation: header (with archive, unread, delete), message log, compose box;
 * a conversation with a sender name (BANK) says that replies are not possible instead.
 */
import { replyRefusal } from '../protocol/phone.js';
import { avatar, fillAvatar } from './avatar.js';
import { ComposeView } from './compose-view.js';
import { confirmDialog } from './dialog.js';
import { h, icon, setAttr, setText, uid } from './dom.js';
import { ICONS } from './icons.js';
import { MessageListView } from './message-list-view.js';

export class ThreadView {
  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    const titleId = uid('thread-title');
    this.title = h('h2', { id: titleId, class: 'pane-title', dir: 'auto' });
    this.subtitle = h('p', { class: 'pane-subtitle' });
    this.avatar = avatar('', '');
    this.log = new MessageListView(/** @type {any} */ (intents));
    this.compose = new ComposeView(/** @type {any} */ (intents));
    const act = (/** @type {string} */ name) => () => this.threadId !== null && intents[name](this.threadId);
    this.archive = h('button', { type: 'button', class: 'icon-button', onclick: () => {
      if (this.threadId !== null) intents.setArchived(this.threadId, !this.archived);
    } }, icon(ICONS.archive));
    this.unread = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Mark as unread', title: 'Mark as unread',
      onclick: act('markUnread') }, icon(ICONS.markUnread));
    this.remove = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Delete conversation', title: 'Delete conversation',
      onclick: act('deleteThread') }, icon(ICONS.delete));
    this.mask = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Mask conversation', title: 'Mask conversation',
      onclick: () => this.#mask(intents) }, icon(ICONS.lock));
    this.root = h('section', { class: 'thread', 'aria-labelledby': titleId },
      h('header', { class: 'pane-header' },
        backButton(intents),
        this.avatar,
        h('div', { class: 'pane-heading' }, this.title, this.subtitle),
        h('div', { class: 'pane-actions', role: 'toolbar', 'aria-label': 'Conversation actions' }, this.archive, this.unread, this.mask, this.remove)));
    this.log.mount(this.root);
    this.compose.mount(this.root);
    this.noReplyText = h('p', { class: 'compose-notice', tabindex: -1 });
    this.noReply = h('div', { class: 'compose', hidden: true }, this.noReplyText);
    this.root.append(this.noReply);
    /** @type {number|null} */ this.threadId = null;
    this.archived = false;
    /** @type {string|null} */ this.revealed = null;
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /**
   * @param {{id: number, title: string, peer: string, archived: boolean, line: string|null, groups: any[],
   *   hasMore: boolean, loading: boolean, loadingOlder: boolean, error: string|null, revealKey: string|null}} thread
   * @param {{draft: string, draftKey: string, notice?: string}} compose
   */
  update(thread, compose) {
    setText(this.title, thread.title);
    const sub = [thread.title === thread.peer ? '' : thread.peer, thread.line ? `via ${thread.line}` : ''].filter(Boolean).join(' · ');
    setText(this.subtitle, sub);
    this.subtitle.hidden = !sub;
    fillAvatar(this.avatar, thread.title, thread.peer);
    this.archived = thread.archived;
    const archiveLabel = thread.archived ? 'Unarchive' : 'Archive';
    setAttr(this.archive, 'aria-label', archiveLabel);
    setAttr(this.archive, 'title', archiveLabel);
    this.archive.replaceChildren(icon(thread.archived ? ICONS.unarchive : ICONS.archive));
    this.log.update({ ...thread, label: `Messages with ${thread.title}` });
    this.compose.update({ ...compose, label: `Message to ${thread.title}` });
    const refusal = replyRefusal(thread.peer);
    this.compose.root.hidden = refusal !== null;
    this.noReply.hidden = refusal === null;
    setText(this.noReplyText, refusal ?? '');
    if (this.threadId !== thread.id) {
      this.threadId = thread.id;
      this.log.scrollToBottom();
    }
    if (thread.revealKey && thread.revealKey !== this.revealed && this.log.reveal(thread.revealKey)) {
      this.revealed = thread.revealKey;
    }
  }

  /** Irreversible: ask first, saying so. @param {Record<string, Function>} intents */
  async #mask(intents) {
    if (this.threadId === null) return;
    const id = this.threadId;
    const ok = await confirmDialog({
      title: 'Mask this conversation?',
      text: 'The content of every message in it is destroyed for good and shows as ***** everywhere. '
        + 'This cannot be undone, not even by you. A text not yet sent is cancelled.',
      confirm: 'Mask for good',
    });
    if (ok) intents.maskThread(id);
  }

  focus() {
    if (this.noReply.hidden) this.compose.focus();
    else this.noReplyText.focus();
  }

  unmount() {
    this.root.remove();
  }
}

/** Only visible on narrow layouts, where list and thread take turns. */
export function backButton(/** @type {Record<string, Function>} */ intents) {
  return h('button', { type: 'button', class: 'icon-button back-button', 'aria-label': 'Back to conversations',
    onclick: () => intents.closePane() }, icon(ICONS.back));
}
