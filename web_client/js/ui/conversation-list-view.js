/**
 * The conversation list. Rows are buttons (Enter/Space open them); Up/Down,
 * Home/End move between rows so a long list is quick to walk by keyboard.
 */
import { avatar, fillAvatar } from './avatar.js';
import { h, reconcile, setAttr, setText } from './dom.js';

/** @typedef {import('../domain/conversation-list.js').ConversationItem} ConversationItem */

export class ConversationListView {
  /** @type {Map<string, Element>} */
  #rows = new Map();

  /** @param {{openThread: (id: number) => void}} intents */
  constructor(intents) {
    this.intents = intents;
    this.list = h('ul', { class: 'conv-list', role: 'list', onkeydown: (e) => this.#keydown(e) });
    this.empty = h('p', { class: 'conv-empty', text: 'No conversations yet.' });
    this.loading = h('p', { class: 'conv-empty', role: 'status', text: 'Loading conversations…' });
    this.root = h('nav', { class: 'conv-nav', 'aria-label': 'Conversations' }, this.loading, this.empty, this.list);
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /** @param {{items: ConversationItem[], selectedId: number|null, loading: boolean, mode?: string}} state */
  update(state) {
    this.loading.hidden = !state.loading;
    this.empty.hidden = state.loading || state.items.length > 0;
    setText(this.empty, state.mode === 'archived' ? 'No archived conversations.' : 'No conversations yet.');
    setAttr(this.root, 'aria-label', state.mode === 'archived' ? 'Archived conversations' : 'Conversations');
    reconcile(this.list, state.items, this.#rows, (item) => String(item.id),
      (item) => this.#createRow(item), (el, item) => refreshRow(el, item, item.id === state.selectedId));
  }

  /** @param {number|null} [id] focus that row, else the selected or first one @returns {boolean} */
  focus(id = null) {
    const row = (id !== null && this.#rows.get(String(id)))
      || this.list.querySelector('[aria-current="true"]') || this.list.querySelector('button');
    if (!(row instanceof HTMLElement)) return false;
    (row.matches('button') ? row : row.querySelector('button'))?.focus();
    return true;
  }

  unmount() {
    this.root.remove();
  }

  /** @param {ConversationItem} item */
  #createRow(item) {
    const button = h('button', { type: 'button', class: 'conv', onclick: () => this.intents.openThread(item.id) },
      avatar(item.title, item.peer),
      h('span', { class: 'conv-text' },
        h('span', { class: 'conv-top' },
          h('span', { class: 'conv-title', dir: 'auto' }),
          h('span', { class: 'line-chip', hidden: true }),
          h('time', { class: 'conv-time' })),
        h('span', { class: 'conv-bottom' },
          h('span', { class: 'conv-preview', dir: 'auto' }),
          h('span', { class: 'badge', 'aria-hidden': 'true' }),
          h('span', { class: 'visually-hidden conv-unread-text' }))));
    return h('li', { 'data-id': item.id }, button);
  }

  /** @param {KeyboardEvent} event */
  #keydown(event) {
    const buttons = [...this.list.querySelectorAll('button.conv')];
    const index = buttons.indexOf(/** @type {Element} */ (document.activeElement));
    if (index < 0) return;
    const next = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: buttons.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    /** @type {HTMLElement} */ (buttons[Math.max(0, Math.min(buttons.length - 1, next))]).focus();
  }
}

/** @param {Element} li @param {ConversationItem} item @param {boolean} selected */
function refreshRow(li, item, selected) {
  const button = /** @type {HTMLElement} */ (li.firstElementChild);
  setAttr(button, 'aria-current', selected ? 'true' : null);
  button.classList.toggle('conv-unread', item.unread > 0);
  fillAvatar(/** @type {HTMLElement} */ (button.querySelector('.avatar')), item.title, item.peer);
  setText(button.querySelector('.conv-title'), item.title);
  const line = /** @type {HTMLElement} */ (button.querySelector('.line-chip'));
  setText(line, item.line ?? '');
  line.hidden = !item.line;
  const time = /** @type {HTMLElement} */ (button.querySelector('.conv-time'));
  setText(time, item.time);
  setAttr(time, 'datetime', item.timestamp);
  setText(button.querySelector('.conv-preview'), (item.previewFromMe ? 'You: ' : '') + item.preview);
  const badge = /** @type {HTMLElement} */ (button.querySelector('.badge'));
  badge.hidden = item.unread === 0;
  setText(badge, item.unread > 99 ? '99+' : String(item.unread));
  // Bare digits read as noise; screen readers get words instead.
  setText(/** @type {Element} */ (button.querySelector('.conv-unread-text')), item.unread ? `, ${item.unread} unread` : '');
}
