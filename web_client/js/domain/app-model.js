/**
 * The root view model: which screen shows, which conversation is open, and
 * the user's intents (sign in, open, send, archive, search, …). It owns the
 * other models and hands views one plain snapshot per change.
 *
 *   loading ─▶ signin | signup | reset        (signed out; AuthModel)
 *            ─▶ verify                          (signed in, number not verified; VerifyModel)
 *            ─▶ main, pane: empty | thread | new | settings
 */
import { normalizePhone } from '../protocol/phone.js';
import { AuthModel } from './auth-model.js';
import { bridgeSummary } from './connection-status.js';
import { conversationItems, totalUnread } from './conversation-list.js';
import { Observable } from './observable.js';
import { Outbox } from './outbox.js';
import { PairingModel } from './pairing-model.js';
import { SearchModel } from './search-model.js';
import { Session } from './session.js';
import { SettingsModel } from './settings-model.js';
import { ConversationStore } from './store.js';
import { SyncClient } from './sync-client.js';
import { ThreadModel, bubble } from './thread-model.js';
import { UndoableDeletes } from './undo-delete.js';
import { VerifyModel } from './verify-model.js';

/** @typedef {'loading'|'signin'|'signup'|'reset'|'verify'|'main'} Screen */
/** @typedef {'empty'|'thread'|'new'|'settings'} Pane */
/** @typedef {import('../protocol/schema.js').Line} Line */

const TOAST_MS = 6000;

export class AppModel extends Observable {
  /** @type {number|null} */ selectedId = null;
  /** @type {Pane} */ pane = 'empty';
  /** @type {'inbox'|'archived'} */ listMode = 'inbox';
  /** @type {ThreadModel|null} */ thread = null;
  unverified = false;
  visible = true;
  focused = true;
  newRecipient = '';
  /** @type {number|null} */ newLineId = null;
  /** @type {string|null} */ newRecipientError = null;
  /** @type {string|null} number of a first message still on its way, before a thread exists */
  newPeer = null;
  /** @type {Line[]} */ lines = [];
  /** @type {import('../protocol/schema.js').Contact[]|null} null: the server has no contacts */
  contacts = null;
  /** @type {{text: string, undo: (() => void)|null}|null} */ toast = null;
  /** @type {Map<string, string>} unsent text per thread id or "new" */
  #drafts = new Map();
  /** @type {Map<number, Promise<unknown>>} read receipts in flight, so "unread" is not overtaken */
  #markingRead = new Map();
  /** @type {unknown} */ #toastTimer = null;

  /**
   * @param {object} deps
   * @param {import('./api.js').FerryApi} deps.api
   * @param {import('../platform/clock.js').Clock} deps.clock
   * @param {import('../platform/socket.js').SocketFactory} deps.socketFactory
   * @param {import('../platform/storage.js').KeyValueStore} deps.storage
   * @param {() => string} deps.uuid
   * @param {import('../platform/notifier.js').Notifier} [deps.notifier]
   * @param {import('./consent.js').Consent} [deps.consent]
   * @param {() => number} [deps.random]
   * @param {import('./time.js').TimeOptions} [deps.timeOptions]
   */
  constructor({ api, clock, socketFactory, storage, uuid, notifier, consent, random = Math.random, timeOptions = {} }) {
    super();
    Object.assign(this, { api, clock, storage, timeOptions, notifier, consent });
    this.session = new Session(api);
    this.store = new ConversationStore();
    const onSessionGone = () => this.session.expire();
    this.sync = new SyncClient({
      api, store: this.store, socketFactory, clock, random, onSessionGone,
      onFatal: (code) => this.#fatal(code), onLive: (added) => this.#notify(added),
    });
    this.outbox = new Outbox({ api, store: this.store, clock, uuid, random, onSessionGone });
    this.auth = new AuthModel({ api, session: this.session, clock });
    this.verify = new VerifyModel({ api, clock, onSessionGone, onVerified: (a) => this.session.adopt(a) });
    this.settings = new SettingsModel({ api, session: this.session, sync: this.sync });
    this.pairing = new PairingModel({ api, clock });
    this.search = new SearchModel({ api, clock });
    this.deletes = new UndoableDeletes({
      api, clock, onDeleted: (id) => this.store.bury(id),
      onFailed: () => this.#showToast('Couldn’t delete the conversation.'),
    });
    this.session.subscribe(() => this.#sessionChanged());
    this.store.subscribe(() => this.#storeChanged());
    this.sync.subscribe(() => {
      this.pairing.noticeDevices(this.sync.devices);
      this.emitChange();
    });
    for (const child of [this.auth, this.verify, this.settings, this.pairing, this.search, this.deletes]) {
      child.subscribe(() => this.emitChange());
    }
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

  // ---- intents: account -------------------------------------------------

  /** @param {string} phone @param {string} password */
  async signIn(phone, password) {
    this.storage.set('last-phone', phone.trim());
    await this.session.signIn(phone, password);
  }

  signOut() {
    return this.session.signOut();
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

  // ---- intents: navigation ----------------------------------------------

  /** @param {number} threadId @param {number|null} [revealMessageId] a search hit to scroll to */
  openThread(threadId, revealMessageId = null) {
    if (!(this.pane === 'thread' && this.selectedId === threadId)) {
      this.selectedId = threadId;
      this.pane = 'thread';
      this.thread = new ThreadModel({ api: this.api, store: this.store, threadId });
      this.thread.subscribe(() => this.emitChange());
      this.thread.ensureLoaded();
      const thread = this.store.threads.get(threadId);
      if (thread) this.listMode = thread.archived ? 'archived' : 'inbox';
    }
    if (revealMessageId !== null) this.thread?.reveal(revealMessageId);
    this.#markReadIfSeen();
    this.emitChange();
  }

  /** @param {1|-1} step through the visible list, wrapping */
  stepThread(step) {
    const items = this.#visibleItems();
    if (items.length === 0) return;
    const at = items.findIndex((i) => i.id === this.selectedId);
    const next = at < 0 ? (step > 0 ? 0 : items.length - 1) : (at + step + items.length) % items.length;
    this.openThread(items[next].id);
  }

  startNewMessage() {
    this.#leaveThread();
    this.pane = 'new';
    this.newRecipient = '';
    this.newRecipientError = null;
    this.newPeer = null;
    this.newLineId = this.lines.find((l) => l.verified)?.id ?? null;
    this.#loadContacts();
    this.emitChange();
  }

  openSettings() {
    this.#leaveThread();
    this.pane = 'settings';
    this.settings.load();
    this.emitChange();
  }

  /** Narrow layouts: back from a conversation to the list. */
  closePane() {
    this.#leaveThread();
    this.pane = 'empty';
    this.pairing.close();
    this.emitChange();
  }

  /** @param {'inbox'|'archived'} mode */
  showList(mode) {
    this.listMode = mode;
    this.emitChange();
  }

  // ---- intents: conversation actions --------------------------------------

  /** @param {number} threadId @param {boolean} archived */
  setArchived(threadId, archived) {
    this.store.patchThreadLocally(threadId, { archived });
    this.api.updateThread(threadId, { archived }).catch(() => {
      this.store.patchThreadLocally(threadId, { archived: !archived });
      this.#showToast('Couldn’t update the conversation.');
    });
    if (archived && this.selectedId === threadId) this.closePane();
    this.#showToast(archived ? 'Conversation archived' : 'Conversation moved to the inbox',
      () => this.setArchived(threadId, !archived));
  }

  /** Leaves the conversation, or reading it would mark it read again. @param {number} threadId */
  markUnread(threadId) {
    const thread = this.store.threads.get(threadId);
    if (!thread) return;
    this.store.patchThreadLocally(threadId, { unread: Math.max(1, thread.unread) });
    const reading = this.#markingRead.get(threadId) ?? Promise.resolve();
    reading.then(() => this.api.updateThread(threadId, { read: false }))
      .catch(() => this.#showToast('Couldn’t mark as unread.'));
    if (this.selectedId === threadId) this.closePane();
  }

  /** @param {number} threadId */
  markRead(threadId) {
    this.store.markReadLocally(threadId);
    this.api.updateThread(threadId, { read: true }).catch(() => {});
  }

  /** Hidden at once; the DELETE waits for the undo period. @param {number} threadId */
  deleteThread(threadId) {
    const thread = this.store.threads.get(threadId);
    if (!thread) return;
    if (this.selectedId === threadId) this.closePane();
    this.toast = null;
    this.deletes.delete(threadId, thread.title || thread.peer);
  }

  /** @param {number} threadId */
  undoDelete(threadId) {
    this.deletes.undo(threadId);
  }

  dismissToast() {
    this.toast = null;
    this.deletes.dismissToast();
  }

  // ---- intents: compose -------------------------------------------------

  /** @param {string} text */
  setDraft(text) {
    const key = this.#draftKey();
    if (text) this.#drafts.set(key, text);
    else this.#drafts.delete(key);
  }

  /** @param {string} text */
  setNewRecipient(text) {
    this.newRecipient = text;
    this.newRecipientError = null;
    this.emitChange();
  }

  /** @param {number} lineId */
  setNewLine(lineId) {
    this.newLineId = lineId;
    this.emitChange();
  }

  /** A contact picked in the new-conversation pane. @param {{number: string, line_id: number|null}} contact */
  pickContact(contact) {
    const existing = this.store.threadForPeer(contact.number, contact.line_id);
    if (existing && !this.#drafts.get('new')) {
      this.openThread(existing.id);
      return;
    }
    this.newRecipient = contact.number;
    if (contact.line_id !== null && this.lines.some((l) => l.id === contact.line_id)) this.newLineId = contact.line_id;
    this.newRecipientError = null;
    this.emitChange();
  }

  /**
   * Send from the compose box of the open pane.
   * @param {string} text @returns {boolean} whether the text was taken (so the box clears)
   */
  send(text) {
    const body = text.trim() ? text.replace(/\s+$/, '') : '';
    if (!body) return false;
    if (this.pane === 'thread' && this.selectedId !== null) {
      const thread = this.store.threads.get(this.selectedId);
      if (!thread) return false;
      this.outbox.send(thread.peer, body, thread.id, thread.line_id);
    } else if (this.pane === 'new') {
      if (!this.#sendToNewRecipient(body)) return false;
    } else return false;
    this.#drafts.delete(this.#draftKey());
    return true;
  }

  /** @param {string} clientMsgId */
  retry(clientMsgId) {
    this.outbox.retry(clientMsgId);
  }

  /** @param {string} clientMsgId */
  discard(clientMsgId) {
    this.outbox.discard(clientMsgId);
  }

  loadOlder() {
    this.thread?.loadOlder();
  }

  // ---- page state ---------------------------------------------------------

  /** @param {boolean} visible page visibility; unread only clears for eyes on the thread */
  setVisible(visible) {
    this.visible = visible;
    this.#markReadIfSeen();
  }

  /** @param {boolean} focused window focus; notifications skip the conversation in focus */
  setFocused(focused) {
    this.focused = focused;
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
          this.sync.start();
          this.#loadLines();
        }
      }
    }
    this.emitChange();
  }

  #storeChanged() {
    this.thread?.ensureLoaded();
    if (this.pane === 'thread' && this.selectedId !== null && !this.store.threads.has(this.selectedId) && this.sync.ready) {
      // Deleted elsewhere (a tombstone arrived).
      this.closePane();
    }
    this.#markReadIfSeen();
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
    if (!this.notifier || this.notifier.permission() !== 'granted') return;
    for (const m of added) {
      if (m.direction !== 'in' || m.deleted) continue;
      const inFocus = this.visible && this.focused && this.pane === 'thread' && this.selectedId === m.thread_id;
      if (inFocus) continue;
      const thread = this.store.threads.get(m.thread_id);
      this.notifier.show({
        title: thread?.title || m.peer, body: m.body, tag: `ferry-thread-${m.thread_id}`,
        onClick: () => this.openThread(m.thread_id),
      });
    }
  }

  async #loadLines() {
    try {
      this.lines = await this.api.lines();
      this.emitChange();
    } catch {
      this.lines = [];
    }
  }

  async #loadContacts() {
    try {
      this.contacts = await this.api.contacts();
    } catch {
      this.contacts = null; // 404 on servers without contacts: the list stays hidden
    }
    this.emitChange();
  }

  #reset() {
    this.sync.stop();
    this.verify.stop();
    this.store.clear();
    this.deletes.clear();
    this.search.close();
    this.pairing.close();
    this.#drafts.clear();
    this.#leaveThread();
    this.pane = 'empty';
    this.listMode = 'inbox';
    this.unverified = false;
    this.lines = [];
    this.contacts = null;
    this.toast = null;
  }

  #leaveThread() {
    this.thread = null;
    this.selectedId = null;
  }

  /** @param {string} text @param {(() => void)|null} [undo] */
  #showToast(text, undo = null) {
    this.toast = { text, undo };
    this.clock.clearTimeout(this.#toastTimer);
    this.#toastTimer = this.clock.setTimeout(() => {
      this.toast = null;
      this.emitChange();
    }, TOAST_MS);
    this.emitChange();
  }

  /** @param {string} body */
  #sendToNewRecipient(body) {
    const to = normalizePhone(this.newRecipient);
    if (!to) {
      this.newRecipientError = 'Enter a phone number, including the country code (for example +1 555 010 0002).';
      this.emitChange();
      return false;
    }
    const lineId = this.lines.length > 1 ? this.newLineId : null;
    const existing = this.store.threadForPeer(to, lineId);
    if (existing) {
      this.openThread(existing.id);
      this.outbox.send(to, body, existing.id, lineId);
      return true;
    }
    this.newPeer = to;
    this.outbox.send(to, body, null, lineId).then((message) => {
      if (message && this.pane === 'new' && this.newPeer === to) this.openThread(message.thread_id);
    });
    this.emitChange();
    return true;
  }

  #markReadIfSeen() {
    const id = this.selectedId;
    const thread = id === null ? undefined : this.store.threads.get(id);
    if (!thread || thread.unread === 0 || !this.visible || this.#markingRead.has(thread.id)) return;
    this.store.markReadLocally(thread.id);
    this.#markingRead.set(thread.id,
      this.api.markRead(thread.id).catch(() => {}).finally(() => this.#markingRead.delete(thread.id)));
  }

  #draftKey() {
    return this.pane === 'thread' ? String(this.selectedId) : 'new';
  }

  #visibleItems() {
    const threads = [...this.store.threads.values()].filter(
      (t) => t.archived === (this.listMode === 'archived') && !this.deletes.isHidden(t.id),
    );
    return conversationItems(threads, this.clock.now(), this.timeOptions, this.#lineLabels());
  }

  /** Line labels matter only when the account has several lines. @returns {Map<number, string>|null} */
  #lineLabels() {
    if (this.lines.length < 2) return null;
    return new Map(this.lines.map((l) => [l.id, l.label || l.number]));
  }

  // ---- snapshot ---------------------------------------------------------

  snapshot() {
    const now = this.clock.now();
    const threads = [...this.store.threads.values()].filter((t) => !this.deletes.isHidden(t.id));
    const selected = this.selectedId === null ? null : this.store.threads.get(this.selectedId) ?? null;
    const draft = this.#drafts.get(this.#draftKey()) ?? '';
    const labels = this.#lineLabels();
    return {
      screen: this.screen,
      now,
      signin: {
        busy: this.session.busy, error: this.session.error, notice: this.session.notice,
        lastPhone: /** @type {string} */ (this.storage.get('last-phone') ?? ''),
      },
      auth: this.auth.snapshot(),
      verify: this.verify.snapshot(),
      account: this.session.account,
      connection: this.sync.status,
      bridge: bridgeSummary(this.sync.devices, this.sync.status, now, this.timeOptions),
      unreadTotal: totalUnread(threads.filter((t) => !t.archived)),
      list: {
        items: this.#visibleItems(),
        selectedId: this.selectedId,
        loading: !this.sync.ready,
        mode: this.listMode,
        archivedCount: threads.filter((t) => t.archived).length,
      },
      pane: this.pane,
      thread: this.pane === 'thread' && this.thread && selected
        ? {
          id: selected.id, title: selected.title, peer: selected.peer, archived: selected.archived,
          line: labels && selected.line_id !== null ? labels.get(selected.line_id) ?? selected.line : null,
          ...this.thread.view(now, this.timeOptions),
        }
        : null,
      newMessage: this.pane === 'new' ? this.#newMessageView() : null,
      settings: this.pane === 'settings' ? this.#settingsView() : null,
      pairing: this.pairing.snapshot(),
      search: {
        active: this.search.active, query: this.search.query, busy: this.search.busy,
        error: this.search.error, answered: this.search.answered,
        results: this.search.results.map((m) => ({
          id: m.id, threadId: m.thread_id, body: m.body, direction: m.direction, timestamp: m.timestamp,
          title: this.store.threads.get(m.thread_id)?.title || m.peer, peer: m.peer,
        })),
      },
      toast: this.deletes.toast
        ? { text: this.deletes.toast.text, undo: true, kind: 'delete', threadId: this.deletes.toast.threadId }
        : this.toast ? { text: this.toast.text, undo: Boolean(this.toast.undo), kind: 'notice', threadId: null } : null,
      cookieNotice: this.consent ? this.consent.needed : false,
      draft,
    };
  }

  /** Run the current toast's undo. */
  undoToast() {
    if (this.deletes.toast) return this.undoDelete(this.deletes.toast.threadId);
    const undo = this.toast?.undo;
    this.toast = null;
    undo?.();
    this.emitChange();
  }

  #newMessageView() {
    const query = this.newRecipient.trim().toLowerCase();
    const digits = query.replace(/[^0-9+]/g, '');
    const contacts = this.contacts === null ? null : this.contacts
      .filter((c) => !query || c.name.toLowerCase().includes(query) || (digits.length > 1 && c.number.includes(digits)))
      .slice(0, 50);
    return {
      recipient: this.newRecipient, error: this.newRecipientError,
      pending: this.newPeer
        ? this.store.pendingForPeer(this.newPeer).map((m) => bubble(m, this.timeOptions)) : [],
      lines: this.lines.length > 1
        ? this.lines.filter((l) => l.verified).map((l) => ({ id: l.id, label: l.label ? `${l.label} (${l.number})` : l.number }))
        : [],
      lineId: this.newLineId,
      contacts,
    };
  }

  #settingsView() {
    const s = this.settings;
    return {
      account: this.session.account,
      devices: this.sync.devices,
      renaming: s.renaming,
      sessions: s.sessions,
      events: s.events,
      loadError: s.loadError,
      forms: { profile: s.profile, password: s.password, sessions: s.sessionsForm, devices: s.devicesForm },
      notifications: this.notifier ? this.notifier.permission() : 'unsupported',
      lines: this.lines,
      now: this.clock.now(),
    };
  }
}
