/**
 * The terms of use and privacy notice in the page: the acceptance checkbox (and
 * invite code) of the sign-up form, a reader for the texts, and the dialog that
 * asks a signed-in user to accept a new version.
 */
import { Modal } from './dialog.js';
import { h, setAttr, setText, uid } from './dom.js';

/** @typedef {ReturnType<import('../domain/terms-model.js').TermsModel['snapshot']>} TermsState */

/** The texts, as plain text (never markup): Markdown reads well enough as it is. @param {TermsState['texts']} texts */
function textsOf(texts) {
  return [
    h('pre', { class: 'terms-text', tabindex: 0, 'aria-label': 'Terms of use', text: texts?.terms ?? 'Loading…' }),
    h('pre', { class: 'terms-text', tabindex: 0, 'aria-label': 'Privacy notice', text: texts?.privacy ?? '' }),
  ];
}

/** The sign-up form's part: "I accept …" and, when the server asks for one, the invite code. */
export class SignupTermsFields {
  /** @param {Record<string, Function>} intents @param {string} describedBy */
  constructor(intents, describedBy) {
    this.checkbox = /** @type {HTMLInputElement} */ (h('input', {
      id: uid('accept-terms'), type: 'checkbox', name: 'accept_terms', 'aria-describedby': describedBy,
    }));
    this.versionNote = h('span', { class: 'terms-version' });
    this.invite = /** @type {HTMLInputElement} */ (h('input', {
      id: uid('invite'), name: 'invite', autocomplete: 'off', spellcheck: 'false', placeholder: 'ABCD-EFGH-JKMN-PQRS-TVWX',
      'aria-describedby': describedBy,
    }));
    this.inviteField = h('div', { class: 'field', hidden: true },
      h('label', { for: this.invite.id, text: 'Invite code' }), this.invite,
      h('p', { class: 'field-hint', text: 'This server takes new accounts by invitation: ask its operator for a code.' }));
    this.closed = h('p', { class: 'form-info', role: 'status', hidden: true,
      text: 'This server does not take new sign-ups. Ask its operator for an account.' });
    this.root = h('div', { class: 'terms-fields' },
      this.closed, this.inviteField,
      h('div', { class: 'terms-accept' }, this.checkbox,
        h('label', { for: this.checkbox.id }, 'I have read and accept the ',
          h('button', { type: 'button', class: 'link-button', onclick: () => intents.readTerms() },
            'terms of use and privacy notice'),
          this.versionNote)));
  }

  /** @param {TermsState|undefined} terms */
  update(terms) {
    const mode = terms?.rules?.mode ?? 'open';
    this.inviteField.hidden = mode !== 'invite';
    this.closed.hidden = mode !== 'closed';
    setText(this.versionNote, terms?.version ? ` (version ${terms.version})` : '');
  }

  /** What the form sends: the version accepted (null: not ticked) and the invite code. @param {TermsState|undefined} terms */
  values(terms) {
    return { accepted: this.checkbox.checked ? terms?.version ?? null : null, invite: this.invite.value.trim() || null };
  }
}

/** "Read the terms": the texts in a dialog. */
export class TermsReader {
  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.modal = new Modal({ title: 'Terms of use and privacy notice', className: 'dialog-terms',
      onClose: () => intents.closeTerms() });
    this.drawn = /** @type {unknown} */ (undefined);
  }

  /** @param {TermsState|undefined} terms */
  update(terms) {
    if (!terms?.reading) {
      this.modal.close();
      return;
    }
    if (this.drawn !== terms.texts) {
      this.drawn = terms.texts;
      this.modal.body.replaceChildren(...textsOf(terms.texts));
    }
    this.modal.open();
  }

  unmount() {
    this.modal.unmount();
  }
}

/** A new version to accept: shown until the user accepts or signs out. */
export class TermsDialog {
  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    // Esc or the close button do not make it go away: the choice is accept or sign out.
    this.modal = new Modal({ title: 'The terms have changed', className: 'dialog-terms', onClose: () => this.modal.open() });
    this.lede = h('p', { class: 'dialog-text' });
    this.texts = h('div', { class: 'terms-texts' });
    this.error = h('p', { class: 'form-error', role: 'alert' });
    this.accept = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'button button-primary',
      onclick: () => intents.acceptTerms() }, 'Accept'));
    this.modal.body.append(this.lede, this.texts, this.error,
      h('div', { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'button button-quiet', onclick: () => intents.signOut() }, 'Sign out'),
        this.accept));
    this.drawn = /** @type {unknown} */ (undefined);
  }

  /** @param {TermsState|undefined} terms @param {boolean} signedIn */
  update(terms, signedIn) {
    if (!signedIn || !terms?.mustAccept) {
      this.modal.close();
      return;
    }
    const status = terms.status;
    setText(this.lede, `Ferry’s terms of use or privacy notice changed since you accepted version `
      + `${status?.accepted_version ?? ''}. Read version ${status?.version ?? ''} and accept it to go on, or sign out.`);
    if (this.drawn !== terms.texts) {
      this.drawn = terms.texts;
      this.texts.replaceChildren(...textsOf(terms.texts));
    }
    setText(this.error, terms.error ?? '');
    this.accept.disabled = terms.busy;
    setAttr(this.accept, 'aria-busy', terms.busy ? 'true' : null);
    const opening = !this.modal.isOpen;
    this.modal.open();
    if (opening) this.accept.focus();
  }

  unmount() {
    this.modal.unmount();
  }
}
