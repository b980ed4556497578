/**
 * Shapes of what the server sends (REST bodies and websocket payloads), checked
 * on the way in. Each parser returns a fresh frozen object with only the known
 * fields, so a view can never render something the server did not mean to send.
 */
import { ProtocolError } from './errors.js';

/** @typedef {'received'|'queued'|'sending'|'sent'|'sent_no_report'|'delivered'|'failed'|'unknown'} MessageStatus */

/**
 * @typedef {object} Message
 * @property {number} id
 * @property {number} thread_id
 * @property {string} peer
 * @property {'in'|'out'} direction
 * @property {string} body
 * @property {MessageStatus} status
 * @property {string} timestamp ISO 8601 UTC
 * @property {number} seq
 * @property {string|null} client_msg_id
 * @property {string|null} error a failed send: a plain sentence for the user (older servers: the modem's words)
 * @property {string|null} error_detail the technical detail behind `error` (the modem's own words)
 * @property {RefusalReason|null} refused a placeholder: the bridge received an SMS from `peer` that
 *   the server could not store, for this reason; the body is empty
 * @property {boolean} incomplete some parts of a long SMS never arrived; the body has what did
 * @property {boolean} deleted a tombstone: remove it from view
 * @property {boolean} masked its content was destroyed for good; the body is *****
 * @property {readonly Attachment[]} attachments MMS parts, in order (metadata only)
 */

/**
 * An MMS part. The bytes are at `attachmentUrl(id)`: images (png, jpeg, gif, webp) are
 * served inline with their type, everything else as a download.
 * @typedef {object} Attachment
 * @property {number} id
 * @property {string} mime lower-case `type/subtype`
 * @property {number} size bytes
 * @property {string|null} name the sender's file name, if any (display only)
 */

/**
 * @typedef {object} Thread
 * @property {number} id
 * @property {string} peer
 * @property {string} title
 * @property {Message|null} last_message
 * @property {string} last_activity
 * @property {number} unread
 * @property {number} seq
 * @property {number|null} line_id
 * @property {string|null} line number of the line (SIM) the conversation is on
 * @property {boolean} archived
 * @property {boolean} deleted a tombstone: remove it from view
 */

/**
 * @typedef {object} Device
 * @property {string} id
 * @property {string} name
 * @property {boolean} online
 * @property {string|null} last_seen
 * @property {number|null} signal_dbm what the bridge last reported about its modem, while connected
 * @property {string|null} operator network name, while connected
 * @property {string[]} lines numbers (SIMs) the bridge serves
 * @property {ModemState|null} modem_state the modem as the bridge last reported it, while connected
 * @property {{done: number, total: number}|null} importing a phone's history being imported
 */

/** @typedef {'ready'|'not_responding'|'starting'} ModemState */
/**
 * @typedef {'body_too_long'|'field_too_long'|'bad_time'|'bad_sender'|'invalid_attachment'
 *   |'too_many_attachments'|'attachment_too_large'|'malformed'|'unknown'} RefusalReason
 */

/**
 * How the last verification code send went (GET /me, while the number is unverified).
 * @typedef {{state: 'sending'|'sent'|'failed', error: string|null, at: string}} CodeSend
 */

/**
 * @typedef {{id: string|number, phone: string, phone_verified: boolean,
 *   email: string|null, display_name: string|null}} Account
 * @typedef {{id: string, current: boolean, created_at: string|null, last_seen_at: string|null,
 *   user_agent: string, ip: string|null}} SessionInfo
 * @typedef {{id: number, kind: string, at: string, ip: string|null, user_agent: string|null}} SecurityEvent
 * @typedef {{code: string, uri: string, qr_svg: string, expires_at: string, line_id: number|null}} PairingOffer
 * @typedef {{id: number, number: string, label: string, verified: boolean}} Line
 * @typedef {{id: number, name: string, number: string, line_id: number|null}} Contact
 */

/** ``sent_no_report``: the phone sent it and will say nothing more (no delivery reports). */
export const MESSAGE_STATUSES = Object.freeze(['received', 'queued', 'sending', 'sent', 'sent_no_report', 'delivered', 'failed', 'unknown']);
/** Mirrors protocol.messages.REFUSAL_REASONS. */
export const REFUSAL_REASONS = Object.freeze([
  'body_too_long', 'field_too_long', 'bad_time', 'bad_sender', 'invalid_attachment',
  'too_many_attachments', 'attachment_too_large', 'malformed',
]);
export const MODEM_STATES = Object.freeze(['ready', 'not_responding', 'starting']);
/** The modem's words behind a failed send; far beyond any AT response line. */
const MAX_ERROR_DETAIL = 2000;
/** Guards against a runaway server payload; far beyond any real SMS thread. */
const MAX_BODY_CHARS = 100_000;
const MAX_LIST = 10_000;
/** Mirrors protocol.messages.MAX_ATTACHMENTS. */
export const MAX_ATTACHMENTS = 10;
/** Media types the server serves inline (everything else is a download). */
export const INLINE_IMAGE_TYPES = Object.freeze(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** @param {unknown} value @param {string} what @returns {Record<string, any>} */
export function object(value, what) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ProtocolError(`${what}: expected an object`);
  }
  return /** @type {Record<string, any>} */ (value);
}

/** @param {unknown} value @param {string} what @returns {number} */
export function int(value, what) {
  if (!Number.isSafeInteger(value) || /** @type {number} */ (value) < 0) {
    throw new ProtocolError(`${what}: expected a non-negative integer`);
  }
  return /** @type {number} */ (value);
}

/** @param {unknown} value @param {string} what @param {number} [max] @returns {string} */
export function str(value, what, max = 1000) {
  if (typeof value !== 'string' || value.length > max) throw new ProtocolError(`${what}: expected a string`);
  return value;
}

/** @param {unknown} value @param {string} what @param {number} [max] @returns {string|null} */
function optStr(value, what, max = 1000) {
  return value == null ? null : str(value, what, max);
}

/** @param {unknown} value @param {string} what @returns {string} */
function isoTime(value, what) {
  const text = str(value, what, 64);
  if (Number.isNaN(Date.parse(text))) throw new ProtocolError(`${what}: not a timestamp`);
  return text;
}

/**
 * @template T
 * @param {unknown} value @param {string} what @param {(item: unknown, what: string) => T} parse
 * @returns {T[]}
 */
export function list(value, what, parse) {
  if (!Array.isArray(value) || value.length > MAX_LIST) throw new ProtocolError(`${what}: expected a list`);
  return value.map((item, i) => parse(item, `${what}[${i}]`));
}

/** @param {unknown} value @param {string} [what] @returns {Message} */
export function parseMessage(value, what = 'message') {
  const m = object(value, what);
  if (m.direction !== 'in' && m.direction !== 'out') throw new ProtocolError(`${what}.direction: unknown`);
  // An unknown status from a newer server is shown as "unknown" rather than dropped.
  const status = MESSAGE_STATUSES.includes(m.status) ? m.status : 'unknown';
  return Object.freeze({
    id: int(m.id, `${what}.id`),
    thread_id: int(m.thread_id, `${what}.thread_id`),
    peer: str(m.peer, `${what}.peer`, 64),
    direction: m.direction,
    body: str(m.body, `${what}.body`, MAX_BODY_CHARS),
    status,
    timestamp: isoTime(m.timestamp, `${what}.timestamp`),
    seq: int(m.seq, `${what}.seq`),
    client_msg_id: optStr(m.client_msg_id, `${what}.client_msg_id`),
    error: optStr(m.error, `${what}.error`),
    error_detail: optStr(m.error_detail, `${what}.error_detail`, MAX_ERROR_DETAIL),
    refused: parseRefused(m.refused, `${what}.refused`),
    incomplete: m.incomplete === true,
    deleted: m.deleted === true,
    masked: m.masked === true,
    attachments: m.attachments == null ? Object.freeze([]) : parseAttachments(m.attachments, `${what}.attachments`),
  });
}

/**
 * A reason from a newer server is still a refusal (shown in general words), never a
 * normal message with an empty body.
 * @param {unknown} value @param {string} what @returns {RefusalReason|null}
 */
function parseRefused(value, what) {
  if (value == null) return null;
  const reason = str(value, what, 64);
  return /** @type {RefusalReason} */ (REFUSAL_REASONS.includes(reason) ? reason : 'unknown');
}

/** @param {unknown} value @param {string} what @returns {readonly Attachment[]} */
function parseAttachments(value, what) {
  if (!Array.isArray(value) || value.length > MAX_ATTACHMENTS) throw new ProtocolError(`${what}: expected a list`);
  return Object.freeze(value.map((item, i) => parseAttachment(item, `${what}[${i}]`)));
}

/** @param {unknown} value @param {string} [what] @returns {Attachment} */
export function parseAttachment(value, what = 'attachment') {
  const a = object(value, what);
  const mime = str(a.mime, `${what}.mime`, 100);
  if (!/^[a-z0-9!#$%&'*+.^_`|~-]+\/[a-z0-9!#$%&'*+.^_`|~-]+$/.test(mime)) {
    throw new ProtocolError(`${what}.mime: not a media type`);
  }
  return Object.freeze({
    id: int(a.id, `${what}.id`),
    mime,
    size: int(a.size, `${what}.size`),
    name: a.name == null ? null : str(a.name, `${what}.name`, 255),
  });
}

/**
 * Where an attachment's bytes are served (same-origin, session cookie).
 * @param {number} id @param {{download?: boolean}} [options]
 */
export function attachmentUrl(id, { download = false } = {}) {
  return `/api/v1/attachments/${int(id, 'attachment id')}${download ? '?download=1' : ''}`;
}

/** Is this attachment shown inline (an image type the server serves as such)? @param {Attachment} a */
export function isInlineImage(a) {
  return INLINE_IMAGE_TYPES.includes(a.mime);
}

/** @param {unknown} value @param {string} [what] @returns {Thread} */
export function parseThread(value, what = 'thread') {
  const t = object(value, what);
  return Object.freeze({
    id: int(t.id, `${what}.id`),
    peer: str(t.peer, `${what}.peer`, 64),
    title: str(t.title ?? t.peer, `${what}.title`, 200),
    last_message: t.last_message == null ? null : parseMessage(t.last_message, `${what}.last_message`),
    last_activity: isoTime(t.last_activity, `${what}.last_activity`),
    unread: int(t.unread ?? 0, `${what}.unread`),
    seq: int(t.seq, `${what}.seq`),
    line_id: t.line_id == null ? null : int(t.line_id, `${what}.line_id`),
    line: t.line == null ? null : str(t.line, `${what}.line`, 64),
    archived: t.archived === true,
    deleted: t.deleted === true,
  });
}

/** @param {unknown} value @param {string} [what] @returns {Device} */
export function parseDevice(value, what = 'device') {
  const d = object(value, what);
  return Object.freeze({
    id: String(d.id),
    name: str(d.name ?? '', `${what}.name`, 200),
    online: d.online === true,
    last_seen: d.last_seen == null ? null : isoTime(d.last_seen, `${what}.last_seen`),
    signal_dbm: typeof d.signal_dbm === 'number' && Number.isFinite(d.signal_dbm) && Math.abs(d.signal_dbm) < 1000
      ? Math.round(d.signal_dbm) : null,
    operator: d.operator == null ? null : str(d.operator, `${what}.operator`, 100),
    lines: Object.freeze(list(d.lines ?? [], `${what}.lines`, (n, w) => str(n, w, 64))),
    // An unknown state from a newer bridge says nothing we can show: as if unreported.
    modem_state: MODEM_STATES.includes(d.modem_state) ? d.modem_state : null,
    importing: importCount(d.import_done) !== null && importCount(d.import_total) !== null
      && d.import_done <= d.import_total
      ? Object.freeze({ done: d.import_done, total: d.import_total }) : null,
  });
}

/** @param {unknown} n @returns {number|null} a count the server may send (else null) */
function importCount(n) {
  return Number.isSafeInteger(n) && n >= 0 && n <= 10_000_000 ? n : null;
}

/** @param {unknown} value @returns {CodeSend|null} */
export function parseCodeSend(value) {
  const r = object(value, 'response');
  if (r.code_send == null) return null;
  const c = object(r.code_send, 'code_send');
  if (!['sending', 'sent', 'failed'].includes(c.state)) throw new ProtocolError('code_send.state: unknown');
  return Object.freeze({
    state: c.state, error: c.error == null ? null : str(c.error, 'code_send.error', 64),
    at: isoTime(c.at, 'code_send.at'),
  });
}

/** @param {unknown} value @returns {Account} */
export function parseAccount(value) {
  const a = object(object(value, 'response').account, 'account');
  if (typeof a.id !== 'string' && typeof a.id !== 'number') throw new ProtocolError('account.id: missing');
  return Object.freeze({
    id: a.id, phone: str(a.phone, 'account.phone', 64), phone_verified: a.phone_verified === true,
    email: optStr(a.email, 'account.email'), display_name: optStr(a.display_name, 'account.display_name'),
  });
}

/** @param {unknown} value @param {string} what @returns {string|null} */
function optTime(value, what) {
  return value == null ? null : isoTime(value, what);
}

/** @param {unknown} value @returns {SessionInfo[]} */
export function parseSessionsResponse(value) {
  return list(object(value, 'response').sessions, 'sessions', (item, what) => {
    const s = object(item, what);
    return Object.freeze({
      id: str(s.id, `${what}.id`, 200), current: s.current === true,
      created_at: optTime(s.created_at, `${what}.created_at`),
      last_seen_at: optTime(s.last_seen_at, `${what}.last_seen_at`),
      user_agent: str(s.user_agent ?? '', `${what}.user_agent`), ip: optStr(s.ip, `${what}.ip`),
    });
  });
}

/** @param {unknown} value @returns {SecurityEvent[]} */
export function parseSecurityEventsResponse(value) {
  return list(object(value, 'response').events, 'events', (item, what) => {
    const e = object(item, what);
    return Object.freeze({
      id: int(e.id, `${what}.id`), kind: str(e.kind, `${what}.kind`, 64), at: isoTime(e.at, `${what}.at`),
      ip: optStr(e.ip, `${what}.ip`), user_agent: optStr(e.user_agent, `${what}.user_agent`),
    });
  });
}

/** @param {unknown} value @returns {PairingOffer} */
export function parsePairingOffer(value) {
  const p = object(value, 'response');
  return Object.freeze({
    code: str(p.code, 'code', 200), uri: str(p.uri, 'uri', 4000),
    qr_svg: str(p.qr_svg, 'qr_svg', 500_000), expires_at: isoTime(p.expires_at, 'expires_at'),
    line_id: p.line_id == null ? null : int(p.line_id, 'line_id'),
  });
}

/** @param {unknown} value @returns {Line[]} */
export function parseLinesResponse(value) {
  return list(object(value, 'response').lines, 'lines', (item, what) => {
    const l = object(item, what);
    return Object.freeze({
      id: int(l.id, `${what}.id`), number: str(l.number, `${what}.number`, 64),
      label: str(l.label ?? '', `${what}.label`, 200), verified: l.verified === true,
    });
  });
}

/** @param {unknown} value @returns {Contact[]} */
export function parseContactsResponse(value) {
  return list(object(value, 'response').contacts, 'contacts', (item, what) => {
    const c = object(item, what);
    return Object.freeze({
      id: int(c.id, `${what}.id`), name: str(c.name, `${what}.name`, 200),
      number: str(c.number, `${what}.number`, 64),
      line_id: c.line_id == null ? null : int(c.line_id, `${what}.line_id`),
    });
  });
}

/**
 * One page of search hits; `before` continues with older messages (null: all searched).
 * @param {unknown} value @returns {{messages: Message[], before: number|null}}
 */
export function parseSearchResponse(value) {
  const r = object(value, 'response');
  return {
    messages: list(r.messages, 'messages', parseMessage),
    // Older servers answer in one go and send no cursor.
    before: r.before === undefined || r.before === null ? null : int(r.before, 'before'),
  };
}

/**
 * `epoch`: the history `seq` belongs to (null from servers without epochs).
 * @param {unknown} value @returns {{threads: Thread[], seq: number, epoch: string|null}}
 */
export function parseThreadsResponse(value) {
  const r = object(value, 'response');
  return {
    threads: list(r.threads, 'threads', parseThread), seq: int(r.seq, 'seq'), epoch: parseEpoch(r.epoch),
  };
}

/** A cursor epoch, or null when the server sends none. @param {unknown} value @returns {string|null} */
export function parseEpoch(value) {
  return value == null ? null : str(value, 'epoch', 64);
}

/** @param {unknown} value @returns {{messages: Message[], has_more: boolean}} */
export function parseMessagesResponse(value) {
  const r = object(value, 'response');
  return { messages: list(r.messages, 'messages', parseMessage), has_more: r.has_more === true };
}

/** @param {unknown} value @returns {Message} */
export function parseSendResponse(value) {
  return parseMessage(object(value, 'response').message);
}

/** @param {unknown} value @returns {Device[]} */
export function parseDevicesResponse(value) {
  return list(object(value, 'response').devices, 'devices', parseDevice);
}
