/**
 * Small JSON key-value store over localStorage. Storage can be full, disabled
 * or blocked by privacy settings; losing a draft is better than breaking the app,
 * so every failure degrades to "nothing stored".
 *
 * @typedef {object} KeyValueStore
 * @property {(key: string) => any} get
 * @property {(key: string, value: unknown) => void} set
 * @property {(key: string) => void} remove
 */

const PREFIX = 'ferry:';

/**
 * @param {Storage | null} [backend]
 * @returns {KeyValueStore}
 */
export function createStorage(backend = safeLocalStorage()) {
  return {
    get(key) {
      try {
        const raw = backend?.getItem(PREFIX + key);
        return raw == null ? null : JSON.parse(raw);
      } catch {
        return null;
      }
    },
    set(key, value) {
      try {
        backend?.setItem(PREFIX + key, JSON.stringify(value));
      } catch {
        /* quota or privacy mode: drop silently */
      }
    },
    remove(key) {
      try {
        backend?.removeItem(PREFIX + key);
      } catch {
        /* see above */
      }
    },
  };
}

/** Per tab, kept across reloads (what a half-done form needs). @returns {KeyValueStore} */
export function createTabStorage() {
  let backend = null;
  try {
    backend = globalThis.sessionStorage ?? null;
  } catch {
    backend = null;
  }
  return createStorage(backend);
}

/** @returns {KeyValueStore} */
export function createMemoryStorage() {
  const map = new Map();
  return {
    get: (key) => (map.has(key) ? structuredClone(map.get(key)) : null),
    set: (key, value) => void map.set(key, structuredClone(value)),
    remove: (key) => void map.delete(key),
  };
}

function safeLocalStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}
