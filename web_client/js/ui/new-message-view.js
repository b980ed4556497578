/** Start a conversation with any number: a "To" field above the compose box. */
import { ComposeView } from './compose-view.js';
import { h, setAttr, setText, uid } from './dom.js';
import { MessageListView } from './message-list-view.js';
import { backButton } from './thread-view.js';

export class NewMessageView {
  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    const titleId = uid('new-title');
    const errorId = uid('to-error');
    const hintId = uid('to-hint');
    this.to = /** @type {HTMLInputElement} */ (h('input', {
      id: uid('to'), type: 'tel', inputmode: 'tel', autocomplete: 'off', class: 'to-input',
      placeholder: 'Type a phone number', 'aria-describedby': `${hintId} ${errorId}`,
      oninput: () => intents.setNewRecipient(this.to.value),
      onkeydown: (/** @type {KeyboardEvent} */ e) => {
        if (e.key === 'Enter') {
          e.preventDefault();
          this.compose.focus();
        }
      },
    }));
    this.error = h('p', { id: errorId, class: 'form-error', role: 'alert' });
    this.log = new MessageListView(/** @type {any} */ (intents));
    this.compose = new ComposeView(/** @type {any} */ (intents), 'Message');
    this.root = h('section', { class: 'thread new-message', 'aria-labelledby': titleId },
      h('header', { class: 'pane-header' },
        backButton(intents),
        h('div', { class: 'pane-heading' }, h('h2', { id: titleId, class: 'pane-title', text: 'New conversation' }))),
      h('div', { class: 'to-row' },
        h('label', { for: this.to.id, class: 'to-label', text: 'To' }),
        h('div', { class: 'to-field' }, this.to,
          h('p', { id: hintId, class: 'field-hint', text: 'Include the country code, e.g. +1 555 010 0002' }),
          this.error)));
    this.log.mount(this.root);
    this.compose.mount(this.root);
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /**
   * @param {{recipient: string, error: string|null, pending: import('../domain/thread-model.js').BubbleView[]}} state
   * @param {{draft: string, draftKey: string}} compose
   */
  update(state, compose) {
    if (this.to.value !== state.recipient && document.activeElement !== this.to) this.to.value = state.recipient;
    setText(this.error, state.error ?? '');
    setAttr(this.to, 'aria-invalid', state.error ? 'true' : null);
    if (state.error && state.error !== this.shownError) this.to.focus();
    this.shownError = state.error;
    const groups = state.pending.length ? [{ key: 'pending', label: 'Today', messages: state.pending }] : [];
    this.log.update({ groups, label: 'New conversation' });
    this.compose.update({ ...compose, label: 'Message' });
  }

  focus() {
    this.to.focus();
  }

  unmount() {
    this.root.remove();
  }
}
