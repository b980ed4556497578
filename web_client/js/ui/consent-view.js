/** The consent screen: who asks, each permission in plain words, which conversations,
 * for how long; Allow and Deny. Native controls, labelled, keyboard-usable. */
import { DURATION_WORDS } from '../domain/oauth-consent.js';
import { authCard, field } from './auth-views.js';
import { h, setText, uid } from './dom.js';

export class ConsentView {
  /** @param {import('../domain/oauth-consent.js').ConsentModel} model */
  constructor(model) {
    this.model = model;
    this.root = h('div', { class: 'consent' });
    this.shown = '';
    this.allowButton = null;
    this.errorText = h('p', { class: 'form-error', role: 'alert' });
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  update() {
    const m = this.model;
    if (m.screen !== this.shown) {
      this.shown = m.screen;
      this.root.replaceChildren(this.#screen());
      this.root.querySelector('h1')?.focus();
    }
    setText(this.errorText, m.error ?? '');
    if (this.allowButton) /** @type {HTMLButtonElement} */ (this.allowButton).disabled = !m.canAllow;
    if (this.conversationList) this.conversationList.hidden = !m.limited;
  }

  #screen() {
    const m = this.model;
    switch (m.screen) {
      case 'loading':
        return authCard(uid('t'), 'Connect an app', 'Loading…');
      case 'sending':
        return authCard(uid('t'), 'Connect an app', 'Taking you back to the app…');
      case 'signin':
        return this.#signIn();
      case 'unverified':
        return authCard(uid('t'), 'Verify your number first',
          'Apps can be connected once your phone number is verified.',
          h('p', {}, h('a', { href: '/', class: 'button button-primary' }, 'Open Ferry')));
      case 'gone':
        return authCard(uid('t'), 'This request has ended',
          'It expired or was answered already. Start again from the app.');
      case 'error':
        return authCard(uid('t'), 'Something went wrong', 'Try again from the app.', this.errorText);
      default:
        return this.#consent();
    }
  }

  #signIn() {
    const phone = h('input', { id: uid('phone'), type: 'tel', autocomplete: 'username', name: 'phone' });
    const password = h('input', { id: uid('pw'), type: 'password', autocomplete: 'current-password', name: 'password' });
    const form = h('form', {
      class: 'signin-form',
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        this.model.signIn(/** @type {HTMLInputElement} */ (phone).value, /** @type {HTMLInputElement} */ (password).value);
      },
    }, field('Phone number', phone), field('Password', password), this.errorText,
    h('button', { type: 'submit', class: 'button button-primary button-wide' }, 'Sign in'));
    return authCard(uid('t'), 'Sign in to Ferry', 'An app asks to use your Ferry account. Sign in to see what it asks for.', form);
  }

  #consent() {
    const m = this.model;
    const req = m.request;
    const scopes = h('fieldset', { class: 'consent-group' }, h('legend', { text: 'It asks to' }),
      ...req.scopes.map((/** @type {any} */ s) => checkbox(s.description, m.ticked.has(s.scope),
        (on) => m.tickScope(s.scope, on), s.scope)));
    this.conversationList = h('div', { class: 'consent-conversations' },
      ...req.conversations.map((/** @type {any} */ c) => checkbox(
        c.title === c.peer ? c.peer : `${c.title} (${c.peer})`, m.chosen.has(c.id),
        (on) => m.chooseConversation(c.id, on), `conversation-${c.id}`)));
    this.conversationList.hidden = !m.limited;
    const radioName = uid('limit');
    const which = h('fieldset', { class: 'consent-group' }, h('legend', { text: 'Which conversations' }),
      radio(radioName, 'All my conversations', !m.limited, () => m.limitConversations(false)),
      radio(radioName, 'Only the ones I choose', m.limited, () => m.limitConversations(true)),
      this.conversationList);
    const duration = h('select', { id: uid('duration'), onchange: (/** @type {Event} */ e) => m.setDuration(/** @type {HTMLSelectElement} */ (e.target).value) },
      ...Object.entries(DURATION_WORDS).map(([key, words]) => h('option', { value: key, selected: key === m.duration }, words)));
    this.allowButton = h('button', { type: 'button', class: 'button button-primary', onclick: () => m.allow() }, 'Allow');
    const logo = req.client.logo_uri ? h('img', { src: req.client.logo_uri, alt: '', class: 'consent-logo', width: 48, height: 48 }) : null;
    return authCard(uid('t'), `Allow ${req.client.name}?`,
      `${req.client.name} (${req.redirect_host}) wants to use your Ferry account. It will never see your password.`,
      logo, scopes, which, field('For how long', duration), this.errorText,
      h('div', { class: 'card-actions' },
        h('button', { type: 'button', class: 'button', onclick: () => m.deny() }, 'Deny'),
        this.allowButton),
      h('p', { class: 'field-hint', text: 'You can see what it does and cut it off at any time in Settings › Connected apps.' }));
  }
}

/** @param {string} label @param {boolean} checked @param {(on: boolean) => void} onChange @param {string} value */
function checkbox(label, checked, onChange, value) {
  const input = h('input', {
    type: 'checkbox', id: uid('c'), value, checked,
    onchange: (/** @type {Event} */ e) => onChange(/** @type {HTMLInputElement} */ (e.target).checked),
  });
  return h('div', { class: 'consent-option' }, input, h('label', { for: input.id, text: label }));
}

/** @param {string} name @param {string} label @param {boolean} checked @param {() => void} onPick */
function radio(name, label, checked, onPick) {
  const input = h('input', { type: 'radio', name, id: uid('r'), checked, onchange: onPick });
  return h('div', { class: 'consent-option' }, input, h('label', { for: input.id, text: label }));
}
