/** The line under the compose box: "GSM-7 · 12 left · 2 SMS". */
import { count } from '../protocol/sms.js';

/**
 * @param {string} text
 * @returns {{label: string, long: boolean}} empty label for empty text; long past one SMS
 */
export function smsCounter(text) {
  if (!text) return { label: '', long: false };
  const info = count(text);
  const encoding = info.encoding === 'gsm7' ? 'GSM-7' : 'Unicode';
  return {
    label: `${encoding} · ${info.remainingInPart} left · ${info.parts} SMS`,
    long: info.parts > 1,
  };
}
