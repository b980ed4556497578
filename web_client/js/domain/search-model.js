/**
 * Message search: debounced queries (2 to 100 characters, as the server
 * wants), newest result set wins, and pure helpers that cut a snippet around
 * the first match and split it into matching / plain segments for the view.
 */
import { userMessage } from './messages-text.js';
import { Observable } from './observable.js';

export const MIN_QUERY = 2;
export const MAX_QUERY = 100;

export class SearchModel extends Observable {
  query = '';
  active = false;
  busy = false;
  /** @type {import('../protocol/schema.js').Message[]} */ results = [];
  /** @type {string|null} */ error = null;
  /** the query the results answer */ answered = '';
  #generation = 0;
  /** @type {unknown} */ #timer = null;

  /**
   * @param {{api: import('./api.js').FerryApi, clock: import('../platform/clock.js').Clock, debounceMs?: number}} deps
   */
  constructor({ api, clock, debounceMs = 250 }) {
    super();
    Object.assign(this, { api, clock, debounceMs });
  }

  open() {
    if (this.active) return;
    this.active = true;
    this.emitChange();
  }

  close() {
    this.#generation++;
    this.clock.clearTimeout(this.#timer);
    Object.assign(this, { active: false, query: '', results: [], busy: false, error: null, answered: '' });
    this.emitChange();
  }

  /** @param {string} text */
  setQuery(text) {
    this.query = text;
    this.active = true;
    const q = text.trim().slice(0, MAX_QUERY);
    const generation = ++this.#generation;
    this.clock.clearTimeout(this.#timer);
    if (q.length < MIN_QUERY) {
      Object.assign(this, { results: [], busy: false, error: null, answered: '' });
    } else {
      this.busy = true;
      this.#timer = this.clock.setTimeout(() => this.#run(q, generation), this.debounceMs);
    }
    this.emitChange();
  }

  /** @param {string} q @param {number} generation */
  async #run(q, generation) {
    try {
      const results = await this.api.search(q);
      if (generation !== this.#generation) return;
      Object.assign(this, { results: results.filter((m) => !m.deleted), error: null, answered: q });
    } catch (err) {
      if (generation !== this.#generation) return;
      Object.assign(this, { results: [], error: userMessage(err, 'Search failed.') });
    }
    this.busy = false;
    this.emitChange();
  }
}

/**
 * Split text into segments, marking every case-insensitive occurrence of query.
 * @param {string} text @param {string} query
 * @returns {{text: string, match: boolean}[]}
 */
export function highlight(text, query) {
  const q = query.trim();
  if (!q) return [{ text, match: false }];
  const pattern = new RegExp(q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'giu');
  /** @type {{text: string, match: boolean}[]} */
  const out = [];
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    const at = /** @type {number} */ (m.index);
    if (at > last) out.push({ text: text.slice(last, at), match: false });
    out.push({ text: m[0], match: true });
    last = at + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last), match: false });
  return out;
}

/**
 * One line of text around the first match: long bodies are cut with "…" so the
 * match is always in view.
 * @param {string} body @param {string} query @param {number} [before] characters kept before the match
 */
export function snippet(body, query, before = 12) {
  const line = body.replace(/\s+/g, ' ').trim();
  const at = line.toLowerCase().indexOf(query.trim().toLowerCase());
  if (at <= before) return line;
  let start = line.lastIndexOf(' ', at - before);
  if (start < 0 || at - start > before + 8) start = at - before;
  return `…${line.slice(start).trimStart()}`;
}
