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

/**
 * Live feedback on what is typed in a "To" field, checked on every keystroke.
 * Letters mean the person is looking a contact up by name: that is not an error.
 * @param {string} input
 * @returns {{state: 'empty'|'name'|'partial'|'valid'|'invalid', text: string}}
 */
export function checkRecipient(input) {
  const text = input.trim();
  if (!text) return { state: 'empty', text: 'Type a name, or a number with its country code, e.g. +1 555 010 0002' };
  if (/[^\d\s().+-]/.test(text)) return { state: 'name', text: 'Looking up contacts by name' };
  const digits = text.replace(/\D/g, '').length;
  if (text.lastIndexOf('+') > 0) return { state: 'invalid', text: 'Only a leading + is allowed in a phone number' };
  if (digits > 15) return { state: 'invalid', text: `Too long: a phone number has at most 15 digits (this has ${digits})` };
  const number = normalizePhone(text);
  // An international number is a country code and a subscriber number: 8 digits at least.
  if (!number || (number.startsWith('+') && digits < 8)) {
    return { state: 'partial', text: 'Keep typing: include the country code, e.g. +1 555 010 0002' };
  }
  return number.startsWith('+')
    ? { state: 'valid', text: `Will send to ${number}` }
    : { state: 'valid', text: `Will send to ${number} (no country code: the phone's own country applies)` };
}
