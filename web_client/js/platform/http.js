/**
 * Fetch wrapper: one place that turns HTTP into "parsed JSON or ApiError".
 * Callers never look at status codes; they switch on `ApiError.code`.
 */

/** Refuse absurd bodies rather than parse them: every reader has a limit. */
const MAX_RESPONSE_CHARS = 8 * 1024 * 1024;

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the request never completed
   * @param {string} code machine-readable code from the server, or a client-side one
   * @param {string} [message]
   * @param {number|null} [retryAfter] seconds, from a 429's Retry-After header
   */
  constructor(status, code, message, retryAfter = null) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/**
 * @typedef {(method: string, path: string, body?: unknown, options?: {keepalive?: boolean}) => Promise<any>} Request
 */

/**
 * @param {{fetch?: typeof fetch, baseUrl?: string}} [options]
 * @returns {{request: Request}}
 */
export function createHttp({ fetch: fetchImpl = globalThis.fetch.bind(globalThis), baseUrl = '' } = {}) {
  async function request(method, path, body, { keepalive = false } = {}) {
    /** @type {RequestInit} */
    const init = {
      method,
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
      keepalive,
    };
    if (body !== undefined) {
      init.headers = { ...init.headers, 'Content-Type': 'application/json' };
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetchImpl(baseUrl + path, init);
    } catch (err) {
      throw new ApiError(0, 'network_error', 'Could not reach the server.');
    }
    return readResponse(response);
  }
  return { request };
}

/** @param {Response} response */
async function readResponse(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  if (text.length > MAX_RESPONSE_CHARS) {
    throw new ApiError(response.status, 'response_too_large', 'The server sent too much data.');
  }
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (response.ok) {
    if (text && data === null) throw new ApiError(response.status, 'bad_response', 'Unreadable response.');
    return data;
  }
  const error = data && typeof data === 'object' ? data.error : null;
  const code = error && typeof error.code === 'string' ? error.code : `http_${response.status}`;
  const message = error && typeof error.message === 'string' ? error.message : response.statusText;
  const retryAfter = Number.parseInt(response.headers.get('Retry-After') ?? '', 10);
  throw new ApiError(response.status, code, message, Number.isFinite(retryAfter) ? retryAfter : null);
}
