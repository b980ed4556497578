/**
 * The browser's own copy of messages the server has not confirmed yet, in
 * IndexedDB, so a message typed while the server is down survives a reload and
 * goes out later under the same client_msg_id (the server keeps it single).
 *
 * One object store, keyed by client_msg_id; each record names the account it
 * belongs to, so another account signing in on this browser never sends it.
 * IndexedDB may be missing, blocked (private windows) or fail; then the outbox
 * still works for this page's life, only without the copy: every failure
 * degrades to "nothing stored", never to a lost send.
 *
 * @typedef {object} OutboxRecord
 * @property {string} client_msg_id
 * @property {string} account the account id, as a string
 * @property {string} peer
 * @property {number|null} line_id
 * @property {number|null} thread_id
 * @property {string} body
 * @property {string} timestamp ISO, when it was written
 * @property {'sending'|'waiting'|'failed'} status
 * @property {string|null} error
 * @property {boolean} retryable
 *
 * @typedef {object} OutboxDb
 * @property {(account: string) => Promise<OutboxRecord[]>} all oldest first
 * @property {(record: OutboxRecord) => Promise<void>} put
 * @property {(clientMsgId: string) => Promise<void>} delete
 * @property {(account: string) => Promise<void>} clear every record of one account
 */

const DB_NAME = 'ferry';
const DB_VERSION = 1;
const STORE = 'outbox';
/** Every reader has a limit: far more than anyone queues by hand. */
const MAX_RECORDS = 1000;

/**
 * @param {IDBFactory|null|undefined} [factory]
 * @returns {OutboxDb}
 */
export function openOutboxDb(factory = safeIndexedDb()) {
  /** @type {Promise<IDBDatabase|null>|null} */
  let opening = null;
  const db = () => {
    opening ??= open(factory);
    return opening;
  };
  return {
    async all(account) {
      const records = /** @type {OutboxRecord[]} */ (await run(await db(), 'readonly', (s) => s.getAll(null, MAX_RECORDS)) ?? []);
      return records.filter((r) => r && r.account === account).sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    },
    async put(record) {
      await run(await db(), 'readwrite', (s) => s.put(record));
    },
    async delete(clientMsgId) {
      await run(await db(), 'readwrite', (s) => s.delete(clientMsgId));
    },
    async clear(account) {
      const mine = await this.all(account);
      await Promise.all(mine.map((r) => this.delete(r.client_msg_id)));
    },
  };
}

/** For tests and for browsers without IndexedDB. @returns {OutboxDb} */
export function createMemoryOutboxDb() {
  /** @type {Map<string, OutboxRecord>} */
  const records = new Map();
  return {
    all: async (account) => [...records.values()].filter((r) => r.account === account)
      .sort((a, b) => a.timestamp.localeCompare(b.timestamp)).map((r) => structuredClone(r)),
    put: async (record) => void records.set(record.client_msg_id, structuredClone(record)),
    delete: async (id) => void records.delete(id),
    clear: async (account) => {
      for (const [id, r] of records) if (r.account === account) records.delete(id);
    },
  };
}

/** @param {IDBFactory|null|undefined} factory @returns {Promise<IDBDatabase|null>} */
function open(factory) {
  return new Promise((resolve) => {
    if (!factory) return resolve(null);
    let request;
    try {
      request = factory.open(DB_NAME, DB_VERSION);
    } catch {
      return resolve(null);
    }
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE)) {
        request.result.createObjectStore(STORE, { keyPath: 'client_msg_id' });
      }
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => resolve(null);
    request.onblocked = () => resolve(null);
  });
}

/**
 * One request in its own transaction; resolves with its result once the
 * transaction committed (so a put is on disk before we count on it).
 * @param {IDBDatabase|null} db @param {IDBTransactionMode} mode
 * @param {(store: IDBObjectStore) => IDBRequest} action
 * @returns {Promise<any>}
 */
function run(db, mode, action) {
  return new Promise((resolve) => {
    if (!db) return resolve(null);
    try {
      const tx = db.transaction(STORE, mode);
      const request = action(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => resolve(null);
      tx.onabort = () => resolve(null);
    } catch {
      resolve(null);
    }
  });
}

function safeIndexedDb() {
  try {
    return globalThis.indexedDB ?? null;
  } catch {
    return null;
  }
}
