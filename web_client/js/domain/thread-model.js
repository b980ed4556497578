/**
 * One open conversation: loads its newest page, pages back on demand, and
 * turns store messages into what the thread view draws (day groups, status
 * words). Messages themselves live in the store, so live changes and
 * pages merge there.
 */
import { attachmentView } from './attachments.js';
import { Observable } from './observable.js';
import { clockTime, groupByDay } from './time.js';

const STATUS_LABELS = {
  queued: 'Queued', sending: 'Sending…', sent: 'Sent', delivered: 'Delivered',
  failed: 'Not delivered', unknown: 'Status unknown',
};

/**
 * @typedef {object} BubbleView
 * @property {string} key stable across the pending → confirmed switch
 * @property {'in'|'out'} direction
 * @property {string} body
 * @property {string} time
 * @property {string} timestamp
 * @property {string} status
 * @property {string} statusLabel empty for incoming
 * @property {string|null} error
 * @property {boolean} retryable
 * @property {string|null} clientMsgId
 * @property {number|null} id the server's id, null while pending
 * @property {boolean} incomplete parts of a long SMS are missing
 * @property {'failed'|'unknown'|null} resend stored outgoing message the user may send again
 * @property {import('./attachments.js').AttachmentView[]} attachments
 */

export class ThreadModel extends Observable {
  loading = false;
  loadingOlder = false;
  hasMore = false;
  /** @type {string|null} */
  error = null;
  /** @type {number|null} a search hit to scroll to */
  revealId = null;
  #epoch = -1;
  /** @type {Promise<void>|null} */ #loading = null;

  /**
   * @param {{api: import('./api.js').FerryApi, store: import('./store.js').ConversationStore, threadId: number}} deps
   */
  constructor({ api, store, threadId }) {
    super();
    this.api = api;
    this.store = store;
    this.threadId = threadId;
  }

  /** Load the newest page if the store's copy was never loaded or was dropped. */
  ensureLoaded() {
    if (this.#loading) return this.#loading;
    if (this.#epoch === this.store.epoch) return Promise.resolve();
    this.#loading = this.#loadNewest().finally(() => { this.#loading = null; });
    return this.#loading;
  }

  /**
   * Page back until a message is held, then ask the view to scroll to it.
   * @param {number} messageId
   */
  async reveal(messageId) {
    this.revealId = messageId;
    await this.ensureLoaded();
    const held = () => this.store.messagesFor(this.threadId).some((m) => m.id === messageId);
    for (let page = 0; page < 40 && !held() && this.hasMore && !this.error; page++) await this.loadOlder();
    this.emitChange();
  }

  async #loadNewest() {
    this.#epoch = this.store.epoch;
    this.loading = true;
    this.error = null;
    this.emitChange();
    try {
      const page = await this.api.messages(this.threadId);
      this.hasMore = page.has_more;
      this.store.applyChanges(page.messages);
    } catch {
      this.error = 'Couldn’t load messages.';
      this.#epoch = -1;
    }
    this.loading = false;
    this.emitChange();
  }

  async loadOlder() {
    // The server pages by message id, not by timestamp.
    const ids = this.store.messagesFor(this.threadId).flatMap((m) => (m.id === null ? [] : [m.id]));
    if (!this.hasMore || this.loadingOlder || ids.length === 0) return;
    this.loadingOlder = true;
    this.emitChange();
    try {
      const page = await this.api.messages(this.threadId, Math.min(...ids));
      this.hasMore = page.has_more;
      this.store.applyChanges(page.messages);
    } catch {
      this.error = 'Couldn’t load older messages.';
    }
    this.loadingOlder = false;
    this.emitChange();
  }

  /**
   * @param {number} now @param {import('./time.js').TimeOptions} [timeOptions]
   */
  view(now, timeOptions = {}) {
    const bubbles = this.store.messagesFor(this.threadId).map((m) => bubble(m, timeOptions));
    return {
      groups: groupByDay(bubbles, now, timeOptions),
      revealKey: this.revealId === null ? null : `m:${this.revealId}`,
      hasMore: this.hasMore,
      loading: this.loading,
      loadingOlder: this.loadingOlder,
      error: this.error,
    };
  }
}

/**
 * @param {import('./store.js').AnyMessage} m @param {import('./time.js').TimeOptions} timeOptions
 * @returns {BubbleView}
 */
export function bubble(m, timeOptions) {
  return {
    key: m.client_msg_id ? `c:${m.client_msg_id}` : `m:${m.id}`,
    direction: m.direction,
    body: m.body,
    time: clockTime(m.timestamp, timeOptions),
    timestamp: m.timestamp,
    status: m.status,
    statusLabel: m.direction === 'out' ? statusLabel(m) : '',
    error: m.error,
    retryable: 'pending' in m && m.retryable,
    clientMsgId: 'pending' in m ? m.client_msg_id : null,
    id: m.id,
    incomplete: 'incomplete' in m && m.incomplete,
    attachments: 'attachments' in m ? m.attachments.map(attachmentView) : [],
    resend: !('pending' in m) && m.direction === 'out' && (m.status === 'failed' || m.status === 'unknown')
      ? m.status : null,
  };
}

/** @param {import('./store.js').AnyMessage} m */
function statusLabel(m) {
  if ('pending' in m) return m.status === 'failed' ? 'Not sent' : 'Sending…';
  return STATUS_LABELS[/** @type {keyof STATUS_LABELS} */ (m.status)] ?? '';
}
