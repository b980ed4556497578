/** An open conversation: header, message log, compose box. */
import { avatar, fillAvatar } from './avatar.js';
import { ComposeView } from './compose-view.js';
import { h, icon, setText, uid } from './dom.js';
import { ICONS } from './icons.js';
import { MessageListView } from './message-list-view.js';

export class ThreadView {
  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    const titleId = uid('thread-title');
    this.title = h('h2', { id: titleId, class: 'pane-title' });
    this.subtitle = h('p', { class: 'pane-subtitle' });
    this.avatar = avatar('', '');
    this.log = new MessageListView(/** @type {any} */ (intents));
    this.compose = new ComposeView(/** @type {any} */ (intents));
    this.root = h('section', { class: 'thread', 'aria-labelledby': titleId },
      h('header', { class: 'pane-header' },
        backButton(intents),
        this.avatar,
        h('div', { class: 'pane-heading' }, this.title, this.subtitle)));
    this.log.mount(this.root);
    this.compose.mount(this.root);
    this.threadId = null;
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /**
   * @param {{id: number, title: string, peer: string, groups: any[], hasMore: boolean,
   *   loading: boolean, loadingOlder: boolean, error: string|null}} thread
   * @param {{draft: string, draftKey: string}} compose
   */
  update(thread, compose) {
    setText(this.title, thread.title);
    setText(this.subtitle, thread.title === thread.peer ? '' : thread.peer);
    this.subtitle.hidden = thread.title === thread.peer;
    fillAvatar(this.avatar, thread.title, thread.peer);
    this.log.update({ ...thread, label: `Messages with ${thread.title}` });
    this.compose.update({ ...compose, label: `Message to ${thread.title}` });
    if (this.threadId !== thread.id) {
      this.threadId = thread.id;
      this.log.scrollToBottom();
    }
  }

  focus() {
    this.compose.focus();
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
