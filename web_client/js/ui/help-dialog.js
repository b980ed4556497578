/** The "?" dialog: every keyboard shortcut, from the same table the handler uses. */
import { SHORTCUTS } from '../domain/shortcuts.js';
import { Modal } from './dialog.js';
import { h } from './dom.js';

export class HelpDialog {
  constructor() {
    this.modal = new Modal({ title: 'Keyboard shortcuts', className: 'dialog-help' });
    const rows = SHORTCUTS.map((s) => h('tr', {},
      h('th', { scope: 'row', text: s.action }),
      h('td', {}, ...s.keys.flatMap((k, i) => [i ? h('span', { class: 'kbd-or', text: ' or ' }) : null, keys(k)]))));
    this.modal.body.append(h('table', { class: 'shortcuts' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Action' }), h('th', { scope: 'col', text: 'Keys' }))),
      h('tbody', {}, ...rows)));
  }

  open() {
    this.modal.open();
  }

  get isOpen() {
    return this.modal.isOpen;
  }

  unmount() {
    this.modal.unmount();
  }
}

/** "Ctrl + Shift + M" → <kbd>Ctrl</kbd>+<kbd>Shift</kbd>+<kbd>M</kbd> @param {string} combo */
function keys(combo) {
  const parts = combo.split(' + ');
  return h('span', { class: 'kbd-combo' }, ...parts.flatMap((p, i) => [i ? '+' : null, h('kbd', { text: p })]));
}
