/**
 * Composition root: the only module that touches browser globals. It builds
 * the platform services, injects them into the app model, and connects the
 * model to the root view, batching redraws to one per animation frame.
 */
import { AppModel } from './domain/app-model.js';
import { FerryApi } from './domain/api.js';
import { BroadcastModel } from './domain/broadcast-model.js';
import { Consent } from './domain/consent.js';
import { ConsentApi } from './domain/consent-api.js';
import { OptOutModel } from './domain/optout-model.js';
import { TermsModel } from './domain/terms-model.js';
import { documentTitle } from './domain/notices.js';
import { YourDataModel } from './domain/your-data-model.js';
import { createClock } from './platform/clock.js';
import { createCookieJar } from './platform/cookies.js';
import { createHttp } from './platform/http.js';
import { createNotifier } from './platform/notifier.js';
import { openOutboxDb } from './platform/outbox-db.js';
import { createSocketFactory } from './platform/socket.js';
import { createStorage, createTabStorage } from './platform/storage.js';
import { createUploader } from './platform/upload.js';
import { AppView } from './ui/app-view.js';

const RELATIVE_TIME_TICK_MS = 30_000;

function main() {
  const clock = createClock();
  const api = new FerryApi(createHttp());
  const model = new AppModel({
    api, clock, socketFactory: createSocketFactory(), storage: createStorage(), tabStorage: createTabStorage(),
    uuid: () => crypto.randomUUID(), outboxDb: openOutboxDb(), notifier: createNotifier(), consent: new Consent(createCookieJar()),
  });
  const consentApi = new ConsentApi(api.http);
  const terms = new TermsModel({ api: consentApi });
  const broadcast = new BroadcastModel({ api: consentApi, uuid: () => crypto.randomUUID(), clock });
  const optOuts = new OptOutModel({ api: consentApi });
  const yourData = new YourDataModel({ http: createHttp(), upload: createUploader(), clock });
  const view = new AppView({ ...intentsOf(model), ...consentIntents(terms, broadcast, model), yourData });
  view.mount(/** @type {HTMLElement} */ (document.getElementById('app')));

  let scheduled = false;
  /** @type {string|null} */ let screen = null;
  const render = () => {
    scheduled = false;
    const state = { ...model.snapshot(), terms: terms.snapshot(), broadcast: broadcast.snapshot() };
    if (state.screen !== screen) followScreen(screen, state.screen, terms, broadcast, optOuts);
    screen = state.screen;
    const open = state.thread ? model.selection.selectedThread : null;
    if (open) {
      optOuts.follow(`${open.id} ${open.last_message?.id ?? ''}`);
      const stop = optOuts.sentence(open.line_id, open.peer);
      if (stop) state.composeNotice = [stop, state.composeNotice].filter(Boolean).join(' ');
    }
    view.update(state);
    document.title = documentTitle(state.screen, state.unreadTotal);
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(render);
  };
  model.subscribe(schedule);
  terms.subscribe(schedule);
  broadcast.subscribe(schedule);
  optOuts.subscribe(schedule);
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

/**
 * The terms and broadcast models follow the screen: the sign-up form needs the
 * rules, a signed-in account is checked for a new version of the terms, and
 * signing out forgets both.
 * @param {string|null} from @param {string} to @param {TermsModel} terms @param {BroadcastModel} broadcast
 * @param {OptOutModel} optOuts
 */
function followScreen(from, to, terms, broadcast, optOuts) {
  const signedIn = (/** @type {string|null} */ s) => s === 'main' || s === 'verify';
  if (to === 'signup') terms.loadRules();
  if (signedIn(to) && !signedIn(from)) terms.check();
  if (!signedIn(to) && signedIn(from)) {
    terms.reset();
    broadcast.close();
    optOuts.reset();
  }
}

/**
 * Intents of the terms and broadcast pieces.
 * @param {TermsModel} terms @param {BroadcastModel} broadcast @param {AppModel} model
 */
function consentIntents(terms, broadcast, model) {
  return {
    readTerms: () => terms.read(),
    closeTerms: () => terms.closeReading(),
    acceptTerms: () => terms.accept(),
    openBroadcasts: () => broadcast.show(),
    closeBroadcasts: () => broadcast.close(),
    recordRecipientConsent: (number, note, givenOn) => broadcast.recordConsent(number, note, givenOn),
    withdrawConsent: (id) => broadcast.withdraw(id),
    sendBroadcast: (body, numbers) => broadcast.send(body, numbers),
    cancelBroadcast: (id) => broadcast.cancel(id),
  };
}

/** The views only see intents, never the models themselves. @param {AppModel} model */
function intentsOf(model) {
  const { selection, compose, actions, notices, outbox } = model;
  return {
    // account
    signIn: (phone, password) => model.signIn(phone, password),
    signOut: () => model.signOut(),
    unsentCount: () => model.outbox.unsentCount(),
    showAuth: (view) => model.auth.show(view),
    signUp: (phone, password, accepted, invite) => model.auth.signUp(phone, password, { accept_terms: accepted, invite }),
    requestReset: (phone) => model.auth.requestReset(phone),
    confirmReset: (code, password) => model.auth.confirmReset(code, password),
    restartReset: () => model.auth.restartReset(),
    verifyCode: (code) => model.verify.submit(code),
    resendCode: () => model.verify.resend(),
    recordConsent: (accept) => model.recordConsent(accept),
    // navigation
    openThread: (id) => selection.openThread(id),
    stepThread: (step) => model.stepThread(step),
    startNewMessage: () => model.startNewMessage(),
    openSettings: () => model.openSettings(),
    openPrivacy: () => model.openPrivacy(),
    closePane: () => model.closePane(),
    showList: (mode) => selection.showList(mode),
    retryConnection: () => model.sync.retryNow(),
    // conversations
    setArchived: (id, archived) => actions.setArchived(id, archived),
    markUnread: (id) => actions.markUnread(id),
    deleteThread: (id) => actions.delete(id),
    undoToast: () => notices.undo(),
    dismissToast: () => notices.dismiss(),
    loadOlder: () => selection.thread?.loadOlder(),
    // compose
    send: (text) => compose.send(text),
    setDraft: (text) => compose.setDraft(text),
    setNewRecipient: (text) => compose.setRecipient(text),
    setNewLine: (id) => compose.setLine(id),
    pickContact: (contact) => compose.pickContact(contact),
    retry: (id) => outbox.retry(id),
    resend: (messageId) => compose.resend(messageId),
    discard: (id) => outbox.discard(id),
    // search
    setSearchQuery: (q) => model.search.setQuery(q),
    closeSearch: () => model.search.close(),
    searchOlder: () => model.search.loadMore(),
    openSearchResult: (threadId, messageId) => selection.openThread(threadId, messageId),
    // settings
    saveProfile: (fields) => model.settings.saveProfile(fields),
    changePassword: (current, next) => model.settings.changePassword(current, next),
    revokeSession: (id) => model.settings.revokeSession(id),
    revokeOtherSessions: () => model.settings.revokeOtherSessions(),
    startRename: (id) => model.settings.startRename(id),
    renameDevice: (id, name) => model.settings.renameDevice(id, name),
    revokeDevice: (id) => model.settings.revokeDevice(id),
    openPairing: () => model.pairing.open(model.sync.devices),
    pairFor: (number) => model.pairing.open(model.sync.devices, number).then(() => model.compose.loadLines()),
    labelLine: (id, label) => model.settings.labelLine(id, label),
    startLabel: (id) => model.settings.startLabel(id),
    sendLineCode: (id) => model.settings.sendLineCode(id),
    verifyLine: (id, code) => model.settings.verifyLine(id, code),
    closePairing: () => model.pairing.close(),
    enableNotifications: () => model.enableNotifications(),
    // privacy
    setMaskSent: (on) => model.privacy.setMaskSent(on),
    setRetention: (days) => model.privacy.setRetention(days),
    setTroubleshooting: (hours) => model.privacy.setTroubleshooting(hours),
    deleteAccount: (password) => model.privacy.deleteAccount(password),
    maskThread: (id) => actions.mask(id),
    maskMessage: (id) => actions.maskMessage(id),
  };
}

main();
