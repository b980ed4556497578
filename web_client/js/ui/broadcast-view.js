/**
 * The broadcast panel: record who agreed to receive your messages, see who
 * replied STOP, and send one message to a list with a status per recipient.
 */
import { STATUS_WORDS } from '../domain/broadcast-model.js';
import { confirmDialog, Modal } from './dialog.js';
import { h, setText, uid } from './dom.js';

/** @typedef {ReturnType<import('../domain/broadcast-model.js').BroadcastModel['snapshot']>} BroadcastState */

/** @param {string} iso */
const day = (iso) => (iso ? iso.slice(0, 10) : '');

/** @param {string} label @param {HTMLElement} input @param {string} [hint] */
function labelled(label, input, hint) {
  return h('div', { class: 'field' }, h('label', { for: input.id, text: label }), input,
    hint ? h('p', { class: 'field-hint', text: hint }) : null);
}

export class BroadcastDialog {
  /** @type {unknown[]} */ #drawn = [];
  /** @type {string|null} */ shownNotice = null;

  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.intents = intents;
    this.modal = new Modal({ title: 'Broadcasts and consent', className: 'dialog-broadcast', onClose: () => intents.closeBroadcasts() });
    this.status = h('p', { class: 'form-status', role: 'status' });
    this.consents = h('ul', { class: 'settings-list', 'aria-label': 'Numbers that agreed to receive your messages' });
    this.optOuts = h('ul', { class: 'settings-list', 'aria-label': 'Numbers that replied STOP' });
    this.history = h('div', { class: 'broadcast-history' });
    const number = /** @type {HTMLInputElement} */ (h('input', { id: uid('consent-number'), type: 'tel', autocomplete: 'off' }));
    const note = /** @type {HTMLInputElement} */ (h('input', { id: uid('consent-note'), maxlength: 200, autocomplete: 'off' }));
    const given = /** @type {HTMLInputElement} */ (h('input', { id: uid('consent-given'), type: 'date' }));
    const consentForm = h('form', { class: 'settings-form', novalidate: true, onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      intents.recordRecipientConsent(number.value, note.value, given.value);
      number.value = '';
      note.value = '';
      given.value = '';
    } },
    labelled('Phone number', number), labelled('How they agreed (optional)', note, 'E.g. “signed up at the shop”.'),
    labelled('When they agreed (optional)', given, 'Leave empty for today.'),
    h('button', { type: 'submit', class: 'button button-quiet' }, 'Record consent'));
    this.numbers = /** @type {HTMLTextAreaElement} */ (h('textarea', { id: uid('broadcast-numbers'), rows: 4 }));
    this.body = /** @type {HTMLTextAreaElement} */ (h('textarea', { id: uid('broadcast-body'), rows: 3, maxlength: 1600 }));
    this.send = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'button button-primary' }, 'Send broadcast'));
    const sendForm = h('form', { class: 'settings-form', novalidate: true, onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      intents.sendBroadcast(this.body.value, this.numbers.value);
    } },
    labelled('Numbers', this.numbers, 'One per line. Only numbers with recorded consent that have not replied STOP get it; texts go out a few a minute.'),
    h('button', { type: 'button', class: 'button button-quiet', onclick: () => this.#addEveryone() },
      'Add everyone who agreed'),
    labelled('Message', this.body), this.send);
    /** @type {string[]} */ this.agreed = [];
    this.modal.body.append(this.status,
      h('h3', { class: 'settings-heading', text: 'New broadcast' }), sendForm,
      h('h3', { class: 'settings-heading', text: 'Sent broadcasts' }), this.history,
      h('h3', { class: 'settings-heading', text: 'Who agreed to receive your messages' }), this.consents, consentForm,
      h('h3', { class: 'settings-heading', text: 'Who replied STOP' }),
      h('p', { class: 'settings-lede', text: 'Ferry does not text them from that number until they send START.' }),
      this.optOuts);
  }

  /** @param {BroadcastState|undefined} s */
  update(s) {
    if (!s?.open) {
      this.modal.close();
      return;
    }
    setText(this.status, s.error ?? s.notice ?? (s.busy ? 'Working…' : ''));
    this.status.dataset.kind = s.error ? 'error' : 'ok';
    this.send.disabled = s.busy;
    if (s.notice !== this.shownNotice && s.notice?.startsWith('Broadcast started')) {
      this.body.value = '';
      this.numbers.value = '';
    }
    this.shownNotice = s.notice;
    const key = [s.consents, s.optOuts, s.broadcasts];
    if (key.some((v, i) => v !== this.#drawn[i])) {
      this.#drawn = key;
      this.#draw(s);
    }
    this.modal.open();
  }

  #addEveryone() {
    const typed = this.numbers.value.split('\n').map((n) => n.trim()).filter(Boolean);
    this.numbers.value = [...new Set([...typed, ...this.agreed])].join('\n');
    this.numbers.focus();
  }

  /** @param {BroadcastState} s */
  #draw(s) {
    this.agreed = s.consents.map((c) => c.number);
    this.consents.replaceChildren(...(s.consents.length ? s.consents.map((c) => h('li', { class: 'settings-item' },
      h('span', { class: 'settings-item-text' }, h('strong', { text: c.number }),
        ` — agreed ${day(c.given_at)}${c.note ? `, ${c.note}` : ''} (recorded ${day(c.recorded_at)})`),
      h('button', { type: 'button', class: 'button button-quiet', 'aria-label': `Withdraw consent of ${c.number}`,
        onclick: () => this.intents.withdrawConsent(c.id) }, 'Withdraw')))
      : [h('li', { class: 'settings-empty', text: 'Nobody yet. Record consent before you broadcast to someone.' })]));
    this.optOuts.replaceChildren(...(s.optOuts.length ? s.optOuts.map((o) => h('li', { class: 'settings-item',
      text: `${o.peer} replied ${o.keyword} on ${day(o.at)}` }))
      : [h('li', { class: 'settings-empty', text: 'Nobody has replied STOP.' })]));
    this.history.replaceChildren(...(s.broadcasts.length ? s.broadcasts.map((b) => this.#broadcast(b))
      : [h('p', { class: 'settings-empty', text: 'No broadcasts yet.' })]));
  }

  /** @param {import('../domain/consent-api.js').Broadcast} b */
  #broadcast(b) {
    const waiting = b.recipients.some((r) => r.status === 'queued' && r.message_id === null);
    return h('article', { class: 'broadcast', 'aria-label': `Broadcast of ${day(b.created_at)}` },
      h('p', { class: 'broadcast-body', text: b.body }),
      h('table', { class: 'broadcast-table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Number' }), h('th', { scope: 'col', text: 'Status' }))),
        h('tbody', {}, ...b.recipients.map((r) => h('tr', { 'data-status': r.status },
          h('td', { text: r.number }),
          h('td', { text: (STATUS_WORDS[/** @type {keyof STATUS_WORDS} */ (r.status)] ?? r.status) + (r.error ? ` — ${r.error}` : '') }))))),
      waiting && !b.cancelled_at ? h('button', { type: 'button', class: 'button button-quiet', onclick: async () => {
        const sure = await confirmDialog({ title: 'Cancel this broadcast?',
          text: 'Numbers it has not been sent to yet will be skipped. Texts already sent cannot be taken back.', confirm: 'Cancel broadcast' });
        if (sure) this.intents.cancelBroadcast(b.id);
      } }, 'Cancel the rest') : null);
  }

  unmount() {
    this.modal.unmount();
  }
}
