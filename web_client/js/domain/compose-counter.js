/**
 * The line under the compose box: "GSM-7 · 12 left · 2 SMS", or, past the
 * server's limit, how far past it the text is. Nothing typed is ever cut:
 * the user decides what to remove.
 */
import { count } from '../protocol/sms.js';

/**
 * The server's limit (server/api/conversations.py MAX_BODY_CHARS): ten
 * concatenated SMS. Counted in code points, as the server (Python) counts.
 */
export const MAX_MESSAGE_CHARS = 1600;

/** @param {string} text @returns {number} characters as the server counts them */
export function messageLength(text) {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * @param {string} text
 * @returns {{label: string, long: boolean, over: number}} empty label for empty text;
 *   long past one SMS; over: characters beyond the limit (0 when it fits)
 */
export function smsCounter(text) {
  if (!text) return { label: '', long: false, over: 0 };
  const over = messageLength(text) - MAX_MESSAGE_CHARS;
  if (over > 0) {
    const n = over.toLocaleString('en-US');
    return {
      label: `${n} ${over === 1 ? 'character' : 'characters'} over the limit of ${MAX_MESSAGE_CHARS.toLocaleString('en-US')}. `
        + 'Shorten the message to send it.',
      long: true,
      over,
    };
  }
  const info = count(text);
  const encoding = info.encoding === 'gsm7' ? 'GSM-7' : 'Unicode';
  return {
    label: `${encoding} · ${info.remainingInPart} left · ${info.parts} SMS`,
    long: info.parts > 1,
    over: 0,
  };
}
