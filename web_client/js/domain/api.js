/**
 * Typed calls to the Ferry REST API (the contract is server/api/openapi.py).
 * Responses are validated by the protocol layer; failures surface as
 * `ApiError` (from platform/http.js) or `ProtocolError` when the server's
 * answer has the wrong shape.
 */
import {
  parseAccount, parseCodeSend, parseContactsResponse, parseDevice, parseDevicesResponse, parseLinesResponse,
  parseMessagesResponse, parsePairingOffer, parseSearchResponse, parseSecurityEventsResponse,
  parseSendResponse, parseSessionsResponse, parseThreadsResponse, object,
} from '../protocol/schema.js';
import { parseAccessHistory, parsePrivacy } from '../protocol/privacy.js';

export const PAGE_SIZE = 50;

/** @param {string|number} id */
const seg = (id) => encodeURIComponent(id);

export class FerryApi {
  /** @param {{request: import('../platform/http.js').Request}} http */
  constructor(http) {
    this.http = http;
  }

  // ---- account --------------------------------------------------------------

  me() {
    return this.http.request('GET', '/api/v1/me').then(parseAccount);
  }

  /** The account, and (while unverified) how the last code send went. */
  verificationStatus() {
    return this.http.request('GET', '/api/v1/me').then((r) => ({ account: parseAccount(r), codeSend: parseCodeSend(r) }));
  }

  /** @param {string} phone @param {string} password */
  signIn(phone, password) {
    return this.http.request('POST', '/api/v1/session', { phone, password }).then(parseAccount);
  }

  signOut() {
    return this.http.request('DELETE', '/api/v1/session');
  }

  /**
   * 202 whatever the number; the code goes out by SMS.
   * @param {string} phone @param {string} password
   * @param {{accept_terms?: string|null, invite?: string|null}} [extra] the terms version accepted, an invite code
   */
  signUp(phone, password, extra = {}) {
    const { accept_terms: terms = null, invite = null } = extra;
    return this.http.request('POST', '/api/v1/accounts',
      { phone, password, ...(terms ? { accept_terms: terms } : {}), ...(invite ? { invite } : {}) });
  }

  /** @param {string} code six digits */
  verifyPhone(code) {
    return this.http.request('POST', '/api/v1/me/phone/verify', { code }).then(parseAccount);
  }

  /** Resolves once the SMS gateway accepted the code; rejects with sms_unavailable / sms_refused otherwise. */
  resendCode() {
    return this.http.request('POST', '/api/v1/me/phone/code', {});
  }

  /** @param {string} phone */
  requestReset(phone) {
    return this.http.request('POST', '/api/v1/password-reset', { phone });
  }

  /** Signs this browser in on success. @param {string} phone @param {string} code @param {string} password */
  confirmReset(phone, code, password) {
    return this.http.request('POST', '/api/v1/password-reset/confirm', { phone, code, password }).then(parseAccount);
  }

  /** @param {{email?: string|null, display_name?: string|null}} profile */
  updateProfile(profile) {
    return this.http.request('PATCH', '/api/v1/me', profile).then(parseAccount);
  }

  /** @param {string} currentPassword @param {string} newPassword */
  changePassword(currentPassword, newPassword) {
    return this.http.request('POST', '/api/v1/me/password',
      { current_password: currentPassword, new_password: newPassword });
  }

  sessions() {
    return this.http.request('GET', '/api/v1/me/sessions').then(parseSessionsResponse);
  }

  /** @param {string} id */
  revokeSession(id) {
    return this.http.request('DELETE', `/api/v1/me/sessions/${seg(id)}`);
  }

  revokeOtherSessions() {
    return this.http.request('DELETE', '/api/v1/me/sessions');
  }

  securityEvents(limit = 50) {
    return this.http.request('GET', `/api/v1/me/security-events?limit=${limit}`).then(parseSecurityEventsResponse);
  }

  // ---- privacy ---------------------------------------------------------------

  /** What Ferry stores about the account, and its privacy settings. */
  privacy() {
    return this.http.request('GET', '/api/v1/me/privacy').then(parsePrivacy);
  }

  /**
   * @param {{mask_sent?: boolean, retention_days?: number|null, troubleshoot_hours?: number}} changes
   */
  updatePrivacy(changes) {
    return this.http.request('PATCH', '/api/v1/me/privacy', changes).then(parsePrivacy);
  }

  /** Every look of an operator into the account, newest first. */
  accessHistory() {
    return this.http.request('GET', '/api/v1/me/access-history').then(parseAccessHistory);
  }

  /** Destroy one message's content for good. @param {number} messageId */
  maskMessage(messageId) {
    return this.http.request('POST', `/api/v1/messages/${seg(messageId)}/mask`, {});
  }

  /** Destroy the content of every message of a conversation for good. @param {number} threadId */
  maskThread(threadId) {
    return this.http.request('POST', `/api/v1/threads/${seg(threadId)}/mask`, {});
  }

  /** Delete the account for good (its password confirms it). @param {string} password */
  deleteAccount(password) {
    return this.http.request('POST', '/api/v1/me/delete', { password });
  }

  // ---- conversations --------------------------------------------------------

  threads() {
    return this.http.request('GET', '/api/v1/threads').then(parseThreadsResponse);
  }

  /** @param {number} threadId @param {number|null} [before] oldest message id already held */
  messages(threadId, before = null) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (before != null) query.set('before', String(before));
    return this.http
      .request('GET', `/api/v1/threads/${seg(threadId)}/messages?${query}`)
      .then(parseMessagesResponse);
  }

  /**
   * @param {string} to @param {string} body @param {string} clientMsgId
   * @param {number|null} [lineId] the line to send from; the server picks the first verified one
   */
  send(to, body, clientMsgId, lineId = null) {
    /** @type {Record<string, unknown>} */
    const payload = { to, body, client_msg_id: clientMsgId };
    if (lineId != null) payload.line_id = lineId;
    return this.http.request('POST', '/api/v1/messages', payload).then(parseSendResponse);
  }

  /** @param {number} threadId */
  markRead(threadId) {
    return this.http.request('POST', `/api/v1/threads/${seg(threadId)}/read`, {});
  }

  /** @param {number} threadId @param {{read?: boolean, archived?: boolean}} flags */
  updateThread(threadId, flags) {
    return this.http.request('PATCH', `/api/v1/threads/${seg(threadId)}`, flags);
  }

  /** @param {number} threadId @param {{keepalive?: boolean}} [options] */
  deleteThread(threadId, options = {}) {
    return this.http.request('DELETE', `/api/v1/threads/${seg(threadId)}`, undefined, options);
  }

  /** @param {string} q 2 to 100 characters @param {number|null} [before] continue below this cursor */
  search(q, before = null) {
    const params = new URLSearchParams({ q, limit: '50' });
    if (before !== null) params.set('before', String(before));
    return this.http.request('GET', `/api/v1/search?${params}`).then(parseSearchResponse);
  }

  lines() {
    return this.http.request('GET', '/api/v1/lines').then(parseLinesResponse);
  }

  contacts() {
    return this.http.request('GET', '/api/v1/contacts').then(parseContactsResponse);
  }

  // ---- bridges --------------------------------------------------------------

  devices() {
    return this.http.request('GET', '/api/v1/devices').then(parseDevicesResponse);
  }

  /** @param {string} id @param {string} name */
  renameDevice(id, name) {
    // The server answers {"device": …}; accept a bare Device too.
    return this.http.request('PATCH', `/api/v1/devices/${seg(id)}`, { name })
      .then((r) => parseDevice(object(r, 'response').device ?? r));
  }

  /** @param {string} id */
  revokeDevice(id) {
    return this.http.request('DELETE', `/api/v1/devices/${seg(id)}`);
  }

  /** @param {string|null} [number] the phone's own number, when not the account's */
  pairingCode(number = null) {
    return this.http.request('POST', '/api/v1/pairing-codes', number ? { number } : {}).then(parsePairingOffer);
  }

  // ---- lines (the account's numbers) -------------------------------------------

  /** @param {number} id @param {string} label */
  labelLine(id, label) {
    return this.http.request('PATCH', `/api/v1/lines/${seg(id)}`, { label });
  }

  /** Texts a code to the line's number; resolves once the SMS gateway took it. @param {number} id */
  sendLineCode(id) {
    return this.http.request('POST', `/api/v1/lines/${seg(id)}/code`, {});
  }

  /** @param {number} id @param {string} code six digits */
  verifyLine(id, code) {
    return this.http.request('POST', `/api/v1/lines/${seg(id)}/verify`, { code });
  }
}
