/** Deleting the account, confirmed with the password and a last question. */
import { confirmDialog } from '../dialog.js';
import { h, uid } from '../dom.js';
import { ICONS } from '../icons.js';
import { formStatus, privacySection, showForm } from './section.js';

export class DeleteSection {
  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.intents = intents;
    this.password = /** @type {HTMLInputElement} */ (h('input', { id: uid('delete-password'), type: 'password',
      autocomplete: 'current-password' }));
    this.submit = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'button button-danger' }, 'Delete my account'));
    this.status = formStatus();
    const form = h('form', { class: 'settings-form', novalidate: true, onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      this.#confirm();
    } },
    h('div', { class: 'field' }, h('label', { for: this.password.id, text: 'Your password' }), this.password),
    this.status, this.submit);
    this.root = privacySection('Delete your account', ICONS.delete,
      'Deletes your account and everything in it: messages, pictures, contacts, numbers, linked phones. '
      + 'The key that encrypts your messages is destroyed at once, so nobody can read them again; '
      + 'the rest is removed within minutes. Your phones are unlinked and every browser signed out. '
      + 'Your number can sign up again afterwards, into an empty account.',
      form);
  }

  async #confirm() {
    const ok = await confirmDialog({
      title: 'Delete your account for good?',
      text: 'This cannot be undone. Your messages, contacts and linked phones are gone for good.',
      confirm: 'Delete my account',
    });
    if (ok) this.intents.deleteAccount(this.password.value);
  }

  /** @param {import('./section.js').PrivacyState} s */
  update(s) {
    showForm(this.status, s.forms.deletion, this.submit);
  }
}
