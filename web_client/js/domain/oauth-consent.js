/**
 * The consent screen's model (no DOM): which app asks, for what, and what the user
 * ticks. What is sent never exceeds what is ticked; the server checks the same again.
 *
 * Screens: loading → signin (no session) | unverified (number not verified)
 *          | gone (request expired or answered) | ready → sending → (the browser leaves)
 */

/** Plain words for each duration the server offers. */
export const DURATION_WORDS = Object.freeze({
  '1h': '1 hour',
  '1d': '1 day',
  '30d': '30 days',
  forever: 'Until I revoke it',
});

export class ConsentModel {
  /**
   * @param {{http: {request: (method: string, path: string, body?: unknown) => Promise<any>},
   *   handle: string, navigate: (url: string) => void}} deps
   */
  constructor({ http, handle, navigate }) {
    this.http = http;
    this.handle = handle;
    this.navigate = navigate;
    /** @type {Set<() => void>} */
    this.listeners = new Set();
    this.screen = 'loading';
    /** @type {any} */
    this.request = null;
    /** @type {Set<string>} */
    this.ticked = new Set();
    this.limited = false;
    /** @type {Set<number>} */
    this.chosen = new Set();
    this.duration = '30d';
    /** @type {string|null} */
    this.error = null;
  }

  /** @param {() => void} fn */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  #emit() {
    for (const fn of this.listeners) fn();
  }

  #path() {
    return `/api/v1/oauth/requests/${encodeURIComponent(this.handle)}`;
  }

  async start() {
    this.screen = 'loading';
    this.#emit();
    try {
      const me = await this.http.request('GET', '/api/v1/me');
      if (!me.account.phone_verified) {
        this.screen = 'unverified';
      } else {
        this.request = await this.http.request('GET', this.#path());
        this.ticked = new Set(this.request.scopes.map((/** @type {any} */ s) => s.scope));
        this.screen = 'ready';
      }
    } catch (err) {
      this.#failed(err);
    }
    this.#emit();
  }

  /** @param {any} err */
  #failed(err) {
    if (err?.status === 401) this.screen = 'signin';
    else if (err?.code === 'phone_unverified') this.screen = 'unverified';
    else if (err?.status === 404) this.screen = 'gone';
    else {
      this.screen = this.request ? 'ready' : 'error';
      this.error = err?.message ?? 'Something went wrong.';
    }
  }

  /** @param {string} phone @param {string} password */
  async signIn(phone, password) {
    this.error = null;
    try {
      await this.http.request('POST', '/api/v1/session', { phone, password });
    } catch (err) {
      this.error = /** @type {any} */ (err)?.message ?? 'Could not sign in.';
      this.#emit();
      return;
    }
    await this.start();
  }

  /** @param {string} scope @param {boolean} on */
  tickScope(scope, on) {
    if (on) this.ticked.add(scope);
    else this.ticked.delete(scope);
    this.#emit();
  }

  /** @param {boolean} on */
  limitConversations(on) {
    this.limited = on;
    this.#emit();
  }

  /** @param {number} id @param {boolean} on */
  chooseConversation(id, on) {
    if (on) this.chosen.add(id);
    else this.chosen.delete(id);
    this.#emit();
  }

  /** @param {string} duration a key of DURATION_WORDS */
  setDuration(duration) {
    if (duration in DURATION_WORDS) this.duration = duration;
    this.#emit();
  }

  /** Can the user allow as ticked? At least one permission, and a conversation if limited. */
  get canAllow() {
    return this.screen === 'ready' && this.ticked.size > 0 && (!this.limited || this.chosen.size > 0);
  }

  /** What "Allow" sends: only what was asked and ticked, in the server's order. */
  decision() {
    const asked = (this.request?.scopes ?? []).map((/** @type {any} */ s) => s.scope);
    return {
      decision: 'allow',
      scopes: asked.filter((/** @type {string} */ s) => this.ticked.has(s)),
      conversations: this.limited ? [...this.chosen].sort((a, b) => a - b) : null,
      duration: this.duration,
    };
  }

  async allow() {
    if (this.canAllow) await this.#decide(this.decision());
  }

  async deny() {
    await this.#decide({ decision: 'deny' });
  }

  /** @param {object} body */
  async #decide(body) {
    this.screen = 'sending';
    this.error = null;
    this.#emit();
    try {
      const answer = await this.http.request('POST', this.#path(), body);
      this.navigate(answer.redirect_to);
    } catch (err) {
      this.#failed(err);
      this.#emit();
    }
  }
}
