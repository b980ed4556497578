/** Things that float above the screens: the toast (with Undo), and the cookie notice. */
import { h, icon, setText } from './dom.js';
import { ICONS } from './icons.js';

export class ToastView {
  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.text = h('span', { class: 'toast-text' });
    this.undo = h('button', { type: 'button', class: 'toast-action', onclick: () => intents.undoToast() }, 'Undo');
    this.root = h('div', { class: 'toast', role: 'status', hidden: true }, this.text, this.undo,
      h('button', { type: 'button', class: 'icon-button toast-close', 'aria-label': 'Dismiss',
        onclick: () => intents.dismissToast() }, icon(ICONS.close)));
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /** @param {{text: string, undo: boolean}|null} toast */
  update(toast) {
    this.root.hidden = !toast;
    setText(this.text, toast?.text ?? '');
    this.undo.hidden = !toast?.undo;
  }

  unmount() {
    this.root.remove();
  }
}

/** Nothing in it is optional, so there is nothing to choose: one button acknowledges it. */
export class CookieNoticeView {
  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.root = h('section', { class: 'cookie-notice', 'aria-label': 'Cookie notice', hidden: true },
      h('p', { class: 'cookie-text', text: 'Ferry uses two cookies, both essential: one keeps you signed in, '
        + 'the other remembers for 3 months that you saw this notice. There is nothing to turn off: '
        + 'Ferry sets no tracking or advertising cookies.' }),
      h('div', { class: 'cookie-actions' },
        h('button', { type: 'button', class: 'button button-primary', onclick: () => intents.recordConsent(true) }, 'OK')));
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /** @param {boolean} show */
  update(show) {
    this.root.hidden = !show;
  }

  unmount() {
    this.root.remove();
  }
}
