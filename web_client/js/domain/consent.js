/**
 * The cookie notice. Ferry's only other cookie is the session cookie, which is
 * essential and set by the server; the choice itself is kept for three months
 * in `accept_cookies` ("yes" or "no"). Until a choice exists the app sets no
 * other cookie.
 */
export const CONSENT_COOKIE = 'accept_cookies';
export const CONSENT_MAX_AGE = 7_776_000; // 90 days, in seconds

export class Consent {
  /** @param {import('../platform/cookies.js').CookieJar} jar */
  constructor(jar) {
    this.jar = jar;
  }

  /** Whether the notice should show. */
  get needed() {
    const value = this.jar.get(CONSENT_COOKIE);
    return value !== 'yes' && value !== 'no';
  }

  get accepted() {
    return this.jar.get(CONSENT_COOKIE) === 'yes';
  }

  /** @param {boolean} accept */
  record(accept) {
    this.jar.set(CONSENT_COOKIE, accept ? 'yes' : 'no', { maxAge: CONSENT_MAX_AGE });
  }
}
