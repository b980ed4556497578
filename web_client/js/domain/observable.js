/** Minimal change notification: view models say "something changed", views re-read. */
export class Observable {
  /** @type {Set<() => void>} */
  #listeners = new Set();

  /** @param {() => void} listener @returns {() => void} unsubscribe */
  subscribe(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emitChange() {
    for (const listener of [...this.#listeners]) listener();
  }
}
