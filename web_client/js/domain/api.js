/**
 * Typed calls to the Ferry REST API. Responses are validated by the protocol
 * layer; failures surface as `ApiError` (from platform/http.js) or
 * `ProtocolError` when the server's answer has the wrong shape.
 */
import {
  parseAccount, parseDevicesResponse, parseMessagesResponse, parseSendResponse, parseThreadsResponse,
} from '../protocol/schema.js';

export const PAGE_SIZE = 50;

export class FerryApi {
  /** @param {{request: import('../platform/http.js').Request}} http */
  constructor(http) {
    this.http = http;
  }

  me() {
    return this.http.request('GET', '/api/v1/me').then(parseAccount);
  }

  /** @param {string} phone @param {string} password */
  signIn(phone, password) {
    return this.http.request('POST', '/api/v1/session', { phone, password }).then(parseAccount);
  }

  signOut() {
    return this.http.request('DELETE', '/api/v1/session');
  }

  threads() {
    return this.http.request('GET', '/api/v1/threads').then(parseThreadsResponse);
  }

  /** @param {number} threadId @param {number|null} [before] oldest message id already held */
  messages(threadId, before = null) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (before != null) query.set('before', String(before));
    return this.http
      .request('GET', `/api/v1/threads/${encodeURIComponent(threadId)}/messages?${query}`)
      .then(parseMessagesResponse);
  }

  /** @param {string} to @param {string} body @param {string} clientMsgId */
  send(to, body, clientMsgId) {
    return this.http
      .request('POST', '/api/v1/messages', { to, body, client_msg_id: clientMsgId })
      .then(parseSendResponse);
  }

  /** @param {number} threadId */
  markRead(threadId) {
    return this.http.request('POST', `/api/v1/threads/${encodeURIComponent(threadId)}/read`, {});
  }

  devices() {
    return this.http.request('GET', '/api/v1/devices').then(parseDevicesResponse);
  }
}
