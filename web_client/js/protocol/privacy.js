/**
 * The privacy endpoints' answers (server/api/privacy.py), checked like every other
 * answer: a wrong shape is a ProtocolError, never half-shown data.
 */
import { int, list, object, str } from './schema.js';
import { ProtocolError } from './errors.js';

/**
 * @typedef {object} PrivacySettings
 * @property {boolean} mask_sent mask every SMS once the phone reports it sent
 * @property {number|null} retention_days delete messages older than this; null keeps them
 * @property {string|null} troubleshoot_until operators may read message contents until then
 */

/**
 * @typedef {object} Privacy
 * @property {PrivacySettings} settings
 * @property {Record<string, number>} stored counts and bytes Ferry holds for the account
 * @property {{access_log_days: number, tombstone_days: number, max_retention_days: number,
 *   max_troubleshoot_hours: number}} server what the server keeps, and the limits
 */

/** @typedef {{id: number, at: string, operator: string, action: string, reason: string}} StaffAccess */

export const STORED_KEYS = Object.freeze([
  'messages', 'masked', 'deleted', 'threads', 'contacts', 'attachments', 'attachment_bytes', 'body_bytes',
  'lines', 'devices', 'sessions', 'security_events',
]);

/** @param {unknown} value @param {string} what @returns {string|null} */
function optTime(value, what) {
  if (value == null) return null;
  const text = str(value, what, 64);
  if (Number.isNaN(Date.parse(text))) throw new ProtocolError(`${what}: not a timestamp`);
  return text;
}

/** @param {unknown} value @returns {Privacy} */
export function parsePrivacy(value) {
  const r = object(value, 'privacy');
  const s = object(r.settings, 'privacy.settings');
  const stored = object(r.stored, 'privacy.stored');
  const server = object(r.server, 'privacy.server');
  return Object.freeze({
    settings: Object.freeze({
      mask_sent: s.mask_sent === true,
      retention_days: s.retention_days == null ? null : int(s.retention_days, 'privacy.settings.retention_days'),
      troubleshoot_until: optTime(s.troubleshoot_until, 'privacy.settings.troubleshoot_until'),
    }),
    stored: Object.freeze(Object.fromEntries(STORED_KEYS.map((k) => [k, int(stored[k], `privacy.stored.${k}`)]))),
    server: Object.freeze({
      access_log_days: int(server.access_log_days, 'privacy.server.access_log_days'),
      tombstone_days: int(server.tombstone_days, 'privacy.server.tombstone_days'),
      max_retention_days: int(server.max_retention_days, 'privacy.server.max_retention_days'),
      max_troubleshoot_hours: int(server.max_troubleshoot_hours, 'privacy.server.max_troubleshoot_hours'),
    }),
  });
}

/** @param {unknown} value @returns {StaffAccess[]} */
export function parseAccessHistory(value) {
  return list(object(value, 'response').accesses, 'accesses', (item, what) => {
    const a = object(item, what);
    return Object.freeze({
      id: int(a.id, `${what}.id`),
      at: /** @type {string} */ (optTime(a.at, `${what}.at`)),
      operator: str(a.operator, `${what}.operator`, 64),
      action: str(a.action, `${what}.action`, 32),
      reason: str(a.reason, `${what}.reason`, 500),
    });
  });
}
