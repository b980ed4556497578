/**
 * Building blocks shared by the Privacy page's sections. A section is a small class:
 * `constructor(intents)`, a `root` element, and `update(state)` with the page's state
 * (`PrivacyState` below). Sections are listed in ./sections.js.
 */
import { h, icon, setText, uid } from '../dom.js';

/**
 * @typedef {object} PrivacyState
 * @property {import('../../protocol/privacy.js').Privacy|null} privacy
 * @property {import('../../protocol/privacy.js').StaffAccess[]|null} accesses
 * @property {string|null} loadError
 * @property {Record<string, {busy: boolean, error: string|null, done: string|null}>} forms
 * @property {import('../../protocol/schema.js').Device[]|null} devices
 * @property {number} now
 */

/** @param {string} title @param {string} iconPath @param {string} lede @param {...(Node|null)} content */
export function privacySection(title, iconPath, lede, ...content) {
  const id = uid('privacy-section');
  return h('section', { class: 'settings-section', 'aria-labelledby': id },
    h('h3', { id, class: 'settings-heading' }, icon(iconPath, 'icon settings-heading-icon'), h('span', { text: title })),
    lede ? h('p', { class: 'settings-lede', text: lede }) : null,
    ...content);
}

export function formStatus() {
  return h('p', { class: 'form-status', role: 'status' });
}

/**
 * @param {HTMLElement} status @param {{busy: boolean, error: string|null, done: string|null}|undefined} form
 * @param {...HTMLButtonElement} buttons disabled while the form is busy
 */
export function showForm(status, form, ...buttons) {
  setText(status, form?.error ?? form?.done ?? '');
  status.dataset.kind = form?.error ? 'error' : 'ok';
  for (const b of buttons) b.disabled = Boolean(form?.busy);
}
