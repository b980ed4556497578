/** Small full-screen states: loading, and "your number is not verified". */
import { h, icon } from './dom.js';
import { ICONS } from './icons.js';

export class LoadingView {
  constructor() {
    this.root = h('main', { class: 'centered' }, h('p', { class: 'loading', role: 'status', text: 'Loading Ferry…' }));
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  update() {}

  focus() {}

  unmount() {
    this.root.remove();
  }
}

export class UnverifiedView {
  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.heading = h('h1', { tabindex: -1, text: 'Verify your phone number' });
    this.phone = h('strong');
    this.root = h('main', { class: 'centered' },
      h('div', { class: 'card' },
        icon(ICONS.phone, 'icon card-icon'),
        this.heading,
        h('p', {}, 'Ferry only shows conversations for a verified phone line. Finish verifying ', this.phone,
          ', then check again.'),
        h('div', { class: 'card-actions' },
          h('button', { type: 'button', class: 'button button-primary', onclick: () => intents.recheck() }, 'Check again'),
          h('button', { type: 'button', class: 'button button-quiet', onclick: () => intents.signOut() }, 'Sign out'))));
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /** @param {{account: {phone: string}|null}} state */
  update(state) {
    this.phone.textContent = state.account?.phone ?? 'your number';
  }

  focus() {
    this.heading.focus();
  }

  unmount() {
    this.root.remove();
  }
}
