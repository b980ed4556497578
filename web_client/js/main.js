/**
 * Composition root: the only module that touches browser globals. It builds
 * the platform services, injects them into the app model, and connects the
 * model to the root view, batching redraws to one per animation frame.
 */
import { AppModel } from './domain/app-model.js';
import { FerryApi } from './domain/api.js';
import { Consent } from './domain/consent.js';
import { createClock } from './platform/clock.js';
import { createCookieJar } from './platform/cookies.js';
import { createHttp } from './platform/http.js';
import { createNotifier } from './platform/notifier.js';
import { createSocketFactory } from './platform/socket.js';
import { createStorage } from './platform/storage.js';
import { AppView } from './ui/app-view.js';

const RELATIVE_TIME_TICK_MS = 30_000;

function main() {
  const clock = createClock();
  const api = new FerryApi(createHttp());
  const model = new AppModel({
    api, clock, socketFactory: createSocketFactory(), storage: createStorage(),
    uuid: () => crypto.randomUUID(), notifier: createNotifier(), consent: new Consent(createCookieJar()),
  });
  const view = new AppView(intentsOf(model));
  view.mount(/** @type {HTMLElement} */ (document.getElementById('app')));

  let scheduled = false;
  const render = () => {
    scheduled = false;
    const state = model.snapshot();
    view.update(state);
    document.title = state.screen === 'main' && state.unreadTotal ? `(${state.unreadTotal}) Ferry` : 'Ferry';
  };
  model.subscribe(() => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(render);
  });
  render();

  addEventListener('online', () => model.sync.setNetworkOnline(true));
  addEventListener('offline', () => model.sync.setNetworkOnline(false));
  addEventListener('focus', () => model.setFocused(true));
  addEventListener('blur', () => model.setFocused(false));
  addEventListener('pagehide', () => model.flush());
  document.addEventListener('visibilitychange', () => model.setVisible(document.visibilityState === 'visible'));
  model.setVisible(document.visibilityState === 'visible');
  model.setFocused(document.hasFocus());
  const tick = () => {
    model.tick();
    clock.setTimeout(tick, RELATIVE_TIME_TICK_MS);
  };
  clock.setTimeout(tick, RELATIVE_TIME_TICK_MS);
  model.start();
}

/** The views only see intents, never the model itself. @param {AppModel} model */
function intentsOf(model) {
  return {
    // account
    signIn: (phone, password) => model.signIn(phone, password),
    signOut: () => model.signOut(),
    showAuth: (view) => model.auth.show(view),
    signUp: (phone, password) => model.auth.signUp(phone, password),
    requestReset: (phone) => model.auth.requestReset(phone),
    confirmReset: (code, password) => model.auth.confirmReset(code, password),
    verifyCode: (code) => model.verify.submit(code),
    resendCode: () => model.verify.resend(),
    recordConsent: (accept) => model.recordConsent(accept),
    // navigation
    openThread: (id) => model.openThread(id),
    stepThread: (step) => model.stepThread(step),
    startNewMessage: () => model.startNewMessage(),
    openSettings: () => model.openSettings(),
    closePane: () => model.closePane(),
    showList: (mode) => model.showList(mode),
    // conversations
    setArchived: (id, archived) => model.setArchived(id, archived),
    markUnread: (id) => model.markUnread(id),
    deleteThread: (id) => model.deleteThread(id),
    undoToast: () => model.undoToast(),
    dismissToast: () => model.dismissToast(),
    send: (text) => model.send(text),
    setDraft: (text) => model.setDraft(text),
    setNewRecipient: (text) => model.setNewRecipient(text),
    setNewLine: (id) => model.setNewLine(id),
    pickContact: (contact) => model.pickContact(contact),
    retry: (id) => model.retry(id),
    discard: (id) => model.discard(id),
    loadOlder: () => model.loadOlder(),
    retryConnection: () => model.sync.retryNow(),
    // search
    setSearchQuery: (q) => model.search.setQuery(q),
    closeSearch: () => model.search.close(),
    openSearchResult: (threadId, messageId) => model.openThread(threadId, messageId),
    // settings
    saveProfile: (fields) => model.settings.saveProfile(fields),
    changePassword: (current, next) => model.settings.changePassword(current, next),
    revokeSession: (id) => model.settings.revokeSession(id),
    revokeOtherSessions: () => model.settings.revokeOtherSessions(),
    startRename: (id) => model.settings.startRename(id),
    renameDevice: (id, name) => model.settings.renameDevice(id, name),
    revokeDevice: (id) => model.settings.revokeDevice(id),
    openPairing: () => model.pairing.open(model.sync.devices),
    closePairing: () => model.pairing.close(),
    enableNotifications: () => model.enableNotifications(),
  };
}

main();
