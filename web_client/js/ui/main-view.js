/**
 * The signed-in layout: conversation list on the left, the open pane on the
 * right. Narrow screens show one at a time (`data-pane` drives the CSS).
 *
 * Focus follows the user's intent: opening a conversation lands in its
 * compose box, "new" lands in the To field, going back returns to the row
 * that was open.
 */
import { ConversationListView } from './conversation-list-view.js';
import { h, icon } from './dom.js';
import { ICONS } from './icons.js';
import { NewMessageView } from './new-message-view.js';
import { ConnectionBannerView, StatusChipsView } from './status-view.js';
import { ThreadView } from './thread-view.js';

export class MainView {
  /** @type {ThreadView|NewMessageView|null} */ #pane = null;
  /** @type {string|null} */ #paneKey = null;
  /** @type {number|null} */ #lastThreadId = null;

  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.intents = intents;
    this.banner = new ConnectionBannerView();
    this.chips = new StatusChipsView();
    this.list = new ConversationListView(/** @type {any} */ (intents));
    this.account = h('p', { class: 'account' });
    this.newButton = h('button', { type: 'button', class: 'button button-fab', onclick: () => intents.startNewMessage() },
      icon(ICONS.compose), h('span', { text: 'Start chat' }));
    const sidebarHeader = h('header', { class: 'sidebar-header' },
      h('div', { class: 'sidebar-title-row' },
        h('h1', { class: 'app-title' }, icon(ICONS.chat, 'icon brand-icon'), h('span', { text: 'Ferry' })),
        h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Sign out', title: 'Sign out',
          onclick: () => intents.signOut() }, icon(ICONS.signOut))),
      this.account);
    this.sidebar = h('aside', { class: 'sidebar', 'aria-label': 'Conversations and status' }, sidebarHeader);
    this.chips.mount(sidebarHeader);
    this.sidebar.append(this.newButton);
    this.list.mount(this.sidebar);
    this.paneHost = h('main', { class: 'pane' });
    this.emptyPane = h('div', { class: 'pane-empty' },
      icon(ICONS.chat, 'icon pane-empty-icon'),
      h('p', { text: 'Pick a conversation, or start a new one.' }));
    this.root = h('div', { class: 'shell', 'data-pane': 'empty' }, this.sidebar, this.paneHost);
    this.banner.mount(this.root);
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /** @param {ReturnType<import('../domain/app-model.js').AppModel['snapshot']>} state */
  update(state) {
    this.root.dataset.pane = state.pane;
    this.banner.update(state.connection);
    this.chips.update(state);
    this.account.textContent = state.account ? `Signed in as ${state.account.phone}` : '';
    this.list.update(state.list);
    this.#updatePane(state);
  }

  focus() {
    if (!this.list.focus()) this.newButton.focus();
  }

  unmount() {
    this.#pane?.unmount();
    this.root.remove();
  }

  /** @param {ReturnType<import('../domain/app-model.js').AppModel['snapshot']>} state */
  #updatePane(state) {
    const key = state.thread ? `thread:${state.thread.id}` : state.pane === 'new' ? 'new' : 'empty';
    const compose = { draft: state.draft, draftKey: key };
    const changed = key !== this.#paneKey;
    if (changed) this.#swapPane(key);
    if (this.#pane instanceof ThreadView && state.thread) this.#pane.update(state.thread, compose);
    if (this.#pane instanceof NewMessageView && state.newMessage) this.#pane.update(state.newMessage, compose);
    if (!changed) return;
    if (this.#pane) this.#pane.focus();
    else if (this.#lastThreadId !== null) this.list.focus(this.#lastThreadId);
    if (state.thread) this.#lastThreadId = state.thread.id;
  }

  /** @param {string} key */
  #swapPane(key) {
    this.#paneKey = key;
    this.#pane?.unmount();
    this.emptyPane.remove();
    if (key === 'empty') {
      this.#pane = null;
      this.paneHost.append(this.emptyPane);
      return;
    }
    this.#pane = key === 'new' ? new NewMessageView(this.intents) : new ThreadView(this.intents);
    this.#pane.mount(this.paneHost);
  }
}
