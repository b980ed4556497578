/**
 * SMS text rules for the compose box: which encoding a text needs and how many
 * SMS parts it takes. The same rules as protocol/sms.py on the server and the
 * bridge; both are checked against one table (tests/web/js/sms-segments.json).
 *
 * - GSM-7 when every character is in the GSM 03.38 default alphabet or its
 *   extension table, else UCS-2 (UTF-16: emoji outside the BMP cost two units).
 * - Extension characters (€ [ ] { } ~ ^ | \ and form feed) cost two septets.
 * - One SMS holds 160 septets / 70 units; longer text is cut into parts of
 *   153 / 67 (152 / 66 with a 16-bit concatenation reference).
 * - A cut never separates an ESC pair or a surrogate pair.
 *
 * No DOM; pure functions.
 */

/** @typedef {'gsm7'|'ucs2'} SmsEncoding */

/**
 * @typedef {object} SegmentInfo
 * @property {SmsEncoding} encoding
 * @property {number} units septets (gsm7) or UTF-16 units (ucs2) of the whole text
 * @property {number} parts SMS parts (1 for an empty text)
 * @property {number} remainingInPart units still free in the last part
 */

const MAX_USER_DATA = 140; // octets of user data in one SMS

/** Default alphabet, indexed by septet value; 0x1B (ESC) is not a character. */
const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅå' +
  'Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ' +
  ' !"#¤%&\'()*+,-./' +
  '0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNO' +
  'PQRSTUVWXYZÄÖÑÜ§' +
  '¿abcdefghijklmno' +
  'pqrstuvwxyzäöñüà';

/** Extension table characters (each sent as ESC + one septet). */
const GSM7_EXTENSION = '\f^{}\\[~]|€';

/** @type {Map<string, number>} septets per GSM-7 character */
const SEPTETS = new Map([
  ...[...GSM7_BASIC].filter((ch) => ch !== '\x1b').map((ch) => /** @type {[string, number]} */ ([ch, 1])),
  ...[...GSM7_EXTENSION].map((ch) => /** @type {[string, number]} */ ([ch, 2])),
]);

/**
 * @param {string} text
 * @returns {boolean} whether GSM-7 can carry every character of text
 */
export function isGsm7(text) {
  for (const ch of text) {
    if (!SEPTETS.has(ch)) return false;
  }
  return true;
}

/**
 * @param {SmsEncoding} encoding
 * @param {8|16} refBits
 * @returns {[number, number]} units in a single SMS, and in each part of a long one
 */
export function partLimits(encoding, refBits = 8) {
  if (refBits !== 8 && refBits !== 16) throw new RangeError('refBits must be 8 or 16');
  const room = MAX_USER_DATA - (refBits === 8 ? 6 : 7);
  if (encoding === 'gsm7') return [Math.floor((MAX_USER_DATA * 8) / 7), Math.floor((room * 8) / 7)];
  if (encoding === 'ucs2') return [MAX_USER_DATA / 2, Math.floor(room / 2)];
  throw new RangeError(`unknown encoding ${encoding}`);
}

/**
 * @param {string} ch one code point (a lone surrogate counts as one unit)
 * @param {SmsEncoding} encoding
 * @returns {number}
 */
function charUnits(ch, encoding) {
  if (encoding === 'ucs2') return ch.length; // 2 for a surrogate pair
  return /** @type {number} */ (SEPTETS.get(ch));
}

/**
 * Encoding, size and number of SMS parts of text, as a phone would send it.
 *
 * @param {string} text
 * @param {{refBits?: 8|16}} [options] concatenation reference size (default 8)
 * @returns {SegmentInfo}
 */
export function count(text, { refBits = 8 } = {}) {
  /** @type {SmsEncoding} */
  const encoding = isGsm7(text) ? 'gsm7' : 'ucs2';
  const [single, multi] = partLimits(encoding, refBits);
  let units = 0;
  let parts = 1;
  let used = 0;
  for (const ch of text) {
    const cost = charUnits(ch, encoding);
    units += cost;
    if (used + cost > multi) {
      parts += 1;
      used = 0;
    }
    used += cost;
  }
  if (units <= single) return Object.freeze({ encoding, units, parts: 1, remainingInPart: single - units });
  return Object.freeze({ encoding, units, parts, remainingInPart: multi - used });
}
