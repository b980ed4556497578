/**
 * The signed-in layout: search, conversation list (inbox or archived) on the
 * left, the open pane (conversation, new message, settings) on the right.
 * Narrow screens show one at a time (`data-pane` drives the CSS).
 *
 * Focus follows the user's intent: opening a conversation lands in its
 * compose box, "new" lands in the To field, settings on its heading, going
 * back returns to the row that was open.
 */
import { ConversationListView } from './conversation-list-view.js';
import { confirmDialog } from './dialog.js';
import { h, icon, setText } from './dom.js';
import { ICONS } from './icons.js';
import { NewMessageView } from './new-message-view.js';
import { SearchBoxView, SearchResultsView } from './search-view.js';
import { PrivacyView } from './privacy-view.js';
import { SettingsView } from './settings-view.js';
import { ConnectionBannerView, StatusChipsView } from './status-view.js';
import { ThreadView } from './thread-view.js';

/** @typedef {ReturnType<import('../domain/app-model.js').AppModel['snapshot']>} AppState */

export class MainView {
  /** @type {ThreadView|NewMessageView|SettingsView|PrivacyView|null} */ #pane = null;
  /** @type {string|null} */ #paneKey = null;
  /** @type {number|null} */ #lastThreadId = null;

  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.intents = intents;
    this.banner = new ConnectionBannerView(/** @type {any} */ (intents));
    this.chips = new StatusChipsView();
    this.list = new ConversationListView(/** @type {any} */ (intents));
    this.searchBox = new SearchBoxView(intents);
    this.results = new SearchResultsView(intents);
    this.searchBox.onArrowDown = () => this.results.focus();
    this.results.onEscapeUp = () => this.searchBox.focus();
    this.account = h('p', { class: 'account' });
    this.newButton = h('button', { type: 'button', class: 'button button-fab', 'aria-keyshortcuts': 'Alt+N',
      onclick: () => intents.startNewMessage() }, icon(ICONS.compose), h('span', { text: 'Start chat' }));
    this.archivedButton = h('button', { type: 'button', class: 'button button-quiet list-switch',
      onclick: () => intents.showList('archived') }, icon(ICONS.archive), h('span', { text: 'Archived' }));
    this.inboxHeader = h('div', { class: 'list-header', hidden: true },
      h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Back to inbox', onclick: () => intents.showList('inbox') },
        icon(ICONS.back)),
      h('h2', { class: 'list-title', text: 'Archived' }));
    const sidebarHeader = h('header', { class: 'sidebar-header' },
      h('div', { class: 'sidebar-title-row' },
        h('h1', { class: 'app-title' }, icon(ICONS.chat, 'icon brand-icon'), h('span', { text: 'Ferry' })),
        h('div', { class: 'sidebar-tools' },
          h('button', { type: 'button', class: 'icon-button keyboard-only', 'aria-label': 'Keyboard shortcuts', title: 'Keyboard shortcuts (?)',
            'aria-keyshortcuts': 'Shift+?', onclick: () => intents.showHelp() }, icon(ICONS.keyboard)),
          h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Settings', title: 'Settings',
            onclick: () => intents.openSettings() }, icon(ICONS.settings)),
          h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Sign out', title: 'Sign out',
            onclick: () => this.#signOut() }, icon(ICONS.signOut)))),
      this.account);
    this.sidebar = h('aside', { class: 'sidebar', 'aria-label': 'Conversations and status' }, sidebarHeader);
    this.chips.mount(sidebarHeader);
    this.searchBox.mount(sidebarHeader);
    this.sidebar.append(h('div', { class: 'sidebar-actions' }, this.newButton, this.archivedButton), this.inboxHeader);
    this.list.mount(this.sidebar);
    this.results.mount(this.sidebar);
    this.paneHost = h('main', { class: 'pane' });
    this.emptyPane = h('div', { class: 'pane-empty' },
      icon(ICONS.chat, 'icon pane-empty-icon'),
      h('p', { text: 'Pick a conversation, or start a new one.' }),
      h('p', { class: 'pane-empty-hint keyboard-only', text: 'Press ? for keyboard shortcuts.' }));
    this.root = h('div', { class: 'shell', 'data-pane': 'empty' }, this.sidebar, this.paneHost);
    this.banner.mount(this.root);
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /** @param {AppState} state */
  update(state) {
    this.root.dataset.pane = state.pane;
    this.banner.update(state.connection);
    this.chips.update(state);
    const who = state.account?.display_name ? `${state.account.display_name} · ${state.account.phone}` : state.account?.phone;
    setText(this.account, who ? `Signed in as ${who}` : '');
    const archived = state.list.mode === 'archived';
    this.inboxHeader.hidden = !archived;
    this.archivedButton.hidden = archived;
    setText(/** @type {Element} */ (this.archivedButton.lastElementChild),
      state.list.archivedCount ? `Archived (${state.list.archivedCount})` : 'Archived');
    const searching = state.search.query.trim().length >= 2;
    this.list.root.hidden = searching;
    this.list.update(state.list);
    this.searchBox.update(state.search);
    this.results.update(state.search, state.now);
    this.#updatePane(state);
  }

  focus() {
    if (!this.list.focus()) this.newButton.focus();
  }

  focusSearch() {
    this.searchBox.focus();
  }

  /** @returns {boolean} whether there was a compose box to focus */
  focusCompose() {
    const pane = this.#pane;
    if (pane instanceof ThreadView || pane instanceof NewMessageView) {
      pane.compose.focus();
      return true;
    }
    return false;
  }

  unmount() {
    this.#pane?.unmount();
    this.root.remove();
  }

  /** Unsent messages are kept in this browser for this account; signing out drops them: ask. */
  async #signOut() {
    const unsent = this.intents.unsentCount?.() ?? 0;
    if (unsent > 0) {
      const ok = await confirmDialog({
        title: 'Sign out?',
        text: `${unsent === 1 ? '1 message hasn’t' : `${unsent} messages haven’t`} gone out yet. `
          + 'Signing out deletes them from this browser.',
        confirm: 'Sign out',
      });
      if (!ok) return;
    }
    this.intents.signOut();
  }

  /** @param {AppState} state */
  #updatePane(state) {
    const key = state.thread ? `thread:${state.thread.id}` : state.pane === 'thread' ? 'empty' : state.pane;
    const compose = { draft: state.draft, draftKey: key, notice: state.composeNotice };
    const changed = key !== this.#paneKey;
    if (changed) this.#swapPane(key);
    const pane = this.#pane;
    if (pane instanceof ThreadView && state.thread) pane.update(state.thread, compose);
    if (pane instanceof NewMessageView && state.newMessage) pane.update(state.newMessage, compose);
    if (pane instanceof SettingsView && state.settings) pane.update(state.settings);
    if (pane instanceof PrivacyView && state.privacy) pane.update(state.privacy);
    if (!changed) return;
    if (pane) pane.focus();
    else if (this.#lastThreadId !== null && !this.list.root.hidden) this.list.focus(this.#lastThreadId);
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
    if (key === 'new') this.#pane = new NewMessageView(this.intents);
    else if (key === 'settings') this.#pane = new SettingsView(this.intents);
    else if (key === 'privacy') this.#pane = new PrivacyView(this.intents);
    else this.#pane = new ThreadView(this.intents);
    this.#pane.mount(this.paneHost);
  }
}
