/**
 * The Privacy page: what Ferry stores about the user and the controls over it. It is a
 * pane like Settings; its sections come from ./privacy/sections.js.
 */
import { h, setText, uid } from './dom.js';
import { PRIVACY_SECTIONS } from './privacy/sections.js';
import { backButton } from './thread-view.js';

export class PrivacyView {
  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.heading = h('h2', { id: uid('privacy-title'), class: 'pane-title', tabindex: -1, text: 'Privacy and your data' });
    this.loadError = h('p', { class: 'form-error', role: 'alert' });
    this.sections = PRIVACY_SECTIONS.map((Section) => new Section(intents));
    const back = h('button', { type: 'button', class: 'button button-quiet button-small', onclick: () => intents.openSettings() },
      'Back to settings');
    this.root = h('section', { class: 'thread settings privacy', 'aria-labelledby': this.heading.id },
      h('header', { class: 'pane-header' }, backButton(intents), h('div', { class: 'pane-heading' }, this.heading), back),
      h('div', { class: 'settings-scroll' }, this.loadError, ...this.sections.map((s) => s.root)));
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /** @param {import('./privacy/section.js').PrivacyState} state */
  update(state) {
    setText(this.loadError, state.loadError ?? '');
    for (const section of this.sections) section.update(state);
  }

  focus() {
    this.heading.focus();
  }

  unmount() {
    this.root.remove();
  }
}
