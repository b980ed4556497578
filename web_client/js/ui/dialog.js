/**
 * Modal dialogs on the native <dialog> element: showModal() gives the focus
 * trap, the inert background and Esc for free, and the browser returns focus
 * to where it was on close.
 */
import { h, icon, uid } from './dom.js';
import { ICONS } from './icons.js';

export class Modal {
  /**
   * @param {{title: string, onClose?: () => void, className?: string}} options
   * onClose runs when the user dismisses it (Esc, the close button), not on close()
   */
  constructor({ title, onClose = () => {}, className = '' }) {
    const titleId = uid('dialog-title');
    this.title = h('h2', { id: titleId, class: 'dialog-title', text: title });
    this.body = h('div', { class: 'dialog-body' });
    this.root = /** @type {HTMLDialogElement} */ (h('dialog', { class: `dialog ${className}`.trim(), 'aria-labelledby': titleId },
      h('header', { class: 'dialog-header' }, this.title,
        h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => this.dismiss() },
          icon(ICONS.close))),
      this.body));
    this.onClose = onClose;
    this.root.addEventListener('cancel', (e) => {
      e.preventDefault();
      this.dismiss();
    });
  }

  get isOpen() {
    return this.root.open;
  }

  open() {
    if (!this.root.isConnected) document.body.append(this.root);
    if (!this.root.open) this.root.showModal();
  }

  close() {
    if (this.root.open) this.root.close();
  }

  dismiss() {
    this.close();
    this.onClose();
  }

  unmount() {
    this.close();
    this.root.remove();
  }
}

/**
 * Ask before something that cannot be undone.
 * @param {{title: string, text: string, confirm: string}} options
 * @returns {Promise<boolean>}
 */
export function confirmDialog({ title, text, confirm }) {
  return new Promise((resolve) => {
    const modal = new Modal({ title, className: 'dialog-confirm', onClose: () => finish(false) });
    const finish = (/** @type {boolean} */ answer) => {
      modal.unmount();
      resolve(answer);
    };
    const cancel = h('button', { type: 'button', class: 'button button-quiet', onclick: () => finish(false) }, 'Cancel');
    modal.body.append(
      h('p', { class: 'dialog-text', text }),
      h('div', { class: 'dialog-actions' }, cancel,
        h('button', { type: 'button', class: 'button button-danger', onclick: () => finish(true) }, confirm)));
    modal.open();
    cancel.focus();
  });
}
