/**
 * Root view: shows the view for the current screen and moves focus into it on
 * a switch; hosts what floats above every screen (toast, cookie notice, the
 * pairing and shortcut dialogs) and the global keyboard shortcuts.
 */
import { shortcutFor } from '../domain/shortcuts.js';
import { ResetView, SignUpView } from './auth-views.js';
import { HelpDialog } from './help-dialog.js';
import { MainView } from './main-view.js';
import { CookieNoticeView, ToastView } from './overlays.js';
import { PairingDialog } from './pairing-view.js';
import { SignInView } from './signin-view.js';
import { LoadingView } from './simple-views.js';
import { BroadcastDialog } from './broadcast-view.js';
import { TermsDialog, TermsReader } from './terms-views.js';
import { VerifyView } from './verify-view.js';

/** @typedef {ReturnType<import('../domain/app-model.js').AppModel['snapshot']>} AppState */

export class AppView {
  /** @type {{update: Function, unmount: Function, focus: Function, mount: Function}|null} */ #view = null;
  /** @type {string|null} */ #screen = null;
  /** @type {HelpDialog|null} */ #help = null;

  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.intents = { ...intents, showHelp: () => this.showHelp() };
    this.toast = new ToastView(this.intents);
    this.cookies = new CookieNoticeView(this.intents);
    this.pairing = new PairingDialog(this.intents);
    this.termsReader = new TermsReader(this.intents);
    this.termsDialog = new TermsDialog(this.intents);
    this.broadcast = new BroadcastDialog(this.intents);
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    this.parent = parent;
    this.overlays = document.createElement('div');
    this.overlays.className = 'overlays';
    parent.after(this.overlays);
    this.toast.mount(this.overlays);
    this.cookies.mount(this.overlays);
    this.onKeydown = (/** @type {KeyboardEvent} */ e) => this.#keydown(e);
    document.addEventListener('keydown', this.onKeydown);
  }

  /** @param {AppState} state */
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
    this.toast.update(state.screen === 'main' ? state.toast : null);
    this.cookies.update(state.cookieNotice);
    this.pairing.update(state.pairing);
    const extra = /** @type {any} */ (state);
    const signedIn = state.screen === 'main' || state.screen === 'verify';
    this.termsReader.update(extra.terms);
    this.broadcast.update(signedIn ? extra.broadcast : undefined);
    // Last: above every other dialog while the new terms wait for an answer.
    this.termsDialog.update(extra.terms, signedIn);
  }

  unmount() {
    this.#view?.unmount();
    this.#view = null;
    this.#screen = null;
    this.pairing.unmount();
    this.termsReader.unmount();
    this.termsDialog.unmount();
    this.broadcast.unmount();
    this.#help?.unmount();
    this.overlays?.remove();
    if (this.onKeydown) document.removeEventListener('keydown', this.onKeydown);
  }

  showHelp() {
    this.#help ??= new HelpDialog();
    this.#help.open();
  }

  /** @param {string} screen */
  #create(screen) {
    const intents = /** @type {any} */ (this.intents);
    if (screen === 'signin') return new SignInView(intents);
    if (screen === 'signup') return new SignUpView(intents);
    if (screen === 'reset') return new ResetView(intents);
    if (screen === 'verify') return new VerifyView(intents);
    if (screen === 'main') return new MainView(intents);
    return new LoadingView();
  }

  /** @param {KeyboardEvent} event */
  #keydown(event) {
    if (this.#screen !== 'main' || event.defaultPrevented || document.querySelector('dialog[open]')) return;
    const target = /** @type {HTMLElement} */ (event.target);
    const typing = target.matches?.('input, textarea, select, [contenteditable="true"]') ?? false;
    const action = shortcutFor(event, typing);
    if (!action) return;
    const main = /** @type {MainView} */ (this.#view);
    if (action === 'escape') {
      // Esc goes to the message box, unless it is there already (then the browser's own Esc applies).
      if (target.matches?.('.compose-input')) return;
      if (!main.focusCompose()) return;
    } else if (action === 'next' || action === 'prev') this.intents.stepThread(action === 'next' ? 1 : -1);
    else if (action === 'search') main.focusSearch();
    else if (action === 'compose') main.focusCompose();
    else if (action === 'new') this.intents.startNewMessage();
    else if (action === 'help') this.showHelp();
    event.preventDefault();
  }
}
