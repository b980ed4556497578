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
  // The phone (Termux) is told nothing after a send: never "Delivered", and not a bare
  // "Sent" that would promise a report.
  sent_no_report: 'Sent from phone (no delivery report)',
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
 * @property {string|null} error a plain sentence
 * @property {string|null} errorDetail the technical detail behind it (the modem's words), shown on demand
 * @property {string|null} refused a placeholder for an SMS the server could not store: the whole notice
 * @property {boolean} retryable
 * @property {string|null} clientMsgId
 * @property {number|null} id the server's id, null while pending
 * @property {boolean} incomplete parts of a long SMS are missing
 * @property {boolean} masked its content was destroyed for good (the body is *****)
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
    const peerName = this.store.threads.get(this.threadId)?.title;
    const bubbles = this.store.messagesFor(this.threadId).map((m) => bubble(m, timeOptions, peerName));
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

/** Why the server could not store a message, in words (protocol REFUSAL_REASONS). */
const REFUSAL_WORDS = {
  body_too_long: 'its text is longer than Ferry can keep',
  field_too_long: 'its sender or details are longer than Ferry can keep',
  bad_time: 'its date and time could not be read',
  bad_sender: 'its sender’s number could not be read',
  invalid_attachment: 'an attachment in it is damaged or unreadable',
  too_many_attachments: 'it has more attachments than Ferry can keep',
  attachment_too_large: 'its attachments are larger than Ferry can keep',
  malformed: 'it arrived damaged',
};
const GENERIC_SEND_FAILURE = 'The phone couldn’t send this message.';

/**
 * The modem's own words, as older servers and bridges put them in `error`
 * ("AT+CMGS=42 timed out waiting for the prompt", "+CMS ERROR: 38").
 * @param {string} text
 */
export function looksTechnical(text) {
  return /\bAT[+^&]?[A-Z]|\+CM[SE] ERROR|\bERROR\b|timed out|\bprompt\b|\bCMGS\b|\bPDU\b/i.test(text);
}

/**
 * A send error as a sentence plus its detail. Old rows carry raw AT text in
 * `error` and no detail: then a plain sentence stands in, and the raw text
 * becomes the detail.
 * @param {string|null} error @param {string|null} detail
 * @returns {{error: string|null, errorDetail: string|null}}
 */
export function sendError(error, detail) {
  if (!error) return { error: null, errorDetail: detail || null };
  if (!detail && looksTechnical(error)) return { error: GENERIC_SEND_FAILURE, errorDetail: error };
  return { error, errorDetail: detail || null };
}

/**
 * @param {string} peer who sent it (a contact's name, or the number)
 * @param {string} reason a REFUSAL_REASONS code, or 'unknown'
 */
export function refusalNotice(peer, reason) {
  const why = REFUSAL_WORDS[/** @type {keyof REFUSAL_WORDS} */ (reason)] ?? 'Ferry could not read it';
  return `A message from ${peer} could not be stored: ${why}.`;
}

/**
 * @param {import('./store.js').AnyMessage} m @param {import('./time.js').TimeOptions} timeOptions
 * @param {string} [peerName] how the thread names the peer (for refusal notices)
 * @returns {BubbleView}
 */
export function bubble(m, timeOptions, peerName = m.peer) {
  const refused = 'refused' in m && m.refused ? refusalNotice(peerName || m.peer, m.refused) : null;
  const failure = 'pending' in m ? { error: m.error, errorDetail: null } : sendError(m.error, m.error_detail);
  return {
    key: m.client_msg_id ? `c:${m.client_msg_id}` : refused ? `r:${m.id}` : `m:${m.id}`,
    direction: m.direction,
    body: m.body,
    time: clockTime(m.timestamp, timeOptions),
    timestamp: m.timestamp,
    status: m.status,
    statusLabel: m.direction === 'out' && !refused ? statusLabel(m) : '',
    ...failure,
    refused,
    retryable: 'pending' in m && m.retryable,
    clientMsgId: 'pending' in m ? m.client_msg_id : null,
    id: m.id,
    incomplete: 'incomplete' in m && m.incomplete,
    masked: 'masked' in m && m.masked,
    attachments: 'attachments' in m ? m.attachments.map(attachmentView) : [],
    resend: !('pending' in m) && m.direction === 'out' && (m.status === 'failed' || m.status === 'unknown')
      ? m.status : null,
  };
}

/** @param {import('./store.js').AnyMessage} m */
function statusLabel(m) {
  if ('pending' in m) return m.status === 'failed' ? 'Not sent' : m.status === 'waiting' ? 'Waiting for the server' : 'Sending…';
  return STATUS_LABELS[/** @type {keyof STATUS_LABELS} */ (m.status)] ?? '';
}
