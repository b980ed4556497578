/**
 * Human time labels. Pure: "now" and the time zone are parameters, so the
 * same inputs give the same words in tests and in every browser.
 *
 * @typedef {{locale?: string, timeZone?: string}} TimeOptions
 */

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** @type {Map<string, Intl.DateTimeFormat>} */
const formatters = new Map();

/** @param {TimeOptions} opts @param {Intl.DateTimeFormatOptions} fields */
function formatter(opts, fields) {
  const key = JSON.stringify([opts.locale ?? '', opts.timeZone ?? '', fields]);
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(opts.locale, { ...fields, timeZone: opts.timeZone });
    formatters.set(key, f);
  }
  return f;
}

/**
 * Calendar day of an instant in the given zone, as "YYYY-MM-DD".
 * @param {string|number} when ISO string or epoch ms
 * @param {TimeOptions} [opts]
 */
export function dayKey(when, opts = {}) {
  const parts = formatter({ ...opts, locale: 'en-CA' }, { year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(new Date(when));
  const get = (/** @type {string} */ type) => parts.find((p) => p.type === type)?.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** Whole calendar days between two day keys (b − a). */
function daysBetween(/** @type {string} */ a, /** @type {string} */ b) {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / DAY);
}

/** @param {string|number} when @param {TimeOptions} [opts] */
export function clockTime(when, opts = {}) {
  return formatter(opts, { hour: 'numeric', minute: '2-digit' }).format(new Date(when));
}

/**
 * Heading for a day of messages: "Today", "Yesterday", a weekday within the
 * last week, else a date (with the year only when it is not this year).
 * @param {string|number} when @param {number} now epoch ms @param {TimeOptions} [opts]
 */
export function dayLabel(when, now, opts = {}) {
  const key = dayKey(when, opts);
  const today = dayKey(now, opts);
  const diff = daysBetween(key, today);
  if (diff === 0) return 'Today';
  if (diff === 1) return 'Yesterday';
  if (diff > 1 && diff < 7) return formatter(opts, { weekday: 'long' }).format(new Date(when));
  const sameYear = key.slice(0, 4) === today.slice(0, 4);
  const fields = sameYear
    ? { weekday: 'short', month: 'short', day: 'numeric' }
    : { month: 'short', day: 'numeric', year: 'numeric' };
  return formatter(opts, /** @type {Intl.DateTimeFormatOptions} */ (fields)).format(new Date(when));
}

/**
 * Compact label for the conversation list: "Now", "5 min", "3:42 PM", "Tue", "Mar 3", "3/3/23".
 * @param {string|number} when @param {number} now epoch ms @param {TimeOptions} [opts]
 */
export function relativeTime(when, now, opts = {}) {
  const t = new Date(when).getTime();
  const age = now - t;
  if (age < MINUTE) return 'Now';
  if (age < 60 * MINUTE) return `${Math.floor(age / MINUTE)} min`;
  const diff = daysBetween(dayKey(t, opts), dayKey(now, opts));
  if (diff === 0) return clockTime(t, opts);
  if (diff < 7) return formatter(opts, { weekday: 'short' }).format(new Date(t));
  if (dayKey(t, opts).slice(0, 4) === dayKey(now, opts).slice(0, 4)) {
    return formatter(opts, { month: 'short', day: 'numeric' }).format(new Date(t));
  }
  return formatter(opts, { year: '2-digit', month: 'numeric', day: 'numeric' }).format(new Date(t));
}

/**
 * Split messages (already oldest first) into runs of the same calendar day.
 * @template {{timestamp: string}} M
 * @param {M[]} messages @param {number} now @param {TimeOptions} [opts]
 * @returns {{key: string, label: string, messages: M[]}[]}
 */
export function groupByDay(messages, now, opts = {}) {
  /** @type {{key: string, label: string, messages: M[]}[]} */
  const groups = [];
  for (const message of messages) {
    const key = dayKey(message.timestamp, opts);
    const last = groups[groups.length - 1];
    if (last && last.key === key) last.messages.push(message);
    else groups.push({ key, label: dayLabel(message.timestamp, now, opts), messages: [message] });
  }
  return groups;
}

/**
 * "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago", else a date:
 * for presence ("last seen …"), where an age reads better than a clock time.
 * @param {string|number} when @param {number} now epoch ms @param {TimeOptions} [opts]
 */
export function timeAgo(when, now, opts = {}) {
  const t = new Date(when).getTime();
  const age = Math.max(0, now - t);
  if (age < MINUTE) return 'just now';
  if (age < 60 * MINUTE) return `${Math.floor(age / MINUTE)} min ago`;
  if (age < DAY) return `${Math.floor(age / (60 * MINUTE))} h ago`;
  const days = daysBetween(dayKey(t, opts), dayKey(now, opts));
  if (days <= 1) return 'yesterday';
  if (days < 7) return `${days} days ago`;
  return `on ${formatter(opts, { month: 'short', day: 'numeric', year: 'numeric' }).format(new Date(t))}`;
}
