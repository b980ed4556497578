/**
 * The conversation list as the user sees it: newest activity first, with a
 * preview line and a compact time. Pure derivation from the store.
 */
import { INLINE_IMAGE_TYPES } from './attachments.js';
import { relativeTime } from './time.js';

/**
 * @typedef {object} ConversationItem
 * @property {number} id
 * @property {string} title
 * @property {string} peer
 * @property {string} preview
 * @property {boolean} previewFromMe
 * @property {string} time compact label, e.g. "5 min"
 * @property {string} timestamp ISO, for a machine-readable <time>
 * @property {number} unread
 * @property {boolean} archived
 * @property {string|null} line label of the thread's line, when the account has several
 */

/**
 * @param {Iterable<import('../protocol/schema.js').Thread>} threads
 * @param {number} now epoch ms
 * @param {import('./time.js').TimeOptions} [timeOptions]
 * @param {Map<number, string>|null} [lineLabels] line id → label; null hides line labels
 * @returns {ConversationItem[]}
 */
export function conversationItems(threads, now, timeOptions = {}, lineLabels = null) {
  return [...threads]
    .sort((a, b) => Date.parse(b.last_activity) - Date.parse(a.last_activity) || b.id - a.id)
    .map((t) => ({
      id: t.id,
      title: t.title || t.peer,
      peer: t.peer,
      preview: t.last_message?.refused ? 'A message could not be stored'
        : previewText(t.last_message?.body || attachmentsPreview(t.last_message)),
      previewFromMe: t.last_message?.direction === 'out',
      time: relativeTime(t.last_activity, now, timeOptions),
      timestamp: t.last_activity,
      unread: t.unread,
      archived: t.archived,
      line: lineLabels && t.line_id !== null ? lineLabels.get(t.line_id) ?? t.line : null,
    }));
}

/** A message with pictures or files and no text. @param {import('../protocol/schema.js').Message|null} m */
function attachmentsPreview(m) {
  const items = m?.attachments ?? [];
  if (items.length === 0) return '';
  const images = items.every((a) => INLINE_IMAGE_TYPES.includes(a.mime));
  if (items.length === 1) return images ? 'Photo' : items[0].name || 'Attachment';
  return images ? `${items.length} photos` : `${items.length} attachments`;
}

/** One line, trimmed: newlines and runs of spaces would break the row layout. */
export function previewText(/** @type {string} */ body) {
  const line = body.replace(/\s+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

/** @param {Iterable<import('../protocol/schema.js').Thread>} threads */
export function totalUnread(threads) {
  let total = 0;
  for (const t of threads) total += t.unread;
  return total;
}
