/**
 * Owns composing: unsent drafts per conversation (and one for "new"), the
 * new-conversation form (recipient typed or picked from contacts, validated
 * on send; the line to send from), the account's lines and contacts, and
 * sending from whichever pane is open.
 *
 * A first message to a number without a conversation stays in the "new" pane
 * as a pending bubble until the server names its thread, then that thread opens.
 */
import { checkRecipient, isName } from '../protocol/phone.js';
import { MAX_MESSAGE_CHARS, messageLength } from './compose-counter.js';
import { Observable } from './observable.js';
import { bubble } from './thread-model.js';

/** @typedef {import('../protocol/schema.js').Line} Line */

export class ComposeModel extends Observable {
  recipient = '';
  /** @type {number|null} */ lineId = null;
  /** @type {string|null} */ recipientError = null;
  /** @type {string|null} number of a first message still on its way, before a thread exists */
  newPeer = null;
  /** @type {Line[]} */ lines = [];
  /** @type {import('../protocol/schema.js').Contact[]|null} null: the server has no contacts */
  contacts = null;
  /** @type {Map<string, string>} unsent text per thread id or "new" */
  #drafts = new Map();

  /**
   * @param {object} deps
   * @param {import('./api.js').FerryApi} deps.api
   * @param {import('./store.js').ConversationStore} deps.store
   * @param {import('./outbox.js').Outbox} deps.outbox
   * @param {import('./selection.js').Selection} deps.selection
   * @param {import('./time.js').TimeOptions} [deps.timeOptions]
   */
  constructor({ api, store, outbox, selection, timeOptions = {} }) {
    super();
    Object.assign(this, { api, store, outbox, selection, timeOptions });
  }

  /** The draft of the open pane. */
  get draft() {
    return this.#drafts.get(this.#draftKey()) ?? '';
  }

  /** @param {string} text */
  setDraft(text) {
    const key = this.#draftKey();
    if (text) this.#drafts.set(key, text);
    else this.#drafts.delete(key);
  }

  /** A fresh new-conversation form. */
  startNew() {
    this.recipient = '';
    this.recipientError = null;
    this.newPeer = null;
    this.lineId = this.lines.find((l) => l.verified)?.id ?? null;
    this.loadContacts();
  }

  /** @param {string} text */
  setRecipient(text) {
    this.recipient = text;
    this.recipientError = null;
    this.emitChange();
  }

  /** @param {number} lineId */
  setLine(lineId) {
    this.lineId = lineId;
    this.emitChange();
  }

  /** A contact picked in the new-conversation pane. @param {{number: string, line_id: number|null}} contact */
  pickContact(contact) {
    const existing = this.store.threadForPeer(contact.number, contact.line_id);
    if (existing && !this.#drafts.get('new')) {
      this.selection.openThread(existing.id);
      return;
    }
    this.recipient = contact.number;
    if (contact.line_id !== null && this.lines.some((l) => l.id === contact.line_id)) this.lineId = contact.line_id;
    this.recipientError = null;
    this.emitChange();
  }

  /**
   * Send from the compose box of the open pane.
   * @param {string} text @returns {boolean} whether the text was taken (so the box clears)
   */
  send(text) {
    const body = text.trim() ? text.replace(/\s+$/, '') : '';
    // Over the limit the text stays in the box (the counter says by how much).
    if (!body || messageLength(body) > MAX_MESSAGE_CHARS) return false;
    const { pane } = this.selection;
    const thread = this.selection.selectedThread;
    if (pane === 'thread' && thread) {
      if (isName(thread.peer)) return false; // a name cannot receive texts: the view says so
      this.outbox.send(thread.peer, body, thread.id, thread.line_id);
    } else if (pane === 'new') {
      if (!this.#sendToNewRecipient(body)) return false;
    } else return false;
    this.#drafts.delete(this.#draftKey());
    return true;
  }

  /**
   * Send a stored failed (or status-unknown) message again: a new SMS under a
   * new client_msg_id; the old bubble stays as it was.
   * @param {number} messageId
   */
  resend(messageId) {
    const thread = this.selection.selectedThread;
    const message = thread ? this.store.messagesFor(thread.id).find((m) => m.id === messageId) : undefined;
    if (!thread || !message || message.direction !== 'out') return;
    this.outbox.send(thread.peer, message.body, thread.id, thread.line_id);
  }

  async loadLines() {
    try {
      this.lines = await this.api.lines();
      this.emitChange();
    } catch {
      this.lines = [];
    }
  }

  async loadContacts() {
    try {
      this.contacts = await this.api.contacts();
    } catch {
      this.contacts = null; // 404 on servers without contacts: the list stays hidden
    }
    this.emitChange();
  }

  /** Line labels matter only when the account has several lines. @returns {Map<number, string>|null} */
  lineLabels() {
    if (this.lines.length < 2) return null;
    return new Map(this.lines.map((l) => [l.id, l.label || l.number]));
  }

  /** What the new-conversation pane draws. */
  view() {
    const query = this.recipient.trim().toLowerCase();
    const digits = query.replace(/[^0-9+]/g, '');
    const contacts = this.contacts === null ? null : this.contacts
      .filter((c) => !query || c.name.toLowerCase().includes(query) || (digits.length > 1 && c.number.includes(digits)))
      .slice(0, 50);
    return {
      recipient: this.recipient, error: this.recipientError, check: checkRecipient(this.recipient, this.#lineNumber()),
      pending: this.newPeer
        ? this.store.pendingForPeer(this.newPeer).map((m) => bubble(m, this.timeOptions)) : [],
      lines: this.lines.length > 1
        ? this.lines.filter((l) => l.verified).map((l) => ({ id: l.id, label: l.label ? `${l.label} (${l.number})` : l.number }))
        : [],
      lineId: this.lineId,
      contacts,
    };
  }

  reset() {
    this.#drafts.clear();
    this.lines = [];
    this.contacts = null;
  }

  /** @param {string} body */
  #sendToNewRecipient(body) {
    const { to, refusal } = checkRecipient(this.recipient, this.#lineNumber());
    if (!to) {
      this.recipientError = refusal;
      this.emitChange();
      return false;
    }
    const lineId = this.lines.length > 1 ? this.lineId : null;
    const existing = this.store.threadForPeer(to, lineId);
    if (existing) {
      this.selection.openThread(existing.id);
      this.outbox.send(to, body, existing.id, lineId);
      return true;
    }
    this.newPeer = to;
    this.outbox.send(to, body, null, lineId).then((message) => {
      if (message && this.selection.pane === 'new' && this.newPeer === to) this.selection.openThread(message.thread_id);
    });
    this.emitChange();
    return true;
  }

  /** The number of the line a new message leaves from (the server's default: the first verified). */
  #lineNumber() {
    return (this.lines.find((l) => l.id === this.lineId) ?? this.lines.find((l) => l.verified))?.number ?? null;
  }

  #draftKey() {
    return this.selection.pane === 'thread' ? String(this.selection.selectedId) : 'new';
  }
}
