/**
 * document.cookie behind a tiny interface, so consent logic is testable with a
 * fake jar. Only the app's own, non-HttpOnly cookies are visible here.
 *
 * @typedef {object} CookieJar
 * @property {(name: string) => string|null} get
 * @property {(name: string, value: string, options: {maxAge: number}) => void} set
 */

/** @param {Document} [doc] @returns {CookieJar} */
export function createCookieJar(doc = globalThis.document) {
  return {
    get(name) {
      for (const part of doc.cookie.split(';')) {
        const [key, ...rest] = part.trim().split('=');
        if (key === name) return decodeURIComponent(rest.join('='));
      }
      return null;
    },
    set(name, value, { maxAge }) {
      const secure = globalThis.location?.protocol === 'https:' ? '; Secure' : '';
      doc.cookie = `${name}=${encodeURIComponent(value)}; Max-Age=${maxAge}; Path=/; SameSite=Lax${secure}`;
    },
  };
}
