/**
 * Phone numbers, short codes and sender names as people type them. The server
 * (protocol/phone.py) owns the real judgement and spells every number in
 * E.164; this side follows the same rules closely enough to say, before a
 * round trip, what a To field will do:
 *
 *   has a letter      → a name: looks contacts up; a name cannot receive texts
 *   3-8 digits        → a short code, or a short number of the line's country
 *   + and digits      → an international number
 *   other digits      → a number as dialled on the chosen line (its country applies)
 *
 * The same cases are checked on both sides (tests/web/js/peer-addresses.json).
 */

/** Country calling codes of two digits (1 and 7 have one; every other has three). */
const TWO_DIGIT_CODES = new Set(('20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 '
  + '57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98').split(' '));
/** Never part of an address: controls, format characters, surrogates, private use, unassigned, line breaks. */
const BAD_CHARS = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;
const MAX_TEXT = 40;
const SHORT_CODE = /^[0-9]{3,8}$/;

/**
 * Tidy a full number typed by a person (sign-in, sign-up).
 * @param {string} input e.g. "+1 (555) 010-0002"
 * @returns {string|null} "+15550100002", or null when it cannot be a number
 */
export function normalizePhone(input) {
  const compact = input.trim().replace(/[\s().-]/g, '');
  return /^\+?[0-9]{3,15}$/.test(compact) ? compact : null;
}

/**
 * The country calling code of an E.164 number (ITU codes are prefix-free).
 * @param {string|null|undefined} e164 e.g. "+447700900001"
 * @returns {string|null} e.g. "44"
 */
export function callingCode(e164) {
  if (!e164 || !/^\+[1-9][0-9]{3,14}$/.test(e164)) return null;
  const digits = e164.slice(1);
  if (digits[0] === '1' || digits[0] === '7') return digits[0];
  return TWO_DIGIT_CODES.has(digits.slice(0, 2)) ? digits.slice(0, 2) : digits.slice(0, 3);
}

/**
 * Whether an address is a sender name (it has a letter): texts come from it,
 * none can go to it.
 * @param {string} peer
 */
export function isName(peer) {
  return /\p{L}/u.test(peer);
}

/**
 * Why a thread with this peer has no compose box, or null when replies work.
 * @param {string} peer
 * @returns {string|null}
 */
export function replyRefusal(peer) {
  return isName(peer)
    ? `You can't reply to ${peer}: it is a name, not a phone number, so it cannot receive texts.`
    : null;
}

/**
 * Live feedback on what is typed in a "To" field, checked on every keystroke,
 * for the line the text will leave from. Letters mean the person is looking a
 * contact up by name: that is not an error until they send.
 * @param {string} input
 * @param {string|null} [lineNumber] the sending line's own number (E.164)
 * @returns {{state: 'empty'|'name'|'partial'|'valid'|'invalid', text: string, to: string|null, refusal: string|null}}
 *   `to`: what to send when valid; `refusal`: the sentence shown if this is sent as it is
 */
export function checkRecipient(input, lineNumber = null) {
  const text = input.trim();
  const code = callingCode(lineNumber);
  const dialled = code ? `as dialled on your +${code} line` : 'as dialled on your phone';
  const result = (/** @type {any} */ state, /** @type {string} */ hint, to = null) => ({
    state, text: hint, to, refusal: to ? null : refusalFor(state, text),
  });
  if (!text) return result('empty', 'Type a name, a number as you would dial it on your phone, or a short code');
  if (BAD_CHARS.test(text)) return result('invalid', 'Only digits, spaces, ( ) - . / and a leading + belong in a number');
  if (isName(text)) return result('name', 'Looking up contacts by name');
  const value = asciiDigits(text.normalize('NFKC'));
  if (/[^0-9\s().\-/+]/.test(value)) return result('invalid', 'Only digits, spaces, ( ) - . / and a leading + belong in a number');
  if (value.lastIndexOf('+') > 0) return result('invalid', 'Only a leading + is allowed in a phone number');
  const digits = value.replace(/\D/g, '');
  const plus = value.startsWith('+');
  if (plus && digits.length > 15) {
    return result('invalid', `Too long: a phone number has at most 15 digits (this has ${digits.length})`);
  }
  if (value.length > MAX_TEXT || digits.length > 18) return result('invalid', `Too long for a phone number (${digits.length} digits)`);
  const to = (plus ? '+' : '') + digits;
  // An international number is a country code and a subscriber number: 8 digits at least.
  if (plus && digits.length < 8) return result('partial', 'Keep typing: a number with + needs its country code, e.g. +1 555 010 0002');
  if (plus) return result('valid', `Will send to ${to}`, to);
  if (SHORT_CODE.test(value.replace(/\s/g, ''))) {
    return result('valid', digits.length <= 6 ? `Will send to the short code ${to}` : `Will send to ${to} ${dialled}`, to);
  }
  if (digits.length < 7) return result('partial', `Keep typing: a number ${dialled}, or with its country code`);
  return result('valid', `Will send to ${to} ${dialled}`, to);
}

/**
 * @param {'empty'|'name'|'partial'|'invalid'} state
 * @param {string} text what was typed
 */
function refusalFor(state, text) {
  if (state === 'name') {
    const shown = text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
    return `“${shown}” is a name, not a number, and a name can't receive texts. Pick a contact from the list or type a phone number.`;
  }
  return 'Enter a phone number as you would dial it on your phone, or with its country code (for example +1 555 010 0002), or a short code.';
}

/** Digits of any script as ASCII (full-width ones are already folded by NFKC). @param {string} text */
function asciiDigits(text) {
  return text.replace(/\p{Nd}/gu, (ch) => {
    // Unicode decimal digits come in runs of ten from zero: count back to the run's zero.
    let cp = /** @type {number} */ (ch.codePointAt(0));
    let value = 0;
    while (value < 60 && /\p{Nd}/u.test(String.fromCodePoint(cp - 1))) {
      cp -= 1;
      value += 1;
    }
    return String(value % 10);
  });
}
