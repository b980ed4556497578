/**
 * Start a conversation: a "To" field that also filters the phone's contacts
 * (when the server has them), a "From" line picker when the account has
 * several lines, and the compose box.
 */
import { avatar } from './avatar.js';
import { ComposeView } from './compose-view.js';
import { h, setAttr, setText, uid } from './dom.js';
import { MessageListView } from './message-list-view.js';
import { backButton } from './thread-view.js';

/** @typedef {NonNullable<ReturnType<import('../domain/app-model.js').AppModel['snapshot']>['newMessage']>} NewMessageState */

export class NewMessageView {
  /** @type {string} */ #contactsKey = '';
  /** @type {string} */ #linesKey = '';

  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.intents = intents;
    const titleId = uid('new-title');
    const errorId = uid('to-error');
    const hintId = uid('to-hint');
    this.to = /** @type {HTMLInputElement} */ (h('input', {
      id: uid('to'), type: 'tel', inputmode: 'tel', autocomplete: 'off', class: 'to-input',
      placeholder: 'Type a name or phone number', 'aria-describedby': `${hintId} ${errorId}`,
      oninput: () => intents.setNewRecipient(this.to.value),
      onkeydown: (/** @type {KeyboardEvent} */ e) => {
        if (e.key === 'Enter') {
          e.preventDefault();
          this.compose.focus();
        } else if (e.key === 'ArrowDown') {
          const first = /** @type {HTMLElement|null} */ (this.contacts.querySelector('button'));
          if (first) {
            e.preventDefault();
            first.focus();
          }
        }
      },
    }));
    this.error = h('p', { id: errorId, class: 'form-error', role: 'alert' });
    this.line = /** @type {HTMLSelectElement} */ (h('select', { id: uid('line'), class: 'line-select',
      onchange: () => intents.setNewLine(Number(this.line.value)) }));
    this.lineRow = h('div', { class: 'to-row', hidden: true },
      h('label', { for: this.line.id, class: 'to-label', text: 'From' }), this.line);
    this.contacts = h('ul', { class: 'contact-list', 'aria-label': 'Contacts', onkeydown: (/** @type {KeyboardEvent} */ e) => this.#keydown(e) });
    this.contactsHeading = h('h3', { class: 'contact-heading', text: 'Contacts' });
    this.contactsBox = h('div', { class: 'contacts', hidden: true }, this.contactsHeading, this.contacts);
    this.log = new MessageListView(/** @type {any} */ (intents));
    this.compose = new ComposeView(/** @type {any} */ (intents), 'Message');
    this.root = h('section', { class: 'thread new-message', 'aria-labelledby': titleId },
      h('header', { class: 'pane-header' },
        backButton(intents),
        h('div', { class: 'pane-heading' }, h('h2', { id: titleId, class: 'pane-title', text: 'New conversation' }))),
      h('div', { class: 'to-row' },
        h('label', { for: this.to.id, class: 'to-label', text: 'To' }),
        h('div', { class: 'to-field' }, this.to,
          this.hint = h('p', { id: hintId, class: 'field-hint', 'aria-live': 'polite' }),
          this.error)),
      this.lineRow,
      this.contactsBox);
    this.log.mount(this.root);
    this.compose.mount(this.root);
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /**
   * @param {NewMessageState} state
   * @param {{draft: string, draftKey: string}} compose
   */
  update(state, compose) {
    if (this.to.value !== state.recipient && document.activeElement !== this.to) this.to.value = state.recipient;
    setText(this.error, state.error ?? '');
    // Checked as it is typed; only sending turns a bad number into an error.
    setText(this.hint, state.error ? '' : state.check.text);
    setAttr(this.hint, 'data-state', state.check.state);
    setAttr(this.to, 'aria-invalid', state.error ? 'true' : null);
    if (state.error && state.error !== this.shownError) this.to.focus();
    this.shownError = state.error;
    this.#updateLines(state);
    this.#updateContacts(state);
    const groups = state.pending.length ? [{ key: 'pending', label: 'Today', messages: state.pending }] : [];
    this.log.update({ groups, label: 'New conversation' });
    this.log.frame.hidden = groups.length === 0 && !this.contactsBox.hidden;
    this.compose.update({ ...compose, label: 'Message' });
  }

  focus() {
    this.to.focus();
  }

  unmount() {
    this.root.remove();
  }

  /** @param {NewMessageState} state */
  #updateLines(state) {
    this.lineRow.hidden = state.lines.length < 2;
    const key = JSON.stringify(state.lines);
    if (key !== this.#linesKey) {
      this.#linesKey = key;
      this.line.replaceChildren(...state.lines.map((l) => h('option', { value: l.id, text: l.label })));
    }
    if (state.lineId !== null) this.line.value = String(state.lineId);
  }

  /** @param {NewMessageState} state */
  #updateContacts(state) {
    const show = state.contacts !== null && state.pending.length === 0;
    this.contactsBox.hidden = !show || (state.contacts?.length === 0 && !state.recipient);
    if (!show || !state.contacts) return;
    const key = JSON.stringify(state.contacts.map((c) => c.id));
    if (key === this.#contactsKey) return;
    this.#contactsKey = key;
    if (state.contacts.length === 0) {
      this.contacts.replaceChildren(h('li', { class: 'conv-empty', text: 'No contact matches. Type their number or short code to text it.' }));
      return;
    }
    this.contacts.replaceChildren(...state.contacts.map((c) => h('li', {},
      h('button', { type: 'button', class: 'contact', onclick: () => this.#pick(c) },
        avatar(c.name, c.number),
        h('span', { class: 'conv-text' },
          h('span', { class: 'conv-title', text: c.name }),
          h('span', { class: 'conv-preview', text: c.number }))))));
  }

  /** @param {{number: string, line_id: number|null}} contact */
  #pick(contact) {
    this.to.value = contact.number;
    this.intents.pickContact(contact);
    this.compose.focus();
  }

  /** @param {KeyboardEvent} event */
  #keydown(event) {
    const buttons = [...this.contacts.querySelectorAll('button')];
    const index = buttons.indexOf(/** @type {HTMLButtonElement} */ (document.activeElement));
    if (index < 0) return;
    const next = { ArrowDown: index + 1, ArrowUp: index - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    if (next < 0) this.to.focus();
    else buttons[Math.min(buttons.length - 1, next)].focus();
  }
}
