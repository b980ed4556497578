/** The loading screen, shown until we know whether a session exists. */
import { h } from './dom.js';

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
