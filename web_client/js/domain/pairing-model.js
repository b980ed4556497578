/**
 * Pairing a new bridge: ask the server for a one-time code, show it (QR,
 * typed form, URI) with a countdown to its expiry, and notice when a new
 * device shows up in the account's device list, which means pairing worked.
 *
 *   closed ──open()──▶ loading ──201──▶ showing ──expires──▶ expired ──open()──▶ loading
 *                                        └──new device──▶ paired
 */
import { userMessage } from './messages-text.js';
import { Observable } from './observable.js';

/** @typedef {'closed'|'loading'|'showing'|'expired'|'paired'|'error'} PairingState */

export class PairingModel extends Observable {
  /** @type {PairingState} */ state = 'closed';
  /** @type {import('../protocol/schema.js').PairingOffer|null} */ offer = null;
  /** @type {string|null} */ error = null;
  /** @type {string|null} */ pairedName = null;
  /** @type {Set<string>|null} device ids when the code was made */
  #known = null;
  /** @type {unknown} */ #timer = null;

  /**
   * @param {{api: import('./api.js').FerryApi, clock: import('../platform/clock.js').Clock}} deps
   */
  constructor({ api, clock }) {
    super();
    Object.assign(this, { api, clock });
  }

  /** @param {import('../protocol/schema.js').Device[]|null} devices held now */
  async open(devices) {
    this.#known = devices ? new Set(devices.map((d) => d.id)) : null;
    this.state = 'loading';
    this.error = null;
    this.pairedName = null;
    this.emitChange();
    try {
      this.offer = await this.api.pairingCode();
      if (this.state !== 'loading') return;
      this.state = 'showing';
      this.#tick();
    } catch (err) {
      if (this.state !== 'loading') return;
      this.state = 'error';
      this.error = userMessage(err, 'Couldn’t make a pairing code.', {
        rate_limited: 'Too many pairing codes this hour. Try again later.',
      });
    }
    this.emitChange();
  }

  close() {
    this.state = 'closed';
    this.offer = null;
    this.clock.clearTimeout(this.#timer);
    this.emitChange();
  }

  /** @param {import('../protocol/schema.js').Device[]|null} devices the current list */
  noticeDevices(devices) {
    if (this.state !== 'showing' || !devices) return;
    if (!this.#known) {
      this.#known = new Set(devices.map((d) => d.id));
      return;
    }
    const fresh = devices.find((d) => !this.#known?.has(d.id));
    if (!fresh) return;
    this.state = 'paired';
    this.pairedName = fresh.name || 'Your phone';
    this.offer = null;
    this.clock.clearTimeout(this.#timer);
    this.emitChange();
  }

  secondsLeft() {
    if (!this.offer) return 0;
    return Math.max(0, Math.ceil((Date.parse(this.offer.expires_at) - this.clock.now()) / 1000));
  }

  #tick() {
    this.clock.clearTimeout(this.#timer);
    if (this.state !== 'showing') return;
    if (this.secondsLeft() === 0) {
      this.state = 'expired';
      this.emitChange();
      return;
    }
    this.emitChange();
    this.#timer = this.clock.setTimeout(() => this.#tick(), 1000);
  }

  snapshot() {
    const offer = this.offer;
    return {
      state: this.state, error: this.error, pairedName: this.pairedName,
      code: offer?.code ?? '', uri: offer?.uri ?? '', serverUrl: offer ? serverOf(offer.uri) : '',
      qrSrc: offer ? svgDataUrl(offer.qr_svg) : '',
      secondsLeft: this.secondsLeft(),
    };
  }
}

/**
 * The server address a pairing link carries (`ferry-pair:v1?url=…`), for
 * the typed-code way; empty when the link has none.
 * @param {string} uri
 */
export function serverOf(uri) {
  const query = uri.indexOf('?');
  return query < 0 ? '' : new URLSearchParams(uri.slice(query + 1)).get('url') ?? '';
}

/** @type {Map<string, string>} one QR per offer; re-encoding every second would be waste */
const dataUrls = new Map();

/**
 * Server-made SVG as an image URL: an <img> never runs scripts in it, unlike
 * markup inserted into the page.
 * @param {string} svg
 */
export function svgDataUrl(svg) {
  let url = dataUrls.get(svg);
  if (!url) {
    const bytes = new TextEncoder().encode(svg);
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    url = `data:image/svg+xml;base64,${btoa(binary)}`;
    dataUrls.clear();
    dataUrls.set(svg, url);
  }
  return url;
}

/** @param {number} seconds @returns {string} "9:05" */
export function mmss(seconds) {
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}
