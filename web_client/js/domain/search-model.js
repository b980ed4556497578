/**
 * Message search: debounced queries (2 to 100 characters, as the server
 * wants), newest result set wins. The server searches for a bounded time per
 * request and returns a cursor when older messages remain: the model follows
 * it until a page of results is found (or a bound of requests), then offers to
 * search older messages. Also pure helpers that cut a snippet around
 * the first match and split it into matching / plain segments for the view.
 */
import { userMessage } from './messages-text.js';
import { Observable } from './observable.js';

export const MIN_QUERY = 2;
export const MAX_QUERY = 100;
/** Results gathered before the model stops and offers "Search older messages". */
export const PAGE = 50;
/** Requests one search follows on its own (each is a fraction of a second of server time). */
const MAX_ROUNDS = 40;

export class SearchModel extends Observable {
  query = '';
  active = false;
  busy = false;
  /** @type {import('../protocol/schema.js').Message[]} */ results = [];
  /** @type {string|null} */ error = null;
  /** the query the results answer */ answered = '';
  /** @type {number|null} where older, not yet searched messages start (null: none) */ more = null;
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
    Object.assign(this, { active: false, query: '', results: [], busy: false, error: null, answered: '', more: null });
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
      Object.assign(this, { results: [], busy: false, error: null, answered: '', more: null });
    } else {
      this.busy = true;
      this.more = null;
      this.#timer = this.clock.setTimeout(() => this.#run(q, generation), this.debounceMs);
    }
    this.emitChange();
  }

  /** Continue the answered search with older messages. */
  loadMore() {
    if (this.busy || this.more === null || !this.answered) return;
    this.busy = true;
    this.emitChange();
    this.#run(this.answered, this.#generation, this.more, this.results);
  }

  /**
   * @param {string} q @param {number} generation
   * @param {number|null} [before] @param {import('../protocol/schema.js').Message[]} [kept] results so far
   */
  async #run(q, generation, before = null, kept = []) {
    let results = kept;
    let cursor = before;
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const page = await this.api.search(q, cursor);
        if (generation !== this.#generation) return;
        results = results.concat(page.messages.filter((m) => !m.deleted));
        cursor = page.before;
        Object.assign(this, { results, error: null, answered: q, more: cursor });
        if (cursor === null || results.length >= kept.length + PAGE) break;
        this.emitChange(); // what is found so far shows while older messages are searched
      }
    } catch (err) {
      if (generation !== this.#generation) return;
      Object.assign(this, { results: kept, error: userMessage(err, 'Search failed.') });
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
