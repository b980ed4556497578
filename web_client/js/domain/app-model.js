/**
 * The root view model: which screen shows, which conversation is open, and
 * the user's intents (sign in, open, send, …). It owns the other models and
 * hands views one plain snapshot per change.
 */
import { normalizePhone } from '../protocol/phone.js';
import { conversationItems, totalUnread } from './conversation-list.js';
import { Observable } from './observable.js';
import { Outbox } from './outbox.js';
import { Session } from './session.js';
import { ConversationStore } from './store.js';
import { SyncClient } from './sync-client.js';
import { ThreadModel, bubble } from './thread-model.js';

/** @typedef {'loading'|'signin'|'unverified'|'main'} Screen */
/** @typedef {'empty'|'thread'|'new'} Pane */

export class AppModel extends Observable {
  /** @type {number|null} */ selectedId = null;
  /** @type {Pane} */ pane = 'empty';
  /** @type {ThreadModel|null} */ thread = null;
  unverified = false;
  visible = true;
  newRecipient = '';
  /** @type {string|null} */ newRecipientError = null;
  /** @type {string|null} number of a first message still on its way, before a thread exists */
  newPeer = null;
  /** @type {Map<string, string>} unsent text per thread id or "new" */
  #drafts = new Map();
  /** @type {Set<number>} */ #markingRead = new Set();

  /**
   * @param {object} deps
   * @param {import('./api.js').FerryApi} deps.api
   * @param {import('../platform/clock.js').Clock} deps.clock
   * @param {import('../platform/socket.js').SocketFactory} deps.socketFactory
   * @param {import('../platform/storage.js').KeyValueStore} deps.storage
   * @param {() => string} deps.uuid
   * @param {() => number} [deps.random]
   * @param {import('./time.js').TimeOptions} [deps.timeOptions]
   */
  constructor({ api, clock, socketFactory, storage, uuid, random = Math.random, timeOptions = {} }) {
    super();
    Object.assign(this, { api, clock, storage, timeOptions });
    this.session = new Session(api);
    this.store = new ConversationStore();
    const onSessionGone = () => this.session.expire();
    this.sync = new SyncClient({
      api, store: this.store, socketFactory, clock, random, onSessionGone,
      onFatal: (code) => this.#fatal(code),
    });
    this.outbox = new Outbox({ api, store: this.store, clock, uuid, random, onSessionGone });
    this.session.subscribe(() => this.#sessionChanged());
    this.store.subscribe(() => this.#storeChanged());
    this.sync.subscribe(() => this.emitChange());
  }

  start() {
    return this.session.restore();
  }

  /** @returns {Screen} */
  get screen() {
    if (this.session.state === 'unknown') return 'loading';
    if (this.session.state === 'signed-out') return 'signin';
    return this.unverified ? 'unverified' : 'main';
  }

  // ---- intents ----------------------------------------------------------

  /** @param {string} phone @param {string} password */
  async signIn(phone, password) {
    this.storage.set('last-phone', phone.trim());
    await this.session.signIn(phone, password);
  }

  signOut() {
    return this.session.signOut();
  }

  /** From the "not verified" screen: ask again, the user may have verified meanwhile. */
  async recheck() {
    this.unverified = false;
    this.sync.stop();
    this.session.state = 'unknown';
    this.emitChange();
    await this.session.restore();
  }

  /** @param {number} threadId */
  openThread(threadId) {
    if (this.pane === 'thread' && this.selectedId === threadId) return;
    this.selectedId = threadId;
    this.pane = 'thread';
    this.thread = new ThreadModel({ api: this.api, store: this.store, threadId });
    this.thread.subscribe(() => this.emitChange());
    this.thread.ensureLoaded();
    this.#markReadIfSeen();
    this.emitChange();
  }

  startNewMessage() {
    this.#leaveThread();
    this.pane = 'new';
    this.newRecipient = '';
    this.newRecipientError = null;
    this.newPeer = null;
    this.emitChange();
  }

  /** Narrow layouts: back from a conversation to the list. */
  closePane() {
    this.#leaveThread();
    this.pane = 'empty';
    this.emitChange();
  }

  /** @param {string} text */
  setDraft(text) {
    const key = this.#draftKey();
    if (text) this.#drafts.set(key, text);
    else this.#drafts.delete(key);
  }

  /** @param {string} text */
  setNewRecipient(text) {
    this.newRecipient = text;
    if (this.newRecipientError) {
      this.newRecipientError = null;
      this.emitChange();
    }
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
      this.outbox.send(thread.peer, body, thread.id);
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

  /** @param {boolean} visible page visibility; unread only clears for eyes on the thread */
  setVisible(visible) {
    this.visible = visible;
    this.#markReadIfSeen();
  }

  /** Redraw relative times. */
  tick() {
    this.emitChange();
  }

  // ---- reactions --------------------------------------------------------

  #sessionChanged() {
    const signedIn = this.session.state === 'signed-in';
    if (signedIn && !this.session.account?.phone_verified) this.unverified = true;
    if (!signedIn) this.#reset();
    else if (!this.unverified) this.sync.start();
    this.emitChange();
  }

  #storeChanged() {
    this.thread?.ensureLoaded();
    this.#markReadIfSeen();
    this.emitChange();
  }

  /** @param {string} code */
  #fatal(code) {
    if (code === 'phone_unverified') this.unverified = true;
    this.emitChange();
  }

  #reset() {
    this.sync.stop();
    this.store.clear();
    this.#drafts.clear();
    this.#leaveThread();
    this.pane = 'empty';
    this.unverified = false;
  }

  #leaveThread() {
    this.thread = null;
    this.selectedId = null;
  }

  /** @param {string} body */
  #sendToNewRecipient(body) {
    const to = normalizePhone(this.newRecipient);
    if (!to) {
      this.newRecipientError = 'Enter a phone number, including the country code (for example +1 555 010 0002).';
      this.emitChange();
      return false;
    }
    const existing = this.store.threadForPeer(to);
    if (existing) {
      this.openThread(existing.id);
      this.outbox.send(to, body, existing.id);
      return true;
    }
    this.newPeer = to;
    this.outbox.send(to, body, null).then((message) => {
      if (message && this.pane === 'new' && this.newPeer === to) this.openThread(message.thread_id);
    });
    this.emitChange();
    return true;
  }

  #markReadIfSeen() {
    const id = this.selectedId;
    const thread = id === null ? undefined : this.store.threads.get(id);
    if (!thread || thread.unread === 0 || !this.visible || this.#markingRead.has(thread.id)) return;
    this.#markingRead.add(thread.id);
    this.store.markReadLocally(thread.id);
    this.api.markRead(thread.id).catch(() => {}).finally(() => this.#markingRead.delete(thread.id));
  }

  #draftKey() {
    return this.pane === 'thread' ? String(this.selectedId) : 'new';
  }

  // ---- snapshot ---------------------------------------------------------

  snapshot() {
    const now = this.clock.now();
    const threads = [...this.store.threads.values()];
    const selected = this.selectedId === null ? null : this.store.threads.get(this.selectedId) ?? null;
    return {
      screen: this.screen,
      signin: {
        busy: this.session.busy, error: this.session.error, notice: this.session.notice,
        lastPhone: /** @type {string} */ (this.storage.get('last-phone') ?? ''),
      },
      account: this.session.account,
      connection: this.sync.status,
      bridge: bridgeState(this.sync.devices),
      unreadTotal: totalUnread(threads),
      list: {
        items: conversationItems(threads, now, this.timeOptions),
        selectedId: this.selectedId,
        loading: !this.sync.ready,
      },
      pane: this.pane,
      thread: this.pane === 'thread' && this.thread && selected
        ? { id: selected.id, title: selected.title, peer: selected.peer, ...this.thread.view(now, this.timeOptions) }
        : null,
      newMessage: this.pane === 'new'
        ? {
          recipient: this.newRecipient, error: this.newRecipientError,
          pending: this.newPeer
            ? this.store.pendingForPeer(this.newPeer).map((m) => bubble(m, this.timeOptions)) : [],
        }
        : null,
      draft: this.#drafts.get(this.#draftKey()) ?? '',
    };
  }
}

/**
 * @param {import('../protocol/schema.js').Device[]|null} devices
 * @returns {{state: 'unknown'|'none'|'online'|'offline', label: string}}
 */
export function bridgeState(devices) {
  if (devices === null) return { state: 'unknown', label: 'Checking phone…' };
  if (devices.length === 0) return { state: 'none', label: 'No phone linked' };
  const online = devices.find((d) => d.online);
  if (online) return { state: 'online', label: `${online.name || 'Phone'} connected` };
  return { state: 'offline', label: 'Phone offline' };
}
