/**
 * "Connected apps" and "Developer apps" (no DOM): the grants the user made, each app's
 * access log, revoking in one click; registering apps (a secret is shown once).
 */
export class AppsModel {
  /** @param {{http: {request: (method: string, path: string, body?: unknown) => Promise<any>}}} deps */
  constructor({ http }) {
    this.http = http;
    /** @type {Set<() => void>} */
    this.listeners = new Set();
    this.signedIn = true;
    /** @type {any[]} */
    this.grants = [];
    /** @type {Record<number, any[]>} */
    this.logs = {};
    /** @type {any[]} */
    this.clients = [];
    /** @type {{client_id: string, client_secret?: string}|null} */
    this.created = null;
    /** @type {string|null} */
    this.error = null;
    /** @type {string|null} */
    this.notice = null;
  }

  /** @param {() => void} fn */
  subscribe(fn) {
    this.listeners.add(fn);
  }

  #emit() {
    for (const fn of this.listeners) fn();
  }

  async load() {
    try {
      const [grants, clients] = await Promise.all([
        this.http.request('GET', '/api/v1/oauth/grants'),
        this.http.request('GET', '/api/v1/oauth/clients'),
      ]);
      this.grants = grants.grants;
      this.clients = clients.clients;
      this.signedIn = true;
    } catch (err) {
      this.#failed(err);
    }
    this.#emit();
  }

  /** @param {any} err */
  #failed(err) {
    if (err?.status === 401) this.signedIn = false;
    else this.error = err?.message ?? 'Something went wrong.';
  }

  /** @param {number} grantId */
  async showLog(grantId) {
    try {
      this.logs = { ...this.logs, [grantId]: (await this.http.request('GET', `/api/v1/oauth/grants/${grantId}/log`)).log };
    } catch (err) {
      this.#failed(err);
    }
    this.#emit();
  }

  /** Revoke in one click: the app's tokens stop and its live connections close. @param {number} grantId */
  async revoke(grantId) {
    this.error = null;
    try {
      await this.http.request('DELETE', `/api/v1/oauth/grants/${grantId}`);
      const gone = this.grants.find((g) => g.id === grantId);
      this.notice = `${gone?.app ?? 'The app'} can no longer use your account.`;
    } catch (err) {
      this.#failed(err);
    }
    await this.load();
  }

  /** @param {string} name @param {string[]} redirectUris @param {boolean} confidential */
  async register(name, redirectUris, confidential) {
    this.error = null;
    this.created = null;
    try {
      const answer = await this.http.request('POST', '/api/v1/oauth/clients', {
        name, redirect_uris: redirectUris, confidential,
      });
      this.created = answer.client;
    } catch (err) {
      this.#failed(err);
    }
    await this.load();
  }

  /** @param {number} id */
  async deleteClient(id) {
    try {
      await this.http.request('DELETE', `/api/v1/oauth/clients/${id}`);
    } catch (err) {
      this.#failed(err);
    }
    await this.load();
  }
}

/** "Read your conversations…, until 3 Dec 2026" style summaries. @param {string|null} iso */
export function untilWords(iso) {
  if (!iso) return 'Until you revoke it';
  return `Until ${new Date(iso).toLocaleString()}`;
}
