/**
 * Message search in the sidebar: a search field, and while it holds a query
 * the results replace the conversation list. Matches are highlighted with
 * <mark> elements built from text nodes, never markup.
 */
import { MIN_QUERY, highlight, snippet } from '../domain/search-model.js';
import { relativeTime } from '../domain/time.js';
import { avatar } from './avatar.js';
import { h, icon, setText, uid } from './dom.js';
import { ICONS } from './icons.js';

/** @typedef {ReturnType<import('../domain/app-model.js').AppModel['snapshot']>['search']} SearchState */

export class SearchBoxView {
  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.input = /** @type {HTMLInputElement} */ (h('input', {
      id: uid('search'), type: 'search', class: 'search-input', placeholder: 'Search messages',
      autocomplete: 'off', spellcheck: 'false', 'aria-keyshortcuts': '/ Control+K',
      oninput: () => intents.setSearchQuery(this.input.value),
      onkeydown: (/** @type {KeyboardEvent} */ e) => {
        if (e.key === 'Escape' && this.input.value) {
          e.preventDefault();
          e.stopPropagation();
          this.input.value = '';
          intents.closeSearch();
        } else if (e.key === 'ArrowDown') {
          e.preventDefault();
          this.onArrowDown?.();
        }
      },
    }));
    this.clear = h('button', { type: 'button', class: 'icon-button search-clear', 'aria-label': 'Clear search', hidden: true,
      onclick: () => {
        this.input.value = '';
        intents.closeSearch();
        this.input.focus();
      } }, icon(ICONS.close));
    this.root = h('div', { class: 'search-box', role: 'search' },
      icon(ICONS.search, 'icon search-icon'),
      h('label', { for: this.input.id, class: 'visually-hidden', text: 'Search messages' }),
      this.input, this.clear);
    /** @type {(() => void)|undefined} */ this.onArrowDown = undefined;
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /** @param {SearchState} state */
  update(state) {
    if (this.input.value !== state.query && document.activeElement !== this.input) this.input.value = state.query;
    this.clear.hidden = !state.query;
  }

  focus() {
    this.input.focus();
    this.input.select();
  }
}

export class SearchResultsView {
  /** @type {string} */ #key = '';

  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.intents = intents;
    this.status = h('p', { class: 'conv-empty', role: 'status' });
    this.list = h('ul', { class: 'conv-list search-results', onkeydown: (/** @type {KeyboardEvent} */ e) => this.#keydown(e) });
    this.older = h('button', { type: 'button', class: 'button button-quiet button-small search-older', hidden: true,
      text: 'Search older messages', onclick: () => intents.searchOlder() });
    this.root = h('section', { class: 'conv-nav', 'aria-label': 'Search results', hidden: true },
      this.status, this.list, this.older);
    /** @type {(() => void)|undefined} Up from the first result */ this.onEscapeUp = undefined;
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /** @param {SearchState} state @param {number} now */
  update(state, now) {
    const searching = state.query.trim().length >= MIN_QUERY;
    this.root.hidden = !searching;
    if (!searching) return;
    const count = state.results.length;
    const found = `${count} message${count === 1 ? '' : 's'} found`;
    setText(this.status, state.error ?? (state.busy && !state.answered ? 'Searching…'
      : state.busy ? `${found}; searching older messages…`
        : count === 0 && state.more ? `No match in the newest messages for “${state.answered}”.`
          : count === 0 ? `No messages match “${state.answered || state.query.trim()}”.`
            : state.more ? `${found} in the newest messages` : found));
    this.older.hidden = !state.more || state.busy || Boolean(state.error);
    this.status.classList.toggle('search-count', count > 0 && !state.error);
    const key = JSON.stringify([state.answered, state.results.map((r) => r.id), Math.floor(now / 60_000)]);
    if (key === this.#key) return;
    this.#key = key;
    this.list.replaceChildren(...state.results.map((r) => this.#row(r, state.answered, now)));
  }

  focus() {
    /** @type {HTMLElement|null} */ (this.list.querySelector('button'))?.focus();
  }

  /** @param {SearchState['results'][number]} r @param {string} query @param {number} now */
  #row(r, query, now) {
    const text = h('span', { class: 'conv-preview search-snippet', dir: 'auto' },
      r.direction === 'out' ? 'You: ' : '',
      ...highlight(snippet(r.body, query), query).map((seg) => (seg.match ? h('mark', { text: seg.text }) : seg.text)));
    return h('li', {}, h('button', { type: 'button', class: 'conv',
      onclick: () => this.intents.openSearchResult(r.threadId, r.id) },
    avatar(r.title, r.peer),
    h('span', { class: 'conv-text' },
      h('span', { class: 'conv-top' },
        h('span', { class: 'conv-title', text: r.title }),
        h('time', { class: 'conv-time', datetime: r.timestamp, text: relativeTime(r.timestamp, now) })),
      h('span', { class: 'conv-bottom' }, text))));
  }

  /** @param {KeyboardEvent} event */
  #keydown(event) {
    const buttons = [...this.list.querySelectorAll('button')];
    const index = buttons.indexOf(/** @type {HTMLButtonElement} */ (document.activeElement));
    if (index < 0) return;
    const next = { ArrowDown: index + 1, ArrowUp: index - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    if (next < 0) this.onEscapeUp?.();
    else buttons[Math.min(buttons.length - 1, next)].focus();
  }
}
