/** Root view: shows the view for the current screen and moves focus into it on a switch. */
import { MainView } from './main-view.js';
import { SignInView } from './signin-view.js';
import { LoadingView, UnverifiedView } from './simple-views.js';

export class AppView {
  /** @type {{update: Function, unmount: Function, focus: Function, mount: Function}|null} */ #view = null;
  /** @type {string|null} */ #screen = null;

  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.intents = intents;
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    this.parent = parent;
  }

  /** @param {ReturnType<import('../domain/app-model.js').AppModel['snapshot']>} state */
  update(state) {
    const switched = state.screen !== this.#screen;
    if (switched) {
      this.#view?.unmount();
      this.#screen = state.screen;
      this.#view = this.#create(state.screen);
      this.#view.mount(/** @type {HTMLElement} */ (this.parent));
    }
    const view = /** @type {any} */ (this.#view);
    view.update(state.screen === 'signin' ? state.signin : state);
    if (switched) view.focus();
  }

  unmount() {
    this.#view?.unmount();
    this.#view = null;
    this.#screen = null;
  }

  /** @param {string} screen */
  #create(screen) {
    if (screen === 'signin') return new SignInView(/** @type {any} */ (this.intents));
    if (screen === 'unverified') return new UnverifiedView(this.intents);
    if (screen === 'main') return new MainView(this.intents);
    return new LoadingView();
  }
}
