/**
 * Who replied STOP, per line (server/storage/optouts.py), so the open
 * conversation can say so above the message box before the user types. The
 * server refuses such sends anyway (409 recipient_opted_out); this only tells
 * sooner. Refreshed when a conversation opens and when a new message arrives in
 * it (a STOP or a START may be that message).
 */
import { Observable } from './observable.js';

export class OptOutModel extends Observable {
  /** @type {Map<string, import('./consent-api.js').OptOut>} */ #byKey = new Map();
  /** @type {string|null} */ #seen = null;

  /** @param {{api: import('./consent-api.js').ConsentApi}} deps */
  constructor({ api }) {
    super();
    this.api = api;
  }

  /** Refresh once per new `key` (the open thread and its last message). @param {string} key */
  follow(key) {
    if (key === this.#seen) return;
    this.#seen = key;
    this.refresh();
  }

  async refresh() {
    try {
      const found = await this.api.optOuts();
      this.#byKey = new Map(found.map((o) => [`${o.line_id} ${o.peer}`, o]));
    } catch {
      return; // keep what was known; the server still refuses the send
    }
    this.emitChange();
  }

  reset() {
    this.#byKey = new Map();
    this.#seen = null;
  }

  /** The sentence for a conversation with `peer` on line `lineId`, or null. @param {number|null} lineId @param {string} peer */
  sentence(lineId, peer) {
    const o = lineId === null ? undefined : this.#byKey.get(`${lineId} ${peer}`);
    return o ? `${o.peer} replied ${o.keyword} on this line; Ferry will not text them until they send START.` : null;
  }
}
