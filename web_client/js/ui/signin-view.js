/** Sign-in screen: phone number + password, errors inline next to the form. */
import { mmss } from '../domain/pairing-model.js';
import { authCard, field } from './auth-views.js';
import { h, setAttr, setText, uid } from './dom.js';

export class SignInView {
  /** @param {{signIn: (phone: string, password: string) => void, showAuth: (view: string) => void}} intents */
  constructor(intents) {
    this.intents = intents;
    const errorId = uid('signin-error');
    this.error = h('p', { id: errorId, class: 'form-error', role: 'alert' });
    this.notice = h('p', { class: 'form-notice', role: 'status' });
    this.phone = h('input', {
      id: uid('phone'), name: 'phone', type: 'tel', autocomplete: 'username', inputmode: 'tel',
      placeholder: '+1 555 010 0001', 'aria-describedby': errorId, spellcheck: 'false',
      oninput: () => {
        this.touched = true;
        if (this.state) this.update(this.state);
      },
    });
    this.password = h('input', {
      id: uid('password'), name: 'password', type: 'password', autocomplete: 'current-password',
      'aria-describedby': errorId,
    });
    this.submit = h('button', { type: 'submit', class: 'button button-primary button-wide' }, 'Sign in');
    this.form = h('form', { class: 'signin-form', novalidate: true, onsubmit: (e) => this.#submit(e) },
      field('Phone number', this.phone),
      field('Password', this.password),
      this.error,
      this.submit);
    this.root = authCard('signin-title', 'Sign in',
      'Text from your computer using the phone linked to your Ferry account.',
      this.notice, this.form,
      h('div', { class: 'auth-links' },
        h('button', { type: 'button', class: 'link-button', onclick: () => intents.showAuth('reset') }, 'Forgot password?'),
        h('p', {}, 'New to Ferry? ',
          h('button', { type: 'button', class: 'link-button', onclick: () => intents.showAuth('signup') }, 'Create an account'))));
    /** @type {string|null} */
    this.shownError = null;
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /**
   * @param {{busy: boolean, error: string|null, notice: string|null, lastPhone: string,
   *   lockedFor?: number, lockedPhone?: string}} state
   */
  update(state) {
    this.state = state;
    if (!this.phone.value && state.lastPhone && !this.touched) this.phone.value = state.lastPhone;
    setText(this.error, state.error ?? '');
    setText(this.notice, state.notice ?? '');
    this.notice.hidden = !state.notice;
    const invalid = Boolean(state.error);
    setAttr(this.phone, 'aria-invalid', invalid ? 'true' : null);
    setAttr(this.password, 'aria-invalid', invalid ? 'true' : null);
    // The wait is for the number that was refused; another number may be tried.
    const locked = this.phone.value.trim() === state.lockedPhone ? state.lockedFor ?? 0 : 0;
    this.submit.disabled = state.busy || locked > 0;
    setAttr(this.form, 'aria-busy', state.busy ? 'true' : null);
    // The countdown lives on the button (not a live region), so it is not read out every second.
    setText(this.submit, state.busy ? 'Signing in…' : locked > 0 ? `Try again in ${mmss(locked)}` : 'Sign in');
    if (state.error && state.error !== this.shownError && !this.shownError?.startsWith('Too many')) this.#focusAfterError();
    this.shownError = state.error;
  }

  focus() {
    (this.phone.value ? this.password : this.phone).focus();
  }

  unmount() {
    this.root.remove();
  }

  /** @param {Event} event */
  #submit(event) {
    event.preventDefault();
    this.touched = true;
    this.intents.signIn(this.phone.value, this.password.value);
  }

  #focusAfterError() {
    const target = this.phone.value.trim() ? this.password : this.phone;
    target.focus();
    if (target === this.password) this.password.select();
  }
}
