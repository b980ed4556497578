/**
 * Compose box. Enter sends, Shift+Enter inserts a newline; Enter while an IME
 * is composing belongs to the IME. A text over the server's limit is kept
 * whole (no maxlength: a paste is never cut short without a word); the line
 * below says how far over it is and Send waits until it fits.
 */
import { smsCounter } from '../domain/compose-counter.js';
import { h, icon, setAttr, setText, uid } from './dom.js';
import { ICONS } from './icons.js';

export class ComposeView {
  /**
   * @param {{send: (text: string) => boolean, setDraft: (text: string) => void}} intents
   * @param {string} [label] accessible name of the text box
   */
  constructor(intents, label = 'Message') {
    this.intents = intents;
    const inputId = uid('compose');
    this.label = h('label', { for: inputId, class: 'visually-hidden', text: label });
    this.input = /** @type {HTMLTextAreaElement} */ (h('textarea', {
      id: inputId, rows: 1, placeholder: 'Text message', class: 'compose-input',
      onkeydown: (/** @type {KeyboardEvent} */ e) => this.#keydown(e),
      oninput: () => this.#changed(),
    }));
    this.button = h('button', { type: 'submit', class: 'icon-button compose-send', 'aria-label': 'Send message', disabled: true },
      icon(ICONS.send));
    this.counter = h('p', { id: uid('sms-count'), class: 'compose-counter' });
    this.notice = h('p', { id: uid('compose-notice'), class: 'compose-notice', role: 'status' });
    this.input.setAttribute('aria-describedby', `${this.counter.id} ${this.notice.id}`);
    this.root = h('form', { class: 'compose', onsubmit: (/** @type {Event} */ e) => this.#submit(e) },
      this.notice, h('div', { class: 'compose-row' }, this.label, this.input, this.button), this.counter);
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /** @param {{draft: string, draftKey: string, label?: string, notice?: string}} state */
  update(state) {
    if (state.label && this.label.textContent !== state.label) this.label.textContent = state.label;
    setText(this.notice, state.notice ?? '');
    // Drafts flow view → model; only adopt the model's copy when switching threads.
    if (state.draftKey !== this.draftKey) {
      this.draftKey = state.draftKey;
      this.input.value = state.draft;
      this.#syncButton();
    }
  }

  focus() {
    this.input.focus();
  }

  unmount() {
    this.root.remove();
  }

  /** @param {KeyboardEvent} event */
  #keydown(event) {
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    this.#sendNow();
  }

  /** @param {Event} event */
  #submit(event) {
    event.preventDefault();
    this.#sendNow();
    this.input.focus();
  }

  #sendNow() {
    if (smsCounter(this.input.value).over > 0) return; // the line below says why
    if (this.intents.send(this.input.value)) {
      this.input.value = '';
      this.#syncButton();
    }
  }

  #changed() {
    this.intents.setDraft(this.input.value);
    this.#syncButton();
  }

  #syncButton() {
    const { label, long, over } = smsCounter(this.input.value);
    /** @type {HTMLButtonElement} */ (this.button).disabled = !this.input.value.trim() || over > 0;
    setText(this.counter, label);
    this.counter.classList.toggle('is-long', long);
    this.counter.classList.toggle('is-over', over > 0);
    setAttr(this.input, 'aria-invalid', over > 0 ? 'true' : null);
  }
}
