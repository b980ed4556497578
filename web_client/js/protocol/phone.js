/**
 * Loose, client-side tidying of phone numbers typed by a person. The server
 * owns the real E.164 validation; this only strips punctuation and rejects
 * input that is plainly not a number, so errors show before a round trip.
 */

/**
 * @param {string} input e.g. "+1 (555) 010-0002"
 * @returns {string|null} "+15550100002", or null when it cannot be a number
 */
export function normalizePhone(input) {
  const compact = input.trim().replace(/[\s().-]/g, '');
  return /^\+?[0-9]{3,15}$/.test(compact) ? compact : null;
}
