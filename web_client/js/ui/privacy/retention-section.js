/** How long messages are kept. */
import { confirmDialog } from '../dialog.js';
import { h, uid } from '../dom.js';
import { ICONS } from '../icons.js';
import { formStatus, privacySection, showForm } from './section.js';

const CHOICES = [[null, 'Until I delete them'], [7, '7 days'], [30, '30 days'], [90, '90 days'],
  [365, '1 year'], [730, '2 years']];

export class RetentionSection {
  /** @type {string} */ #shown = '';

  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.intents = intents;
    this.select = /** @type {HTMLSelectElement} */ (h('select', { id: uid('retention') }));
    this.save = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'button button-primary button-small' }, 'Save'));
    this.status = formStatus();
    const form = h('form', { class: 'rename-form', onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      this.#save();
    } }, h('label', { for: this.select.id, text: 'Keep messages' }), this.select, this.save);
    this.root = privacySection('How long messages are kept', ICONS.archive,
      'Messages older than this are deleted automatically, on the server and in your open browsers.',
      form, this.status);
  }

  async #save() {
    const days = this.select.value === 'forever' ? null : Number(this.select.value);
    if (days !== null) {
      const ok = await confirmDialog({
        title: `Delete messages older than ${days} days?`,
        text: 'Messages older than that are deleted for good within the hour, and from then on as they age.',
        confirm: 'Delete old messages',
      });
      if (!ok) return;
    }
    this.intents.setRetention(days);
  }

  /** @param {import('./section.js').PrivacyState} s */
  update(s) {
    const current = s.privacy?.settings.retention_days ?? null;
    const key = String(current);
    if (key !== this.#shown) {
      this.#shown = key;
      const choices = CHOICES.some(([d]) => d === current) ? CHOICES : [...CHOICES, [current, `${current} days`]];
      this.select.replaceChildren(...choices.map(([d, text]) => h('option', {
        value: d === null ? 'forever' : String(d), text: String(text), selected: d === current })));
    }
    this.select.disabled = !s.privacy;
    showForm(this.status, s.forms.retention, this.save);
  }
}
