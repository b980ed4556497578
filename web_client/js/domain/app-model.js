/**
 * The root view model: which screen shows, the wiring between the feature
 * models, the reactions to session and store changes, and one plain snapshot
 * per change for the views. The features themselves live in their own
 * modules: Selection (what is open), ComposeModel (drafts, new conversation,
 * sending), ConversationActions (archive, unread, delete), Notices (toasts,
 * notifications, title), connection-status (the status bar).
 *
 *   loading ─▶ signin | signup | reset        (signed out; AuthModel)
 *            ─▶ verify                          (signed in, number not verified; VerifyModel)
 *            ─▶ main, pane: empty | thread | new | settings | privacy
 */
import { AuthModel } from './auth-model.js';
import { ComposeModel } from './compose-model.js';
import { bridgeSummary, composeNotice } from './connection-status.js';
import { ConversationActions } from './conversation-actions.js';
import { conversationItems, totalUnread } from './conversation-list.js';
import { Notices } from './notices.js';
import { Observable } from './observable.js';
import { Outbox } from './outbox.js';
import { PairingModel } from './pairing-model.js';
import { PrivacyModel } from './privacy-model.js';
import { SearchModel } from './search-model.js';
import { Selection } from './selection.js';
import { Session } from './session.js';
import { SettingsModel } from './settings-model.js';
import { ConversationStore } from './store.js';
import { SyncClient } from './sync-client.js';
import { UndoableDeletes } from './undo-delete.js';
import { VerifyModel } from './verify-model.js';

/** @typedef {'loading'|'signin'|'signup'|'reset'|'verify'|'main'} Screen */

export class AppModel extends Observable {
  unverified = false;

  /**
   * @param {object} deps
   * @param {import('./api.js').FerryApi} deps.api
   * @param {import('../platform/clock.js').Clock} deps.clock
   * @param {import('../platform/socket.js').SocketFactory} deps.socketFactory
   * @param {import('../platform/storage.js').KeyValueStore} deps.storage
   * @param {import('../platform/storage.js').KeyValueStore} [deps.tabStorage] kept across reloads of this tab only
   * @param {() => string} deps.uuid
   * @param {import('../platform/outbox-db.js').OutboxDb} [deps.outboxDb] unsent messages kept in the browser
   * @param {import('../platform/notifier.js').Notifier} [deps.notifier]
   * @param {import('./consent.js').Consent} [deps.consent]
   * @param {() => number} [deps.random]
   * @param {import('./time.js').TimeOptions} [deps.timeOptions]
   */
  constructor({
    api, clock, socketFactory, storage, tabStorage = storage, uuid, outboxDb, notifier, consent, random = Math.random,
    timeOptions = {},
  }) {
    super();
    Object.assign(this, { api, clock, storage, timeOptions, notifier, consent });
    this.session = new Session(api, clock);
    this.store = new ConversationStore();
    const onSessionGone = () => this.session.expire();
    this.sync = new SyncClient({
      api, store: this.store, socketFactory, clock, random, onSessionGone,
      onFatal: (code) => this.#fatal(code), onLive: (added) => this.#notify(added),
    });
    this.outbox = new Outbox({ api, store: this.store, clock, uuid, db: outboxDb, random, onSessionGone });
    this.auth = new AuthModel({ api, session: this.session, clock, storage: tabStorage });
    this.verify = new VerifyModel({ api, clock, onVerified: (a) => this.session.adopt(a), onSessionGone });
    this.settings = new SettingsModel({
      api, session: this.session, sync: this.sync, reloadLines: () => this.compose.loadLines(),
    });
    this.privacy = new PrivacyModel({ api, session: this.session });
    this.pairing = new PairingModel({ api, clock });
    this.search = new SearchModel({ api, clock });
    this.selection = new Selection({ api, store: this.store });
    this.deletes = new UndoableDeletes({
      api, clock, onDeleted: (id) => this.store.bury(id),
      onFailed: () => this.notices.show('Couldn’t delete the conversation.'),
    });
    this.notices = new Notices({ clock, deletes: this.deletes, notifier });
    this.compose = new ComposeModel({ api, store: this.store, outbox: this.outbox, selection: this.selection, timeOptions });
    this.actions = new ConversationActions({
      api, store: this.store, selection: this.selection, notices: this.notices, deletes: this.deletes,
      closePane: () => this.closePane(),
    });
    this.session.subscribe(() => this.#sessionChanged());
    this.store.subscribe(() => this.#storeChanged());
    let connected = false;
    let servedKey = '';
    this.sync.subscribe(() => {
      this.pairing.noticeDevices(this.sync.devices);
      // A phone linked for another number, or a number proven meanwhile (perhaps by the
      // code its own bridge received; the server then tells of the bridges anew): the
      // account's lines changed.
      const served = JSON.stringify((this.sync.devices ?? []).map((d) => d.lines));
      const unproven = this.compose.lines.some((l) => !l.verified);
      if ((served !== servedKey || unproven) && this.session.state === 'signed-in' && !this.unverified) {
        if (servedKey) this.compose.loadLines();
        servedKey = served;
      }
      // The socket is back: messages waiting in this browser go out now.
      if (this.sync.status === 'connected' && !connected) this.outbox.flush();
      connected = this.sync.status === 'connected';
      this.emitChange();
    });
    const children = [this.auth, this.verify, this.settings, this.privacy, this.pairing, this.search, this.deletes,
      this.selection, this.notices, this.compose];
    for (const child of children) child.subscribe(() => this.emitChange());
  }

  start() {
    return this.session.restore();
  }

  /** @returns {Screen} */
  get screen() {
    if (this.session.state === 'unknown') return 'loading';
    if (this.session.state === 'signed-out') return this.auth.view;
    return this.unverified ? 'verify' : 'main';
  }

  // ---- intents that coordinate several models -----------------------------

  /** @param {string} phone @param {string} password */
  async signIn(phone, password) {
    this.storage.set('last-phone', phone.trim());
    await this.session.signIn(phone, password);
  }

  /** Signing out on purpose also drops this account's unsent messages from the browser. */
  async signOut() {
    await this.outbox.forget();
    await this.session.signOut();
  }

  /** @param {boolean} accept */
  recordConsent(accept) {
    this.consent?.record(accept);
    this.emitChange();
  }

  /** Must run inside the click handler: browsers only ask from a user gesture. */
  async enableNotifications() {
    await this.notifier?.request();
    this.emitChange();
  }

  /** @param {1|-1} step through the visible list, wrapping */
  stepThread(step) {
    const items = this.#visibleItems();
    if (items.length === 0) return;
    const at = items.findIndex((i) => i.id === this.selection.selectedId);
    const next = at < 0 ? (step > 0 ? 0 : items.length - 1) : (at + step + items.length) % items.length;
    this.selection.openThread(items[next].id);
  }

  startNewMessage() {
    this.compose.startNew();
    this.selection.show('new');
  }

  openSettings() {
    this.settings.load();
    this.selection.show('settings');
  }

  openPrivacy() {
    this.privacy.load();
    this.sync.refreshDevices();
    this.selection.show('privacy');
  }

  /** Narrow layouts: back from a conversation to the list. */
  closePane() {
    this.pairing.close();
    this.selection.show('empty');
  }

  // ---- page state ---------------------------------------------------------

  /** @param {boolean} visible page visibility; unread only clears for eyes on the thread */
  setVisible(visible) {
    this.selection.setVisible(visible);
  }

  /** @param {boolean} focused window focus; notifications skip the conversation in focus */
  setFocused(focused) {
    this.notices.focused = focused;
  }

  /** Redraw relative times. */
  tick() {
    this.emitChange();
  }

  /** The page is being left: pending deletes go out now. */
  flush() {
    this.deletes.flush();
  }

  // ---- reactions --------------------------------------------------------

  #sessionChanged() {
    const signedIn = this.session.state === 'signed-in';
    if (!signedIn) this.#reset();
    else {
      this.auth.view = 'signin'; // where signing out lands
      const wasUnverified = this.unverified;
      this.unverified = !this.session.account?.phone_verified;
      if (wasUnverified && !this.unverified) this.pairing.close();
      if (this.unverified) {
        this.sync.stop();
        this.verify.start(this.auth.codeSentAt);
      } else {
        this.verify.stop();
        if (this.sync.status === 'idle') {
          const accountId = /** @type {import('../protocol/schema.js').Account} */ (this.session.account).id;
          this.outbox.restore(accountId).then((n) => {
            if (n && this.sync.status === 'connected') this.outbox.flush();
          });
          this.sync.start();
          this.compose.loadLines();
        }
      }
    }
    this.emitChange();
  }

  #storeChanged() {
    const { selection } = this;
    selection.thread?.ensureLoaded();
    if (selection.pane === 'thread' && selection.selectedId !== null && !selection.selectedThread && this.sync.ready) {
      // Deleted elsewhere (a tombstone arrived).
      this.closePane();
    }
    selection.markReadIfSeen();
    this.emitChange();
  }

  /** @param {string} code */
  #fatal(code) {
    if (code === 'phone_unverified') {
      this.unverified = true;
      this.verify.start();
    }
    this.emitChange();
  }

  /** @param {import('../protocol/schema.js').Message[]} added */
  #notify(added) {
    const { selection } = this;
    this.notices.notify(added, {
      onScreen: (id) => selection.visible && selection.pane === 'thread' && selection.selectedId === id,
      titleOf: (id) => this.store.threads.get(id)?.title ?? '',
      open: (id) => selection.openThread(id),
    });
  }

  #reset() {
    this.sync.stop();
    this.verify.stop();
    this.store.clear();
    this.deletes.clear();
    this.search.close();
    this.pairing.close();
    this.compose.reset();
    this.selection.reset();
    this.notices.reset();
    this.unverified = false;
  }

  #visibleItems() {
    const archived = this.selection.listMode === 'archived';
    const threads = [...this.store.threads.values()].filter((t) => t.archived === archived && !this.deletes.isHidden(t.id));
    return conversationItems(threads, this.clock.now(), this.timeOptions, this.compose.lineLabels());
  }

  // ---- snapshot ---------------------------------------------------------

  snapshot() {
    const now = this.clock.now();
    const { selection } = this;
    const threads = [...this.store.threads.values()].filter((t) => !this.deletes.isHidden(t.id));
    const bridge = bridgeSummary(this.sync.devices, this.sync.status, now, this.timeOptions);
    return {
      screen: this.screen,
      now,
      signin: {
        busy: this.session.busy, error: this.session.error, notice: this.session.notice,
        lockedFor: this.session.lockedFor(), lockedPhone: this.session.lockedPhone,
        lastPhone: /** @type {string} */ (this.storage.get('last-phone') ?? ''),
      },
      auth: this.auth.snapshot(),
      verify: this.verify.snapshot(this.session.account?.phone),
      account: this.session.account,
      connection: this.sync.status,
      bridge,
      composeNotice: composeNotice(bridge),
      unreadTotal: totalUnread(threads.filter((t) => !t.archived)),
      list: {
        items: this.#visibleItems(),
        selectedId: selection.selectedId,
        loading: !this.sync.ready,
        mode: selection.listMode,
        archivedCount: threads.filter((t) => t.archived).length,
      },
      pane: selection.pane,
      thread: this.#threadView(now),
      newMessage: selection.pane === 'new' ? this.compose.view() : null,
      settings: selection.pane === 'settings' ? this.#settingsView(now) : null,
      privacy: selection.pane === 'privacy' ? {
        privacy: this.privacy.privacy, accesses: this.privacy.accesses, loadError: this.privacy.loadError,
        forms: this.privacy.forms, devices: this.sync.devices, now,
      } : null,
      pairing: {
        ...this.pairing.snapshot(), lines: this.compose.lines,
        ownNumber: this.session.account?.phone ?? null, canChoose: !this.unverified,
      },
      search: this.#searchView(),
      toast: this.notices.view(),
      cookieNotice: this.consent ? this.consent.needed : false,
      draft: this.compose.draft,
    };
  }

  /** @param {number} now */
  #threadView(now) {
    const { selection } = this;
    const selected = selection.selectedThread;
    if (selection.pane !== 'thread' || !selection.thread || !selected) return null;
    const labels = this.compose.lineLabels();
    return {
      id: selected.id, title: selected.title, peer: selected.peer, archived: selected.archived,
      line: labels && selected.line_id !== null ? labels.get(selected.line_id) ?? selected.line : null,
      ...selection.thread.view(now, this.timeOptions),
    };
  }

  #searchView() {
    const s = this.search;
    return {
      active: s.active, query: s.query, busy: s.busy, error: s.error, answered: s.answered,
      more: s.more !== null,
      results: s.results.map((m) => ({
        id: m.id, threadId: m.thread_id, body: m.body, direction: m.direction, timestamp: m.timestamp,
        title: this.store.threads.get(m.thread_id)?.title || m.peer, peer: m.peer,
      })),
    };
  }

  /** @param {number} now */
  #settingsView(now) {
    const s = this.settings;
    return {
      account: this.session.account,
      devices: this.sync.devices,
      renaming: s.renaming,
      labelling: s.labelling,
      codeSentFor: s.codeSentFor,
      sessions: s.sessions,
      events: s.events,
      loadError: s.loadError,
      forms: {
        profile: s.profile, password: s.password, sessions: s.sessionsForm, devices: s.devicesForm, lines: s.linesForm,
      },
      notifications: this.notifier ? this.notifier.permission() : 'unsupported',
      lines: this.compose.lines,
      now,
    };
  }
}
