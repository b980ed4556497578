/**
 * "Verify your phone number": six digit boxes (auto-submit when full), a
 * resend link with its cooldown, and a second way: link the phone that holds
 * this SIM, and its bridge verifies the number by itself.
 */
import { mmss } from '../domain/pairing-model.js';
import { CodeInput } from './code-input.js';
import { h, icon, setText, uid } from './dom.js';
import { ICONS } from './icons.js';

export class VerifyView {
  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    const errorId = uid('verify-error');
    this.heading = h('h1', { tabindex: -1, text: 'Verify your phone number' });
    this.phone = h('strong');
    this.error = h('p', { id: errorId, class: 'form-error', role: 'alert' });
    this.notice = h('p', { class: 'form-info', role: 'status' });
    this.failure = h('p', { class: 'form-error verify-send-failed', role: 'alert' });
    this.code = new CodeInput({ label: 'Verification code', describedBy: errorId, onComplete: (c) => intents.verifyCode(c) });
    this.submit = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'button button-primary button-wide' }, 'Verify'));
    this.resend = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'link-button', onclick: () => intents.resendCode() }, 'Send a new code'));
    this.waiting = h('p', { class: 'verify-waiting' },
      h('span', { class: 'spinner', 'aria-hidden': 'true' }),
      'Waiting for the code… if your Ferry phone is linked, it verifies the number by itself.');
    const form = h('form', { class: 'signin-form', novalidate: true, onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      intents.verifyCode(this.code.value);
    } }, this.code.root, this.error, this.submit);
    this.root = h('main', { class: 'signin', 'aria-labelledby': 'verify-title' },
      h('div', { class: 'signin-card' },
        h('div', { class: 'brand' }, icon(ICONS.chat, 'icon brand-icon'), h('span', { text: 'Ferry' })),
        h('div', { id: 'verify-title', class: 'verify-heading' }, this.heading),
        h('p', { class: 'signin-lede' }, 'Ferry texts a 6-digit code to ', this.phone,
          ' to make sure the number is yours. Enter it here.'),
        this.notice, this.failure, form,
        h('div', { class: 'verify-resend' }, this.resend),
        this.waiting,
        h('div', { class: 'verify-alt' },
          h('button', { type: 'button', class: 'button button-quiet', onclick: () => intents.openPairing() },
            icon(ICONS.qr), 'Link the phone with this SIM instead'),
          h('button', { type: 'button', class: 'link-button', onclick: () => intents.signOut() }, 'Sign out'))));
    /** @type {string|null} */ this.shownError = null;
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /** @param {{account: {phone: string}|null, verify: ReturnType<import('../domain/verify-model.js').VerifyModel['snapshot']>}} state */
  update({ account, verify }) {
    setText(this.phone, account?.phone ?? 'your number');
    setText(this.error, verify.error ?? '');
    setText(this.notice, verify.notice ?? '');
    this.notice.hidden = !verify.notice;
    setText(this.failure, verify.sendFailure ?? '');
    this.failure.hidden = !verify.sendFailure;
    this.code.setInvalid(Boolean(verify.error));
    this.submit.disabled = verify.busy;
    setText(this.submit, verify.busy ? 'Verifying…' : 'Verify');
    this.resend.disabled = verify.cooldown > 0 || verify.sending;
    setText(this.resend, verify.cooldown > 0 ? `Send a new code in ${mmss(verify.cooldown)}`
      : verify.sending ? 'Sending…' : 'Send a new code');
    if (verify.error && verify.error !== this.shownError) this.code.clear();
    this.shownError = verify.error;
  }

  focus() {
    this.code.focus();
  }

  unmount() {
    this.root.remove();
  }
}
