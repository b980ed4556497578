/**
 * REST calls of recipient consent, broadcasts, the terms and the sign-up rules
 * (server/api/consent.py, server/api/terms.py). Answers are checked for the
 * fields the views use; a wrong shape is a ProtocolError like elsewhere.
 */
import { ProtocolError } from '../protocol/errors.js';

/** @param {unknown} value @param {string} what */
function obj(value, what) {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ProtocolError(`${what}: not an object`);
  return /** @type {Record<string, any>} */ (value);
}

/** @param {unknown} value @param {string} what */
function list(value, what) {
  if (!Array.isArray(value)) throw new ProtocolError(`${what}: not a list`);
  return value;
}

/** @param {unknown} value @param {string} what */
function str(value, what) {
  if (typeof value !== 'string') throw new ProtocolError(`${what}: not text`);
  return value;
}

/** @typedef {{mode: 'open'|'invite'|'closed', countries: string[], terms_version: string}} SignupRules */
/** @typedef {{version: string, terms: string, privacy: string}} TermsTexts */
/** @typedef {{version: string, accepted_version: string|null, accepted_at: string|null, accepted: boolean, must_accept: boolean}} TermsStatus */
/** @typedef {{id: number, number: string, given_at: string, recorded_at: string, note: string}} ConsentRecord */
/** @typedef {{line_id: number, peer: string, keyword: string, at: string}} OptOut */
/** @typedef {{number: string, status: string, due_at: string, message_id: number|null, error: string|null}} BroadcastRecipient */
/** @typedef {{id: number, line_id: number, body: string, created_at: string, cancelled_at: string|null, counts: Record<string, number>, recipients: BroadcastRecipient[]}} Broadcast */

/** @param {unknown} raw @returns {Broadcast} */
function parseBroadcast(raw) {
  const b = obj(raw, 'broadcast');
  list(b.recipients, 'recipients').forEach((r) => {
    str(obj(r, 'recipient').number, 'recipient number');
    str(r.status, 'recipient status');
  });
  return /** @type {Broadcast} */ (b);
}

export class ConsentApi {
  /** @param {{request: import('../platform/http.js').Request}} http */
  constructor(http) {
    this.http = http;
  }

  /** @returns {Promise<SignupRules>} */
  async signupRules() {
    const r = obj(await this.http.request('GET', '/api/v1/signup'), 'signup rules');
    str(r.mode, 'mode');
    str(r.terms_version, 'terms version');
    return /** @type {SignupRules} */ (r);
  }

  /** @returns {Promise<TermsTexts>} */
  async terms() {
    const r = obj(await this.http.request('GET', '/api/v1/terms'), 'terms');
    str(r.terms, 'terms');
    str(r.privacy, 'privacy notice');
    return /** @type {TermsTexts} */ (r);
  }

  /** @returns {Promise<TermsStatus>} */
  async termsStatus() {
    return /** @type {TermsStatus} */ (obj(await this.http.request('GET', '/api/v1/me/terms'), 'terms status'));
  }

  /** @param {string} version the version the user read @returns {Promise<TermsStatus>} */
  async acceptTerms(version) {
    return /** @type {TermsStatus} */ (obj(await this.http.request('POST', '/api/v1/me/terms', { version }), 'terms status'));
  }

  /** @returns {Promise<OptOut[]>} */
  async optOuts() {
    return list(obj(await this.http.request('GET', '/api/v1/opt-outs'), 'opt-outs').opt_outs, 'opt-outs');
  }

  /** @returns {Promise<ConsentRecord[]>} */
  async consents() {
    return list(obj(await this.http.request('GET', '/api/v1/consents'), 'consents').consents, 'consents');
  }

  /** @param {string} number @param {string} note @param {string|null} givenAt ISO time, null: now */
  async recordConsent(number, note, givenAt) {
    const body = { number, note, ...(givenAt ? { given_at: givenAt } : {}) };
    return obj(obj(await this.http.request('POST', '/api/v1/consents', body), 'consent').consent, 'consent');
  }

  /** @param {number} id */
  withdrawConsent(id) {
    return this.http.request('DELETE', `/api/v1/consents/${encodeURIComponent(id)}`);
  }

  /** @returns {Promise<Broadcast[]>} */
  async broadcasts() {
    return list(obj(await this.http.request('GET', '/api/v1/broadcasts'), 'broadcasts').broadcasts, 'broadcasts')
      .map(parseBroadcast);
  }

  /** @param {string} body @param {string[]} numbers @param {string} clientId @returns {Promise<Broadcast>} */
  async createBroadcast(body, numbers, clientId) {
    const r = await this.http.request('POST', '/api/v1/broadcasts', { body, numbers, client_id: clientId });
    return parseBroadcast(obj(r, 'broadcast').broadcast);
  }

  /** @param {number} id @returns {Promise<Broadcast>} */
  async cancelBroadcast(id) {
    const r = await this.http.request('POST', `/api/v1/broadcasts/${encodeURIComponent(id)}/cancel`);
    return parseBroadcast(obj(r, 'broadcast').broadcast);
  }
}
