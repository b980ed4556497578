/** Signed-out screens besides sign-in: create an account, reset a forgotten password. */
import { MIN_PASSWORD } from '../domain/auth-model.js';
import { CodeInput } from './code-input.js';
import { h, icon, setAttr, setText, uid } from './dom.js';
import { ICONS } from './icons.js';
import { SignupTermsFields } from './terms-views.js';

/** @typedef {ReturnType<import('../domain/auth-model.js').AuthModel['snapshot']>} AuthState */

/**
 * The centred card every signed-out screen shares.
 * @param {string} titleId @param {string} title @param {string} lede @param {...(Node|null)} content
 */
export function authCard(titleId, title, lede, ...content) {
  return h('main', { class: 'signin', 'aria-labelledby': titleId },
    h('div', { class: 'signin-card' },
      h('div', { class: 'brand' }, icon(ICONS.chat, 'icon brand-icon'), h('span', { text: 'Ferry' })),
      h('h1', { id: titleId, tabindex: -1, text: title }),
      h('p', { class: 'signin-lede', text: lede }),
      ...content));
}

/** @param {string} label @param {HTMLElement} input @param {string} [hint] */
export function field(label, input, hint) {
  const hintEl = hint ? h('p', { id: uid('hint'), class: 'field-hint', text: hint }) : null;
  if (hintEl) input.setAttribute('aria-describedby', `${input.getAttribute('aria-describedby') ?? ''} ${hintEl.id}`.trim());
  return h('div', { class: 'field' }, h('label', { for: input.id, text: label }), input, hintEl);
}

/** @param {string} name @param {string} autocomplete @param {string} describedBy */
function passwordInput(name, autocomplete, describedBy) {
  return /** @type {HTMLInputElement} */ (h('input', {
    id: uid(name), name, type: 'password', autocomplete, minlength: MIN_PASSWORD, 'aria-describedby': describedBy,
  }));
}

/** @param {string} describedBy */
function phoneInput(describedBy) {
  return /** @type {HTMLInputElement} */ (h('input', {
    id: uid('phone'), name: 'phone', type: 'tel', autocomplete: 'tel', inputmode: 'tel',
    placeholder: '+1 555 010 0001', spellcheck: 'false', 'aria-describedby': describedBy,
  }));
}

/** Shared update for a form: error text, busy button, focus on a new error. */
class AuthForm {
  /** @type {string|null} */ shownError = null;

  /** @param {AuthState} state @param {HTMLButtonElement} submit @param {string} idle @param {string} busy */
  sync(state, submit, idle, busy) {
    setText(this.error, state.error ?? '');
    submit.disabled = state.busy;
    setText(submit, state.busy ? busy : idle);
    if (state.error && state.error !== this.shownError) this.firstInvalid()?.focus();
    this.shownError = state.error;
  }

  /** @returns {HTMLElement|null} */
  firstInvalid() {
    return null;
  }
}

export class SignUpView extends AuthForm {
  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    super();
    const errorId = uid('signup-error');
    this.error = h('p', { id: errorId, class: 'form-error', role: 'alert' });
    this.phone = phoneInput(errorId);
    this.password = passwordInput('new-password', 'new-password', errorId);
    this.submit = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'button button-primary button-wide' }, 'Create account'));
    this.terms = new SignupTermsFields(intents, errorId);
    /** @type {any} */ this.termsState = undefined;
    const form = h('form', { class: 'signin-form', novalidate: true, onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      const { accepted, invite } = this.terms.values(this.termsState);
      intents.signUp(this.phone.value, this.password.value, accepted, invite);
    } },
    field('Phone number', this.phone, 'The number of the phone that will send and receive your texts.'),
    field('Password', this.password, `At least ${MIN_PASSWORD} characters.`),
    this.terms.root, this.error, this.submit);
    this.root = authCard('signup-title', 'Create your account',
      'We’ll text a 6-digit code to your phone to make sure it’s yours.', form,
      h('p', { class: 'auth-links' }, 'Already have an account? ',
        h('button', { type: 'button', class: 'link-button', onclick: () => intents.showAuth('signin') }, 'Sign in')));
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /** @param {{auth: AuthState, terms?: any}} state */
  update(state) {
    this.termsState = state.terms;
    this.terms.update(state.terms);
    this.sync(state.auth, this.submit, 'Create account', 'Creating account…');
  }

  firstInvalid() {
    if (!this.phone.value.trim()) return this.phone;
    if (this.password.value.length < MIN_PASSWORD) return this.password;
    return this.terms.checkbox.checked ? this.password : this.terms.checkbox;
  }

  focus() {
    this.phone.focus();
  }

  unmount() {
    this.root.remove();
  }
}

export class ResetView extends AuthForm {
  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    super();
    const errorId = uid('reset-error');
    this.error = h('p', { id: errorId, class: 'form-error', role: 'alert' });
    this.notice = h('p', { class: 'form-info', role: 'status' });
    this.phone = phoneInput(errorId);
    this.requestButton = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'button button-primary button-wide' }, 'Send code'));
    this.requestForm = h('form', { class: 'signin-form', novalidate: true, onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      intents.requestReset(this.phone.value);
    } }, field('Phone number', this.phone), this.requestButton);
    this.code = new CodeInput({ label: 'Reset code', describedBy: errorId, onComplete: () => this.password.focus() });
    this.password = passwordInput('new-password', 'new-password', errorId);
    this.confirmButton = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'button button-primary button-wide' }, 'Set new password'));
    this.confirmForm = h('form', { class: 'signin-form', novalidate: true, hidden: true, onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      intents.confirmReset(this.code.value, this.password.value);
    } },
    h('div', { class: 'field' }, h('span', { class: 'field-label', 'aria-hidden': 'true', text: 'Code from the text message' }), this.code.root),
    field('New password', this.password, `At least ${MIN_PASSWORD} characters.`),
    this.confirmButton,
    h('p', { class: 'auth-links' }, 'No code after a few minutes? ',
      h('button', { type: 'button', class: 'link-button', onclick: () => intents.restartReset() }, 'Ask for a new one')));
    this.root = authCard('reset-title', 'Reset your password',
      'We’ll text a code to your number. Your conversations stay as they are.',
      this.notice, this.requestForm, this.confirmForm, this.error,
      h('p', { class: 'auth-links' },
        h('button', { type: 'button', class: 'link-button', onclick: () => intents.showAuth('signin') }, 'Back to sign in')));
    /** @type {string|null} */ this.step = null;
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /** @param {{auth: AuthState}} state */
  update({ auth }) {
    const confirm = auth.resetStep === 'confirm';
    this.requestForm.hidden = confirm;
    if (confirm && !this.phone.value) this.phone.value = auth.resetPhone;
    this.confirmForm.hidden = !confirm;
    setText(this.notice, auth.notice ?? '');
    this.notice.hidden = !auth.notice;
    this.code.setInvalid(Boolean(auth.error) && confirm);
    setAttr(this.phone, 'aria-invalid', auth.error && !confirm ? 'true' : null);
    if (confirm) this.sync(auth, this.confirmButton, 'Set new password', 'Saving…');
    else this.sync(auth, this.requestButton, 'Send code', 'Sending…');
    if (this.step !== auth.resetStep && this.step !== null && confirm) this.code.focus();
    this.step = auth.resetStep;
  }

  firstInvalid() {
    if (this.confirmForm.hidden) return this.phone;
    return this.code.value.length < 6 ? this.code.boxes[0] : this.password;
  }

  focus() {
    if (this.confirmForm.hidden) this.phone.focus();
    else this.code.focus();
  }

  unmount() {
    this.root.remove();
  }
}
