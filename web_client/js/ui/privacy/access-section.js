/** Staff access: the troubleshooting permission, and every look an operator took. */
import { accessLabel } from '../../domain/privacy-model.js';
import { h, setText, uid } from '../dom.js';
import { ICONS } from '../icons.js';
import { formStatus, privacySection, showForm } from './section.js';

export class AccessSection {
  /** @type {string} */ #key = '';

  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.intents = intents;
    this.grantState = h('p', { class: 'settings-item-sub' });
    this.hours = /** @type {HTMLSelectElement} */ (h('select', { id: uid('troubleshoot-hours') },
      ...[1, 4, 24, 72].map((n) => h('option', { value: String(n), text: n === 1 ? '1 hour' : `${n} hours` }))));
    this.grant = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'button button-quiet button-small' }, 'Allow'));
    this.end = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'button button-quiet button-small',
      onclick: () => this.intents.setTroubleshooting(0) }, 'End now'));
    this.status = formStatus();
    this.history = h('ul', { class: 'settings-list settings-events', 'aria-label': 'Access history' });
    const form = h('form', { class: 'rename-form', onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      this.intents.setTroubleshooting(Number(this.hours.value));
    } }, h('label', { for: this.hours.id, text: 'Let operators read my messages for' }), this.hours, this.grant, this.end);
    this.root = privacySection('Access history', ICONS.shield,
      'The people who run this server see your messages only if you allow it here, for a limited time. '
      + 'Every time they look into your account, it is listed below with the reason they gave.',
      this.grantState, form, this.status, this.history);
  }

  /** @param {import('./section.js').PrivacyState} s */
  update(s) {
    const until = s.privacy?.settings.troubleshoot_until ?? null;
    const when = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    setText(this.grantState, until ? `Operators may read your messages until ${when.format(new Date(until))}.`
      : 'Operators cannot read your messages.');
    this.end.hidden = !until;
    showForm(this.status, s.forms.troubleshoot, this.grant, this.end);
    const key = JSON.stringify(s.accesses);
    if (key === this.#key) return;
    this.#key = key;
    if (!s.accesses) {
      this.history.replaceChildren(h('li', { class: 'settings-empty', text: 'Loading…' }));
      return;
    }
    if (s.accesses.length === 0) {
      this.history.replaceChildren(h('li', { class: 'settings-empty', text: 'No one has looked into your account.' }));
      return;
    }
    this.history.replaceChildren(...s.accesses.map((a) => h('li', { class: 'settings-item event', 'data-access': a.id },
      h('div', { class: 'settings-item-text' },
        h('span', { class: 'settings-item-title', text: `${a.operator} ${accessLabel(a.action)}` }),
        h('span', { class: 'settings-item-sub', text: `Reason: ${a.reason}` })),
      h('time', { class: 'event-time', datetime: a.at, text: when.format(new Date(a.at)) }))));
  }
}
